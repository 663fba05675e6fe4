//===- CudaEmitter.cpp - kernel.call ops as CUDA C++ ----------------------===//

#include "compiler/codegen/cuda/CudaEmitter.h"

#include "dialects/kernel/IR/KernelOps.h"
#include "dialects/llm/IR/LLMOps.h"

#include "mlir/IR/TypeUtilities.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace llmc::codegen::cuda {
namespace {

#include "CudaTemplates.inc"

llvm::Error err(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The template file each callee lives in: the one table of it.
const char *templateOf(llvm::StringRef callee) {
  return llvm::StringSwitch<const char *>(callee)
      .Cases({"embedding", "glu", "add", "softcap", "scale", "attn_temperature", "rope",
              "kv_cache_write", "kv_cache_write_e4m3",
              "rope_kv_cache_write"},
             k_elementwise_cuh)
      .Cases({"rms_norm", "rms_norm_pair", "add_rms_norm"}, k_norm_cuh)
      .Cases({"gemv", "gemv_multi", "gemv_e4m3", "gemv_i4", "gemv_i8"},
             k_gemv_cuh)
      .Cases({"gemm_mma", "gemm_mma_q", "gemm_mma_fp8", "act_quant_e4m3"},
             k_gemm_mma_cuh)
      .Case("gemm_simt", k_gemm_simt_cuh)
      .Cases({"attn_prefill", "attn_prefill_mma", "attn_decode_split",
              "attn_decode_combine"},
             k_attention_cuh)
      .Cases({"latent_cache_write", "mla_absorb_query", "latent_attn_split",
              "latent_attn_mma", "mla_absorb_output"},
             k_mla_cuh)
      .Cases({"argmax_partial", "argmax_final"}, k_argmax_cuh)
      .Cases({"moe_router", "moe_scale_input", "moe_gate_up", "moe_down",
              "moe_gate_up_shared", "moe_down_shared", "sigmoid_gate",
              "moe_gate_up_q", "moe_down_q"},
             k_moe_cuh)
      .Cases({"moe_sort", "moe_gate_up_grouped", "moe_down_grouped",
              "moe_combine", "moe_gate_up_grouped_q", "moe_down_grouped_q"},
             k_moe_grouped_cuh)
      .Default(nullptr);
}

/// The CUDA C++ name of an element type.
llvm::Expected<std::string> typeName(Type t) {
  if (auto cache = dyn_cast<llm::KVCacheType>(t))
    t = cache.getDtype();
  if (auto cache = dyn_cast<llm::LatentCacheType>(t))
    t = cache.getDtype();
  if (t.isF32())
    return std::string("float");
  if (t.isF16())
    return std::string("f16");
  if (t.isBF16())
    return std::string("bf16");
  if (t.isInteger(32))
    return std::string("int");
  if (t.isInteger(8)) // zero points
    return std::string("signed char");
  if (isa<Float8E8M0FNUType>(t)) // MXFP4 scales
    return std::string("unsigned char");
  if (isa<Float8E4M3FNType>(t)) // an FP8 KV cache's elements
    return std::string("llmc_e4m3");
  std::string s;
  llvm::raw_string_ostream(s) << t;
  return err("no CUDA type for " + s);
}

/// One template or call argument.
llvm::Error printValue(Attribute a, raw_ostream &os) {
  if (auto b = dyn_cast<BoolAttr>(a)) {
    os << (b.getValue() ? "true" : "false");
  } else if (auto i = dyn_cast<IntegerAttr>(a)) {
    os << i.getInt();
  } else if (auto f = dyn_cast<FloatAttr>(a)) {
    os << kernel::cudaFloatLiteral(float(f.getValueAsDouble()));
  } else if (auto t = dyn_cast<TypeAttr>(a)) {
    auto name = typeName(t.getValue());
    if (!name)
      return name.takeError();
    os << *name;
  } else {
    std::string s;
    llvm::raw_string_ostream(s) << a;
    return err("cannot print template argument " + s);
  }
  return llvm::Error::success();
}

} // namespace

llvm::Expected<std::vector<std::string>>
entryParamTypes(kernel::CallOp call) {
  std::vector<std::string> types{"int"}; // num_tokens
  std::optional<ArrayRef<bool>> scales = call.getScales();
  std::optional<ArrayRef<bool>> zeros = call.getZeros();
  for (auto [i, v] : llvm::enumerate(call.getBuffers())) {
    Type t = v.getType();
    if (isa<llm::KVCacheType, llm::LatentCacheType>(t)) {
      types.push_back("llmc_kv");
      continue;
    }
    // A quantized weight's zero points: signed bytes.
    if (zeros && (*zeros)[i]) {
      types.push_back("const signed char *__restrict__");
      continue;
    }
    // A quantized weight's scales, of the type the weight names.
    if (scales && (*scales)[i]) {
      auto q = dyn_cast<llm::QuantWeightType>(t);
      auto name = typeName(q ? q.getScale() : Float32Type::get(t.getContext()));
      if (!name)
        return name.takeError();
      types.push_back("const " + *name + " *__restrict__");
      continue;
    }
    // A quantized weight's values: bytes (E4M3 or int8 codes, or two int4
    // or e2m1 codes each), decoded in the kernel.
    if (auto q = dyn_cast<llm::QuantWeightType>(t)) {
      if (!isa<Float8E4M3FNType, Float4E2M1FNType>(q.getStorage()) &&
          !q.getStorage().isInteger(4) && !q.getStorage().isInteger(8))
        return err("no CUDA type for quantized storage");
      types.push_back("const unsigned char *__restrict__");
      continue;
    }
    auto name = typeName(getElementTypeOrSelf(t));
    if (!name)
      return name.takeError();
    types.push_back(std::string(call.getWrites()[i] ? "" : "const ") + *name +
                    " *__restrict__");
  }
  return types;
}

namespace {

/// The translation unit of `call`'s entry.
llvm::Expected<std::string> entrySource(kernel::CallOp call) {
  const char *templates = templateOf(call.getCallee());
  if (!templates)
    return err("no template named " + call.getCallee());
  std::string src;
  llvm::raw_string_ostream os(src);
  os << "// llmc generated kernel: " << call.getEntry() << "\n";
  os << k_plan_enums_cuh << k_prelude_cuh;
  // The grouped MoE GEMMs and the attention kernels build on the
  // tensor-core tiles of gemm_mma.cuh.
  if (templates == k_moe_grouped_cuh || templates == k_attention_cuh ||
      templates == k_mla_cuh)
    os << k_gemm_mma_cuh;
  // MLA's split-KV decoding folds and combines as attention.cuh does.
  if (templates == k_mla_cuh)
    os << k_attention_cuh;
  os << templates << "\n";
  if (auto table = call.getInvFreq()) {
    os << "__device__ const float llmc_inv_freq[" << table->size() << "] = {";
    for (float f : *table)
      os << kernel::cudaFloatLiteral(f) << ", ";
    os << "};\n";
  }
  auto params = entryParamTypes(call);
  if (!params)
    return params.takeError();
  os << "extern \"C\" __global__ void __launch_bounds__(" << call.getBlock()
     << ", 1) " << call.getEntry() << "(";
  for (auto [i, type] : llvm::enumerate(*params)) {
    if (i == 0)
      os << type << " num_tokens";
    else
      os << ", " << type << " a" << i - 1;
  }
  os << ") {\n  " << call.getCallee() << "<";
  for (auto [i, a] : llvm::enumerate(call.getTemplateArgs())) {
    os << (i ? ", " : "");
    if (auto e = printValue(a, os))
      return e;
  }
  os << ">(";
  for (auto [i, a] : llvm::enumerate(call.getArgs())) {
    os << (i ? ", " : "");
    if (auto s = dyn_cast<StringAttr>(a)) {
      os << s.getValue(); // num_tokens, llmc_inv_freq
    } else if (auto out = dyn_cast<ArrayAttr>(a)) {
      auto name = typeName(cast<TypeAttr>(out[0]).getValue());
      if (!name)
        return name.takeError();
      os << "(" << *name << " *)nullptr";
    } else if (auto t = dyn_cast<TypeAttr>(a)) {
      auto name = typeName(t.getValue());
      if (!name)
        return name.takeError();
      os << "(const " << *name << " *)nullptr";
    } else if (auto i = dyn_cast<IntegerAttr>(a)) {
      os << "a" << i.getInt();
    } else if (auto e = printValue(a, os)) {
      return e;
    }
  }
  os << ");\n}\n";
  return src;
}

} // namespace

llvm::Expected<CudaProgram> generateCuda(ModuleOp module) {
  CudaProgram out;
  llvm::StringMap<unsigned> index;
  llvm::Error error = llvm::Error::success();
  module.walk([&](kernel::CallOp call) {
    auto source = entrySource(call);
    if (!source) {
      error = err("kernel.call " + call.getEntry() + ": " +
                  llvm::toString(source.takeError()));
      return WalkResult::interrupt();
    }
    auto [it, inserted] =
        index.try_emplace(call.getEntry(), unsigned(out.entries.size()));
    if (!inserted) {
      if (out.entries[it->second].source != *source) {
        error = err("two kernel.call ops name the entry " + call.getEntry() +
                    " but generate different code (run kernel-select)");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    }
    std::string name = call.getEntry().str();
    auto params = entryParamTypes(call);
    if (!params) {
      error = params.takeError();
      return WalkResult::interrupt();
    }
    out.entries.push_back(KernelSource{name, std::move(*source), {name}});
    out.paramTypes.push_back(std::move(*params));
    out.hot.push_back(call.getHot());
    return WalkResult::advance();
  });
  if (error)
    return error;
  return out;
}

} // namespace llmc::codegen::cuda

namespace llmc::codegen::cuda {

llvm::Error dumpSources(const CudaProgram &program, llvm::StringRef dir) {
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return err(dir + ": cannot create the kernel dump directory: " +
               ec.message());
  for (auto [k, params] :
       llvm::zip_equal(program.entries, program.paramTypes)) {
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, k.name + ".cu");
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec)
      return err(path + ": cannot write: " + ec.message());
    os << k.source;
    os.close();
    if (os.has_error())
      return err(path + ": write failed: " + os.error().message());
    llvm::SmallString<256> paramsPath(dir);
    llvm::sys::path::append(paramsPath, k.name + ".params");
    llvm::raw_fd_ostream ps(paramsPath, ec);
    if (ec)
      return err(paramsPath + ": cannot write: " + ec.message());
    for (const std::string &type : params)
      ps << type << "\n";
    ps.close();
    if (ps.has_error())
      return err(paramsPath + ": write failed: " + ps.error().message());
  }
  return llvm::Error::success();
}

} // namespace llmc::codegen::cuda
