//===- TestModule.cpp - llm IR test models through the real pipeline ------===//

#include "test/support/TestModule.h"

#include "dialects/kernel/IR/KernelOps.h"
#include "dialects/llm/IR/LLMDialect.h"
#include "dialects/llm/IR/LLMOps.h"
#include "frontends/hf/safetensors/Safetensors.h"
#include "passes/Passes.h"
#include "runtime/schema/PlanFormat.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/xxhash.h"

#include <cmath>

namespace llmc::test {

std::string allOpsSource(const std::string &elementType) {
  auto file = llvm::MemoryBuffer::getFile(LLMC_TEST_ALL_OPS_MLIR);
  if (!file)
    return "cannot read " LLMC_TEST_ALL_OPS_MLIR;
  std::string text = (*file)->getBuffer().str();
  const std::string alias = "\n!dt = f32\n";
  size_t at = text.find(alias);
  if (at != std::string::npos)
    text.replace(at, alias.size(), "\n!dt = " + elementType + "\n");
  return text;
}

namespace {

/// Collects the diagnostics of `context` while it lives.
class Diagnostics {
public:
  explicit Diagnostics(mlir::MLIRContext *context)
      : handler(context, [this](mlir::Diagnostic &d) {
          llvm::raw_string_ostream os(text);
          os << d.getLocation() << ": " << d << "\n";
          return mlir::success();
        }) {}
  std::string text;

private:
  mlir::ScopedDiagnosticHandler handler;
};

} // namespace

llvm::Expected<TestModule> parseTestModule(const std::string &source) {
  TestModule m;
  mlir::DialectRegistry registry;
  registry.insert<llm::LLMDialect, kernel::KernelDialect,
                  mlir::func::FuncDialect>();
  m.context = std::make_unique<mlir::MLIRContext>(registry);
  Diagnostics diagnostics(m.context.get());
  m.module = mlir::parseSourceString<mlir::ModuleOp>(
      source, mlir::ParserConfig(m.context.get()));
  if (!m.module)
    return llvm::createStringError("the test module does not parse:\n" +
                                   diagnostics.text);
  return m;
}

llvm::Expected<TestModule> lowerTestModule(const std::string &source,
                                           int64_t maxTokens,
                                           int64_t maxSeqLen) {
  auto parsed = parseTestModule(source);
  if (!parsed)
    return parsed.takeError();
  TestModule m = std::move(*parsed);
  auto prefill = m.module->lookupSymbol<mlir::func::FuncOp>("prefill");
  if (!prefill)
    return llvm::createStringError("the test module has no @prefill");
  if (!m.module->lookupSymbol("decode")) {
    mlir::func::FuncOp decode = prefill.clone();
    decode.setSymName("decode");
    decode->setAttr(llm::LLMDialect::kStepAttrName,
                    llm::StepAttr::get(m.context.get(), llm::Step::Decode));
    m.module->getBody()->push_back(decode);
  }
  Diagnostics diagnostics(m.context.get());
  mlir::PassManager pm(m.context.get());
  buildKernelLoweringPipeline(pm, maxTokens, maxSeqLen);
  if (mlir::failed(pm.run(*m.module)))
    return llvm::createStringError("kernel-lower failed:\n" +
                                   diagnostics.text);
  return m;
}

llvm::Error TestWeights::check(const plan_writer::WeightSpec &spec) {
  if (!spec.block.empty() || !spec.scalesOf.empty() || !spec.zerosOf.empty())
    return quantized->check(spec);
  uint64_t n = 1;
  for (int64_t d : spec.shape)
    n *= uint64_t(d);
  if (values(spec).size() != n)
    return llvm::createStringError("test weight \"" + spec.name + "\": " +
                                   std::to_string(values(spec).size()) +
                                   " values for " + std::to_string(n) +
                                   " elements");
  return llvm::Error::success();
}

llvm::Error TestWeights::fill(const plan_writer::WeightSpec &spec,
                              uint64_t offset,
                              llvm::MutableArrayRef<uint8_t> out) {
  if (!spec.block.empty() || !spec.scalesOf.empty() || !spec.zerosOf.empty())
    return quantized->fill(spec, offset, out);
  std::vector<float> v = values(spec);
  const uint64_t size = runtime::dtypeSize(spec.dtype);
  const uint64_t first = offset / size, count = out.size() / size;
  hf::TensorView view{spec.name,
                      hf::TensorDType::F32,
                      {int64_t(count)},
                      reinterpret_cast<const uint8_t *>(v.data() + first),
                      count * 4,
                      "(test weights)"};
  hf::TensorDType to = spec.dtype == plan::DType::F16    ? hf::TensorDType::F16
                       : spec.dtype == plan::DType::BF16 ? hf::TensorDType::BF16
                                                         : hf::TensorDType::F32;
  return hf::convertTensor(view, to, out);
}

std::vector<float> testValues(const plan_writer::WeightSpec &spec) {
  uint64_t n = 1;
  for (int64_t d : spec.shape)
    n *= uint64_t(d);
  llvm::StringRef name(spec.name);
  uint64_t state = llvm::xxh3_64bits(llvm::arrayRefFromStringRef(name));
  auto uniform = [&] { // in [-1, 1)
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return float(double(state >> 11) * 0x1.0p-52 - 1.0);
  };
  float scale = 1.0f, offset = 0.0f;
  if (spec.shape.size() == 1 && name.contains("norm")) {
    scale = 0.2f;
    offset = 1.0f;
  } else if (name.contains("bias")) {
    scale = 0.1f;
  } else if (!name.contains("embed")) {
    scale = 1.0f / std::sqrt(float(spec.shape.back()));
  }
  std::vector<float> v(n);
  for (float &x : v)
    x = offset + scale * uniform();
  return v;
}

} // namespace llmc::test
