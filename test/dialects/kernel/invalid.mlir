// RUN: llmc-opt %s --split-input-file --verify-diagnostics

func.func @empty_name(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{'kernel.launch' op needs a non-empty name}}
  kernel.launch ""(%x) : (tensor<?x4xf32>) -> () {
  ^bb0(%a: tensor<?x4xf32>):
  }
  return
}

// -----

func.func @arg_count(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{'kernel.launch' op body has 0 arguments for 1 operands}}
  kernel.launch "k"(%x) : (tensor<?x4xf32>) -> () {
  ^bb0:
  }
  return
}

// -----

func.func @arg_type(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{'kernel.launch' op body argument 0 has type 'tensor<?x8xf32>', operand has 'tensor<?x4xf32>'}}
  kernel.launch "k"(%x) : (tensor<?x4xf32>) -> () {
  ^bb0(%a: tensor<?x8xf32>):
  }
  return
}

// -----

func.func @yield_types(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'kernel.launch' op yields 0 values whose types differ from its results}}
  %r = kernel.launch "k"(%x) : (tensor<?x4xf32>) -> tensor<?x4xf32> {
  ^bb0(%a: tensor<?x4xf32>):
    kernel.yield
  }
  return %r : tensor<?x4xf32>
}

// -----

func.func @isolated(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // expected-note @+1 {{required by region isolation constraints}}
  %r = kernel.launch "k"() : () -> tensor<?x4xf32> {
  ^bb0:
    // expected-error @+1 {{'llm.softcap' op using value defined outside the region}}
    %y = llm.softcap %x cap 1.0 : tensor<?x4xf32>
    kernel.yield %y : tensor<?x4xf32>
  }
  return %r : tensor<?x4xf32>
}

// -----

func.func @yield_outside() {
  // expected-error @+1 {{'kernel.yield' op expects parent op to be one of 'kernel.launch, kernel.greedy'}}
  kernel.yield
}

// -----

func.func @dynamic_shared_beyond_any_target(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{'kernel.call' op dynamic_shared must be 1 to 232448 bytes (227 KiB, the most any target offers), got 300000}}
  kernel.call @gemv(%x) {entry = "e", template_args = [], args = [0],
      writes = array<i1: true>, grid = array<i32: 1, 1, 1>, block = 32 : i32,
      tokens_per_block = 0 : i32, token_axis = 0 : i32, min_tokens = 1 : i32,
      max_tokens = 0 : i32, dynamic_shared = 300000 : i32} : tensor<?x64xf32>
  return
}
