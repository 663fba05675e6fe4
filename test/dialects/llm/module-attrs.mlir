// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK: module attributes {llm.model = #llm.model<family = "llama", vocab_size = 32, hidden_size = 16, num_layers = 1, max_position_embeddings = 2048, dtype = bf16>}
module attributes {llm.model = #llm.model<family = "llama", vocab_size = 32, hidden_size = 16, num_layers = 1, max_position_embeddings = 2048, dtype = bf16>} {
  // CHECK: func.func @prefill() attributes {llm.step = #llm.step<prefill>}
  func.func @prefill() attributes {llm.step = #llm.step<prefill>} {
    return
  }
  // CHECK: func.func @decode() attributes {llm.step = #llm.step<decode>}
  func.func @decode() attributes {llm.step = #llm.step<decode>} {
    return
  }
}
