//===- PlanWriter.cpp - a lowered module and its weights as a plan file ---===//
//
// The header is built with every weight's offset and size and zero
// checksums (stored, not defaulted), which fixes its size but for code still
// compiling; room for that is left before the weight section. The weights
// then stream into the file (WeightStream.h) while NVRTC compiles, the
// header is built again with the code, its weight checksums and
// weights_offset patched in place, and written last with its own checksum.
// Code that outgrew its room moves the weights after it.
//
//===----------------------------------------------------------------------===//

#include "compiler/plan/PlanWriter.h"

#include <cmath>

#include "compiler/plan/WeightStream.h"
#include "compiler/support/OutputFile.h"
#include "compiler/support/Progress.h"

#include "dialects/kernel/IR/KernelOps.h"
#include "dialects/kernel/IR/Storage.h"
#include "dialects/llm/IR/LLMOps.h"
#include "runtime/schema/PlanFormat.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/Timing.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <thread>

using namespace mlir;
namespace fb = flatbuffers;
namespace pl = llmc::plan;

namespace llmc::plan_writer {

uint64_t WeightSpec::bytes() const {
  uint64_t n = 1;
  for (int64_t d : shape)
    n *= uint64_t(d);
  return runtime::packedBytes(dtype, n);
}

std::vector<int64_t> WeightSpec::partShape() const {
  int64_t elements = 1;
  for (int64_t d : shape)
    elements *= d;
  const int64_t perPart = elements / int64_t(parts.size());
  if (shape.size() < 2)
    return {perPart};
  return {perPart / shape.back(), shape.back()};
}

WeightSource::~WeightSource() = default;

namespace {

constexpr uint64_t kWeightAlignment = 256; // WeightStream.cpp lays them out

// The llm dialect's RMSNormVariant, Activation and RopeLayout are generated
// from plan.fbs (dialects/llm/IR/PlanEnums.cmake): the op tables below take
// their values as they are.
static_assert(llm::getMaxEnumValForRMSNormVariant() ==
              unsigned(pl::RMSNormVariant::MAX));
static_assert(llm::getMaxEnumValForActivation() ==
              unsigned(pl::Activation::MAX));
static_assert(llm::getMaxEnumValForRopeLayout() ==
              unsigned(pl::RopeLayout::MAX));

llvm::Error err(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

std::optional<pl::DType> planDType(Type t) {
  if (t.isF32())
    return pl::DType::F32;
  if (t.isF16())
    return pl::DType::F16;
  if (t.isBF16())
    return pl::DType::BF16;
  if (t.isInteger(32))
    return pl::DType::I32;
  if (isa<Float8E4M3FNType>(t))
    return pl::DType::F8E4M3;
  if (t.isInteger(4))
    return pl::DType::I4;
  if (t.isInteger(8))
    return pl::DType::I8;
  if (isa<Float4E2M1FNType>(t))
    return pl::DType::F4E2M1;
  if (isa<Float8E8M0FNUType>(t))
    return pl::DType::E8M0;
  return std::nullopt;
}

/// Elements per token of an activation [?, d1, d2, ...].
uint64_t rowElems(Type t) {
  uint64_t n = 1;
  for (int64_t d : cast<RankedTensorType>(t).getShape().drop_front())
    n *= uint64_t(d);
  return n;
}

/// The Hugging Face module an op came from (the first NameLoc of its
/// location, "model.layers.0.self_attn"), else the op's name.
std::string moduleName(Operation *op) {
  std::string name = op->getName().stripDialect().str();
  op->getLoc()->walk([&](Location loc) {
    if (auto n = dyn_cast<NameLoc>(loc)) {
      name = n.getName().str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return name;
}

class ModuleSerializer {
public:
  ModuleSerializer(ModuleOp module, const PlanOptions &options,
                   const CodeSection *code)
      : module(module), options(options), code(code) {
    if (code)
      for (auto [i, e] : llvm::enumerate(code->entries))
        entryIndex[e.name] = unsigned(i);
  }

  llvm::Error collectWeights() {
    WalkResult r = module.walk([&](llm::ParamOp p) -> WalkResult {
      if (auto q = dyn_cast<llm::QuantWeightType>(p.getResult().getType()))
        return collectQuantized(p, q);
      auto type = cast<RankedTensorType>(p.getResult().getType());
      auto dtype = planDType(type.getElementType());
      if (!dtype || *dtype == pl::DType::I32) {
        p.emitError("unsupported weight element type ")
            << type.getElementType();
        return WalkResult::interrupt();
      }
      auto [it, inserted] = weightIndex.try_emplace(p.getName(), specs.size());
      if (inserted) {
        std::vector<std::string> parts;
        if (std::optional<ArrayAttr> stacked = p.getParts())
          for (Attribute a : *stacked)
            parts.push_back(cast<StringAttr>(a).str());
        specs.push_back({p.getName().str(),
                         std::vector<int64_t>(type.getShape().begin(),
                                              type.getShape().end()),
                         *dtype, std::move(parts)});
        if (std::optional<ArrayRef<int64_t>> rows = p.getRows()) {
          specs.back().rowBegin = (*rows)[0];
          specs.back().sourceRows = (*rows)[1];
        }
        specs.back().transposed = p.getTransposed();
        specs.back().interleaved = p.getInterleaved();
        if (std::optional<Type> stored = p.getStored()) {
          auto q = cast<llm::QuantWeightType>(*stored);
          if (!isa<Float8E4M3FNType>(q.getStorage()) || !q.getScale().isF32() ||
              q.getShape().size() != 2) {
            p.emitError("weight '")
                << p.getName() << "' stored as " << q
                << ": plans dequantize f8E4M3FN matrices with f32 scales";
            return WalkResult::interrupt();
          }
          specs.back().storedScales = p.getScales()->str();
          specs.back().storedBlock.assign(q.getBlock().begin(),
                                          q.getBlock().end());
        }
        specDTypes.push_back(*dtype);
      } else if (llvm::ArrayRef<int64_t>(specs[it->second].shape) !=
                 type.getShape()) {
        p.emitError("weight \"") << p.getName() << "\" used with two shapes";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (r.wasInterrupted())
      return err("inconsistent weights in the module");
    return llvm::Error::success();
  }

  /// A quantized weight: its values (as stored) and, as a weight of their
  /// own, its scales (and zero points). The plan format has f8e4m3 values
  /// with f32 scales, i4 and i8 values with f32, f16 or bf16 scales and
  /// optional zero points, and f4e2m1 values with e8m0 scales (i4 and
  /// f4e2m1 rows of an even length); other encodings are refused here by
  /// name.
  WalkResult collectQuantized(llm::ParamOp p, llm::QuantWeightType q) {
    const bool fp8 = isa<Float8E4M3FNType>(q.getStorage()) &&
                     q.getScale().isF32();
    const bool floatScale = q.getScale().isF32() || q.getScale().isF16() ||
                            q.getScale().isBF16();
    const bool i4 = q.getStorage().isInteger(4) && floatScale &&
                    q.getShape().back() % 2 == 0;
    const bool i8 = q.getStorage().isInteger(8) && floatScale;
    const bool fp4 = isa<Float4E2M1FNType>(q.getStorage()) &&
                     isa<Float8E8M0FNUType>(q.getScale()) &&
                     q.getShape().back() % 2 == 0;
    if ((!fp8 && !i4 && !i8 && !fp4) || (q.getZero() && (fp8 || fp4))) {
      p.emitError("quantized weight '")
          << p.getName() << "' (" << q
          << "): plans hold f8E4M3FN values with f32 scales, i4 values "
             "(an even number of columns) and i8 values with f32, f16 or "
             "bf16 scales and optional zero points, and f4E2M1FN values "
             "(an even number of columns) with f8E8M0FNU scales";
      return WalkResult::interrupt();
    }
    const pl::DType valueType = *planDType(q.getStorage()),
                    scaleType = *planDType(q.getScale());
    std::vector<int64_t> shape(q.getShape().begin(), q.getShape().end());
    if (auto it = weightIndex.find(p.getName()); it != weightIndex.end()) {
      if (specs[it->second].shape != shape || specs[it->second].block.empty()) {
        p.emitError("weight \"") << p.getName() << "\" used with two types";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    }
    const std::string scalesName = p.getScales()->str();
    if (weightIndex.count(scalesName)) {
      p.emitError("scales \"") << scalesName << "\" of quantized weight '"
                                << p.getName() << "' are also another weight";
      return WalkResult::interrupt();
    }
    const unsigned values = unsigned(specs.size());
    weightIndex[p.getName()] = values;
    auto names = [](std::optional<ArrayAttr> list) {
      std::vector<std::string> out;
      if (list)
        for (Attribute a : *list)
          out.push_back(cast<StringAttr>(a).str());
      return out;
    };
    specs.push_back({p.getName().str(), shape, valueType, names(p.getParts())});
    specs.back().block.assign(q.getBlock().begin(), q.getBlock().end());
    specs.back().scalesIndex = values + 1;
    specs.back().packing = p.getPacking().value_or("").str();
    specs.back().interleaved = p.getInterleaved();
    specDTypes.push_back(valueType);
    weightIndex[scalesName] = values + 1;
    SmallVector<int64_t> scaleShape = q.getScaleShape();
    specs.push_back({scalesName,
                     std::vector<int64_t>(scaleShape.begin(), scaleShape.end()),
                     scaleType, names(p.getScaleParts())});
    // Random values: e4m3 codes of magnitude 1/8 to 15/16, i4 codes
    // -8..7, i8 codes -128..127, f4e2m1 codes of magnitude 0 to 6 (the
    // source rounds an e8m0 scale to a power of two).
    specs.back().randomScale =
        (fp8 ? 1.0f : i4 ? 0.125f : fp4 ? 0.25f : 1.0f / 128) /
        std::sqrt(float(shape.back()));
    specs.back().scalesOf = p.getName().str();
    specs.back().interleaved = p.getInterleaved();
    // AutoAWQ and GPTQ store the scales [groups, rows].
    specs.back().transposed = p.getPacking() == "awq-gemm" ||
                              p.getPacking() == "gptq" ||
                              p.getPacking() == "gptq-v2";
    specDTypes.push_back(scaleType);
    // Zero points (signed bytes in the values' range) right after.
    if (q.getZero()) {
      const std::string zerosName = p.getZeros()->str();
      if (weightIndex.count(zerosName)) {
        p.emitError("zero points \"")
            << zerosName << "\" of quantized weight '" << p.getName()
            << "' are also another weight";
        return WalkResult::interrupt();
      }
      specs[values].hasZeros = true;
      weightIndex[zerosName] = values + 2;
      specs.push_back({zerosName,
                       std::vector<int64_t>(scaleShape.begin(),
                                            scaleShape.end()),
                       pl::DType::I8});
      specs.back().zerosOf = p.getName().str();
      specs.back().zeroBits = q.getZero().getIntOrFloatBitWidth();
      specs.back().packing = p.getPacking().value_or("").str();
      specDTypes.push_back(pl::DType::I8);
    }
    return WalkResult::advance();
  }

  llvm::ArrayRef<WeightSpec> weights() const { return specs; }

  /// Builds the whole header with the weights at `layout`; weight
  /// checksums and Plan.weights_offset are stored as 0, to be patched.
  llvm::Error build(const WeightLayout &layout) {
    auto modelAttr =
        module->getAttrOfType<llm::ModelAttr>(llm::LLMDialect::kModelAttrName);
    if (!modelAttr)
      return err("the module has no llm.model attribute");
    func::FuncOp prefill, decode;
    for (auto fn : module.getOps<func::FuncOp>()) {
      auto step =
          fn->getAttrOfType<llm::StepAttr>(llm::LLMDialect::kStepAttrName);
      if (!step)
        continue;
      (step.getValue() == llm::Step::Prefill ? prefill : decode) = fn;
    }
    if (!prefill || !decode)
      return err("the module needs a prefill and a decode function");
    auto arena = [](func::FuncOp fn) {
      auto a = fn->getAttrOfType<IntegerAttr>(kernel::kArenaBytesAttrName);
      return a ? a.getInt() : -1;
    };
    auto maxTokensAttr =
        prefill->getAttrOfType<IntegerAttr>(kernel::kMaxTokensAttrName);
    if (arena(prefill) < 0 || arena(decode) < 0 || !maxTokensAttr)
      return err("the module has not been through kernel-plan-memory");
    maxTokens = maxTokensAttr.getInt();
    for (func::FuncOp fn : {prefill, decode})
      if (auto a = fn->getAttrOfType<IntegerAttr>(kernel::kScratchBytesAttrName))
        scratchBytes = std::max(scratchBytes, uint64_t(a.getInt()));

    fbb.ForceDefaults(true); // every checksum is stored, so it can be patched
    auto prefillProgram = buildProgram(prefill, pl::Step::Prefill);
    if (!prefillProgram)
      return prefillProgram.takeError();
    auto decodeProgram = buildProgram(decode, pl::Step::Decode);
    if (!decodeProgram)
      return decodeProgram.takeError();

    std::vector<fb::Offset<pl::KVCacheLayout>> caches;
    for (Type t : prefill.getArgumentTypes().drop_front(3)) {
      if (auto l = dyn_cast<llm::LatentCacheType>(t)) {
        caches.push_back(pl::CreateKVCacheLayout(
            fbb, /*kv_heads=*/1, l.getRowElems(), *planDType(l.getDtype()),
            /*window=*/0, l.getLatentDim()));
        continue;
      }
      auto c = cast<llm::KVCacheType>(t);
      const auto ring = ringRows.find(unsigned(caches.size()));
      caches.push_back(pl::CreateKVCacheLayout(
          fbb, c.getKvHeads(), c.getHeadDim(), *planDType(c.getDtype()),
          c.getWindow(), /*latent_dim=*/0,
          ring == ringRows.end() ? 0 : ring->second));
    }

    std::vector<fb::Offset<pl::Weight>> weightTable;
    for (auto [i, spec] : llvm::enumerate(specs)) {
      fb::Offset<pl::WeightQuant> quant;
      if (!spec.block.empty())
        quant = pl::CreateWeightQuant(
            fbb, fbb.CreateVector(spec.block), spec.scalesIndex,
            spec.hasZeros ? int64_t(spec.scalesIndex) + 1 : -1);
      weightTable.push_back(pl::CreateWeight(
          fbb, fbb.CreateString(spec.name), specDTypes[i],
          fbb.CreateVector(spec.shape), pl::WeightLayout::RowMajor,
          layout.offsets[i], spec.bytes(), /*checksum=*/0, quant));
    }

    std::vector<fb::Offset<fb::String>> targets{fbb.CreateString("cpu")};
    for (const std::string &t : cudaTargets(options))
      targets.push_back(fbb.CreateString(t));
    std::vector<fb::Offset<fb::String>> notes;
    for (const std::string &n : options.notes)
      notes.push_back(fbb.CreateString(n));
    auto model =
        pl::CreateModel(fbb, fbb.CreateString(modelAttr.getFamily().str()),
                        modelAttr.getVocabSize(), modelAttr.getHiddenSize(),
                        modelAttr.getNumLayers(), options.maxSeqLen,
                        *planDType(modelAttr.getDtype()),
                        notes.empty() ? 0 : fbb.CreateVector(notes));
    auto memory = pl::CreateMemoryPlan(
        fbb, uint64_t(std::max(arena(prefill), arena(decode))), maxTokens,
        uint32_t(runtime::kMinWeightAlignment), options.kvPageTokens);
    pl::FormatVersion version(
        options.formatMajor ? options.formatMajor : runtime::kFormatMajor,
        options.formatMajor ? options.formatMinor : runtime::kFormatMinor);
    std::string producer = std::string("llmc ") + runtime::runtimeVersion();
    fb::Offset<pl::CudaCode> cuda = code ? buildCode() : 0;
    auto plan = pl::CreatePlan(
        fbb, &version, fbb.CreateString(producer), fbb.CreateVector(targets),
        model, memory, fbb.CreateVector(caches), *prefillProgram,
        *decodeProgram, fbb.CreateVector(weightTable), /*weights_offset=*/0,
        layout.size, uint32_t(kWeightAlignment), cuda);
    pl::FinishSizePrefixedPlanBuffer(fbb, plan);
    return llvm::Error::success();
  }

  fb::FlatBufferBuilder &builder() { return fbb; }

private:
  /// Where `v` lives (kernel/IR/Storage.h), as a plan operand.
  llvm::Expected<pl::Operand> resolve(Value v) {
    auto s = kernel::resolveStorage(v);
    if (!s)
      return s.takeError();
    auto dtype = planDType(s->elementType);
    if (!dtype)
      return err("unsupported element type");
    switch (s->kind) {
    case kernel::StorageKind::Input:
      return pl::Operand(pl::OperandKind::Input, pl::DType::I32, s->index, 0, 1);
    case kernel::StorageKind::KVCache:
      return pl::Operand(pl::OperandKind::KVCache, *dtype, s->index, 0, 0);
    case kernel::StorageKind::Weight: {
      unsigned index = weightIndex.lookup(s->weight);
      return pl::Operand(pl::OperandKind::Weight, specDTypes[index], index, 0,
                         0);
    }
    case kernel::StorageKind::Arena:
      return pl::Operand(pl::OperandKind::Arena, *dtype, 0, s->offset,
                         s->rowElems);
    case kernel::StorageKind::Scratch:
      return pl::Operand(pl::OperandKind::Scratch, *dtype, 0, s->offset,
                         s->rowElems);
    }
    return err("unknown storage");
  }

  llvm::Expected<fb::Offset<fb::Vector<const pl::Operand *>>>
  operands(ValueRange values) {
    std::vector<pl::Operand> out;
    for (Value v : values) {
      auto o = resolve(v);
      if (!o)
        return o.takeError();
      out.push_back(*o);
    }
    return fbb.CreateVectorOfStructs(out);
  }

  /// The layer index of the KV cache a value refers to.
  llvm::Expected<unsigned> layerOf(Value cache) {
    auto o = resolve(cache);
    if (!o)
      return o.takeError();
    if (o->kind() != pl::OperandKind::KVCache)
      return err("the cache operand does not refer to a KV cache argument");
    return o->index();
  }

  llvm::Expected<fb::Offset<pl::Op>> buildOp(Operation *op) {
    pl::OpParams kind = pl::OpParams::NONE;
    fb::Offset<void> params;
    SmallVector<Value> ins(op->getOperands());
    SmallVector<Value> outs(op->getResults());
    auto shape = [](Value v) { return llm::weightShape(v.getType()); };

    if (auto e = dyn_cast<llm::EmbeddingOp>(op)) {
      kind = pl::OpParams::Embedding;
      double scale = e.getScale() ? e.getScale()->convertToDouble() : 1.0;
      params = pl::CreateEmbedding(fbb, shape(e.getTable())[0],
                                   shape(e.getTable())[1], scale)
                   .Union();
    } else if (auto n = dyn_cast<llm::RMSNormOp>(op)) {
      kind = pl::OpParams::RMSNorm;
      params = pl::CreateRMSNorm(fbb, shape(n.getInput()).back(),
                                 pl::RMSNormVariant(n.getVariant()),
                                 n.getEps().convertToDouble())
                   .Union();
    } else if (auto n = dyn_cast<llm::AddRMSNormOp>(op)) {
      kind = pl::OpParams::AddRMSNorm;
      params = pl::CreateAddRMSNorm(fbb, shape(n.getInput()).back(),
                                    pl::RMSNormVariant(n.getVariant()),
                                    n.getEps().convertToDouble())
                   .Union();
    } else if (auto l = dyn_cast<llm::LinearOp>(op)) {
      static_assert(llm::kFp8ActivationGroup ==
                        runtime::kFp8ActivationGroup,
                    "one activation group width in the IR and the plan");
      kind = pl::OpParams::Linear;
      params = pl::CreateLinear(fbb, shape(l.getWeight())[1],
                                shape(l.getWeight())[0], bool(l.getBias()),
                                l.getFp8Activations())
                   .Union();
    } else if (auto g = dyn_cast<llm::GatedLinearOp>(op)) {
      kind = pl::OpParams::GatedLinear;
      params = pl::CreateGatedLinear(fbb, shape(g.getGateWeight())[1],
                                     shape(g.getGateWeight())[0],
                                     pl::Activation(g.getActivation()))
                   .Union();
    } else if (auto g = dyn_cast<llm::GLUOp>(op)) {
      kind = pl::OpParams::GLU;
      params = pl::CreateGLU(fbb, rowElems(g.getType()),
                             pl::Activation(g.getActivation()))
                   .Union();
    } else if (auto a = dyn_cast<llm::AddOp>(op)) {
      kind = pl::OpParams::Add;
      params = pl::CreateAdd(fbb, rowElems(a.getType())).Union();
    } else if (auto s = dyn_cast<llm::AttnTemperatureOp>(op)) {
      kind = pl::OpParams::AttnTemperature;
      params = pl::CreateAttnTemperature(fbb, rowElems(s.getType()),
                                         s.getFloorScale().convertToDouble(),
                                         s.getScale().convertToDouble())
                   .Union();
    } else if (auto s = dyn_cast<llm::ScaleOp>(op)) {
      kind = pl::OpParams::Scale;
      params = pl::CreateScale(fbb, rowElems(s.getType()),
                               s.getFactor().convertToDouble(), s.getDivide())
                   .Union();
    } else if (auto s = dyn_cast<llm::SoftcapOp>(op)) {
      kind = pl::OpParams::Softcap;
      params = pl::CreateSoftcap(fbb, rowElems(s.getType()),
                                 s.getCap().convertToDouble())
                   .Union();
    } else if (auto r = dyn_cast<llm::RopeOp>(op)) {
      kind = pl::OpParams::Rope;
      llm::RopeAttr rope = r.getRope();
      // dynamic and longrope: fixed for the plan's max_seq_len (the compile
      // notes where that differs from transformers' per-forward choice).
      std::vector<float> invFreq =
          rope::inverseFrequencies(rope.toParams(), options.maxSeqLen);
      params =
          pl::CreateRope(fbb, shape(r.getInput())[1], shape(r.getInput())[2],
                         rope.getDim(), pl::RopeLayout(rope.getLayout()),
                         rope.getAttentionScaling(), fbb.CreateVector(invFreq),
                         r.getOffset(), r.getFp32())
              .Union();
    } else if (auto w = dyn_cast<llm::KVCacheWriteOp>(op)) {
      kind = pl::OpParams::KVCacheWrite;
      auto layer = layerOf(w.getCache());
      if (!layer)
        return layer.takeError();
      params = pl::CreateKVCacheWrite(fbb, *layer).Union();
      outs.clear(); // the cache is updated in place
    } else if (auto a = dyn_cast<llm::AttentionOp>(op)) {
      kind = pl::OpParams::Attention;
      auto cache = cast<llm::KVCacheType>(a.getCache().getType());
      auto layer = layerOf(a.getCache());
      if (!layer)
        return layer.takeError();
      params = pl::CreateAttention(
                   fbb, *layer, shape(a.getQuery())[1],
                   cache.getKvHeads(), cache.getHeadDim(),
                   a.getScale().convertToDouble(), a.getWindow().value_or(0),
                   a.getChunk().value_or(0),
                   a.getSoftcap() ? a.getSoftcap()->convertToDouble() : 0.0,
                   bool(a.getSinks()), bool(a.getStepKey()))
                   .Union();
      // A windowed layer whose step keys come from the step keeps only
      // its window (llm-window-rings, plan.fbs KVCacheLayout.ring_rows).
      if (a.getStepKey() && a.getWindow() && cache.getWindow() > 0)
        ringRows[*layer] = std::max<int64_t>(ringRows[*layer], cache.getWindow());
    } else if (auto w = dyn_cast<llm::LatentCacheWriteOp>(op)) {
      kind = pl::OpParams::LatentCacheWrite;
      auto layer = layerOf(w.getCache());
      if (!layer)
        return layer.takeError();
      llm::RopeAttr rope = w.getRope();
      std::vector<float> invFreq =
          rope::inverseFrequencies(rope.toParams(), options.maxSeqLen);
      llm::LatentCacheType cache = w.getCache().getType();
      params = pl::CreateLatentCacheWrite(
                   fbb, *layer, cache.getLatentDim(), cache.getRopeDim(),
                   w.getEps().convertToDouble(),
                   pl::RopeLayout(rope.getLayout()),
                   rope.getAttentionScaling(), fbb.CreateVector(invFreq),
                   w.getFp32())
                   .Union();
      outs.clear(); // the cache is updated in place
    } else if (auto a = dyn_cast<llm::MLAAttentionOp>(op)) {
      kind = pl::OpParams::MLAAttention;
      auto layer = layerOf(a.getCache());
      if (!layer)
        return layer.takeError();
      llm::LatentCacheType cache = a.getCache().getType();
      const int64_t v = shape(a.getResult())[2];
      params = pl::CreateMLAAttention(
                   fbb, *layer, shape(a.getQuery())[1], cache.getLatentDim(),
                   cache.getRopeDim(),
                   shape(a.getQuery())[2] - cache.getRopeDim(), v,
                   a.getScale().convertToDouble())
                   .Union();
    } else if (auto q = dyn_cast<llm::MLAAbsorbQueryOp>(op)) {
      kind = pl::OpParams::MLAAbsorbQuery;
      const int64_t heads = shape(q.getQuery())[1];
      const int64_t latent = shape(q.getKvB())[1];
      const int64_t rope = shape(q.getResult())[2] - latent;
      const int64_t nope = shape(q.getQuery())[2] - rope;
      params = pl::CreateMLAAbsorbQuery(fbb, heads, latent, rope, nope,
                                        shape(q.getKvB())[0] / heads - nope)
                   .Union();
    } else if (auto a = dyn_cast<llm::LatentAttentionOp>(op)) {
      kind = pl::OpParams::LatentAttention;
      auto layer = layerOf(a.getCache());
      if (!layer)
        return layer.takeError();
      llm::LatentCacheType cache = a.getCache().getType();
      params = pl::CreateLatentAttention(fbb, *layer, shape(a.getQuery())[1],
                                         cache.getLatentDim(),
                                         cache.getRopeDim(),
                                         a.getScale().convertToDouble())
                   .Union();
    } else if (auto o = dyn_cast<llm::MLAAbsorbOutputOp>(op)) {
      kind = pl::OpParams::MLAAbsorbOutput;
      const int64_t heads = shape(o.getInput())[1];
      const int64_t v = shape(o.getResult())[2];
      params = pl::CreateMLAAbsorbOutput(fbb, heads, shape(o.getInput())[2],
                                         shape(o.getKvB())[0] / heads - v, v)
                   .Union();
    } else if (auto r = dyn_cast<llm::MoERouterOp>(op)) {
      kind = pl::OpParams::MoERouter;
      params = pl::CreateMoERouter(
                   fbb, shape(r.getWeight())[1], shape(r.getWeight())[0],
                   r.getTopK(), pl::RouterScoring(r.getScoring()),
                   r.getLogitsInFp32(), bool(r.getCorrectionBias()),
                   r.getGroups(), r.getTopGroups(),
                   pl::RouterGroupScore(r.getGroupScore()), r.getNormalize(),
                   r.getEpsilon().convertToDouble(),
                   r.getScaling().convertToDouble(), bool(r.getLogitBias()))
                   .Union();
    } else if (auto x = dyn_cast<llm::MoEExpertsOp>(op)) {
      kind = pl::OpParams::MoEExperts;
      auto down = shape(x.getDown());
      params = pl::CreateMoEExperts(fbb, down[1], down[2], down[0],
                                    shape(x.getWeights())[1],
                                    pl::Activation(x.getActivation()),
                                    x.getScaleInput(), bool(x.getGateUpBias()),
                                    x.getSwigluLimit()
                                        ? x.getSwigluLimit()->convertToDouble()
                                        : 0.0,
                                    x.getSwigluAlpha()
                                        ? x.getSwigluAlpha()->convertToDouble()
                                        : 0.0)
                   .Union();
    } else if (auto g = dyn_cast<llm::SigmoidGateOp>(op)) {
      kind = pl::OpParams::SigmoidGate;
      params = pl::CreateSigmoidGate(fbb, shape(g.getWeight())[1],
                                     rowElems(g.getType()))
                   .Union();
    } else if (auto h = dyn_cast<llm::LMHeadOp>(op)) {
      kind = pl::OpParams::LMHead;
      params = pl::CreateLMHead(fbb, shape(h.getWeight())[1],
                                shape(h.getWeight())[0])
                   .Union();
    } else {
      return err("unsupported in plans: " + op->getName().getStringRef());
    }
    std::string name = moduleName(op);
    auto inVec = operands(ins);
    if (!inVec)
      return inVec.takeError();
    auto outVec = operands(outs);
    if (!outVec)
      return outVec.takeError();
    return pl::CreateOp(fbb, fbb.CreateString(name), kind, params, *inVec,
                        *outVec);
  }

  llvm::Expected<fb::Offset<pl::Program>> buildProgram(func::FuncOp fn,
                                                       pl::Step step) {
    std::vector<fb::Offset<pl::Kernel>> kernels;
    kernel::GreedyOp greedyOp;
    for (Operation &op : fn.getBody().front()) {
      if (isa<llm::ParamOp, func::ReturnOp>(op))
        continue;
      if (auto g = dyn_cast<kernel::GreedyOp>(op)) {
        greedyOp = g;
        continue;
      }
      auto launch = dyn_cast<kernel::LaunchOp>(op);
      if (!launch)
        return err("@" + fn.getSymName() + ": " + op.getName().getStringRef() +
                   " outside a kernel.launch (run convert-llm-to-kernel)");
      std::vector<fb::Offset<pl::Op>> ops;
      std::vector<kernel::CallOp> calls;
      for (Operation &inner : launch.getBody().front()) {
        if (auto call = dyn_cast<kernel::CallOp>(inner)) {
          calls.push_back(call);
          continue;
        }
        if (isa<kernel::YieldOp, kernel::ScratchOp, llm::SplitHeadsOp,
                llm::MergeHeadsOp>(inner))
          continue; // views: same bytes as their source
        auto built = buildOp(&inner);
        if (!built) // name the Hugging Face module the op came from
          return err(moduleName(&inner) + ": " +
                     llvm::toString(built.takeError()));
        ops.push_back(*built);
      }
      fb::Offset<fb::Vector<fb::Offset<pl::Launch>>> launchVec = 0;
      if (code) {
        if (calls.empty())
          return err(launch.getName() +
                     ": no kernel.call runs this launch (run kernel-select)");
        auto built = buildLaunches(calls);
        if (!built)
          return built.takeError();
        launchVec = *built;
      }
      kernels.push_back(
          pl::CreateKernel(fbb, fbb.CreateString(launch.getName().str()),
                           fbb.CreateVector(ops), launchVec));
    }
    auto ret = cast<func::ReturnOp>(fn.getBody().front().getTerminator());
    auto logits = resolve(ret.getOperand(0));
    if (!logits)
      return logits.takeError();
    fb::Offset<fb::Vector<fb::Offset<pl::Launch>>> greedy = 0;
    std::optional<pl::Operand> greedyTokens;
    if (code) {
      if (!greedyOp)
        return err("@" + fn.getSymName() +
                   " has no kernel.greedy (run kernel-select)");
      std::vector<kernel::CallOp> calls(
          greedyOp.getBody().front().getOps<kernel::CallOp>().begin(),
          greedyOp.getBody().front().getOps<kernel::CallOp>().end());
      auto built = buildLaunches(calls);
      if (!built)
        return built.takeError();
      greedy = *built;
      auto tokens = resolve(greedyOp.getResult(0));
      if (!tokens)
        return tokens.takeError();
      greedyTokens = *tokens;
    }
    return pl::CreateProgram(fbb, step, fbb.CreateVector(kernels), &*logits,
                             greedy, greedyTokens ? &*greedyTokens : nullptr);
  }

  llvm::Expected<fb::Offset<fb::Vector<fb::Offset<pl::Launch>>>>
  buildLaunches(llvm::ArrayRef<kernel::CallOp> calls) {
    std::vector<fb::Offset<pl::Launch>> out;
    for (kernel::CallOp call : calls) {
      auto entry = entryIndex.find(call.getEntry());
      if (entry == entryIndex.end())
        return err("kernel.call " + call.getEntry() +
                   ": no such entry in the compiled code");
      std::vector<pl::Operand> args;
      std::optional<ArrayRef<bool>> scales = call.getScales();
      std::optional<ArrayRef<bool>> zeros = call.getZeros();
      for (auto [i, v] : llvm::enumerate(call.getBuffers())) {
        auto o = resolve(v);
        if (!o)
          return err("kernel.call " + call.getEntry() + ": " +
                     llvm::toString(o.takeError()));
        // A quantized weight's scales: the weight the values name.
        if (scales && (*scales)[i])
          *o = pl::Operand(pl::OperandKind::Weight,
                           specDTypes[specs[o->index()].scalesIndex],
                           specs[o->index()].scalesIndex, 0, 0);
        // Its zero points: the weight after its scales.
        if (zeros && (*zeros)[i])
          *o = pl::Operand(pl::OperandKind::Weight, pl::DType::I8,
                           specs[o->index()].scalesIndex + 1, 0, 0);
        args.push_back(*o);
      }
      std::vector<uint32_t> grid(call.getGrid().begin(), call.getGrid().end());
      out.push_back(pl::CreateLaunch(
          fbb, entry->second, fbb.CreateVectorOfStructs(args),
          fbb.CreateVector(grid), uint32_t(call.getBlock()),
          uint32_t(call.getDynamicShared().value_or(0)),
          uint32_t(call.getTokensPerBlock()),
          uint8_t(call.getTokenAxis()), uint32_t(call.getMinTokens()),
          uint32_t(call.getMaxTokens())));
    }
    return fbb.CreateVector(out);
  }

  fb::Offset<pl::CudaCode> buildCode() {
    std::vector<fb::Offset<pl::CodeEntry>> entries;
    for (const CodeEntry &e : code->entries) {
      std::vector<fb::Offset<pl::CodeBinary>> binaries;
      for (const CodeBinary &c : e.binaries) {
        auto resources = pl::CreateKernelResources(
            fbb, c.registers, c.spillStoreBytes, c.spillLoadBytes,
            c.staticSharedBytes, c.localBytes);
        std::vector<uint8_t> ptx(c.ptx.begin(), c.ptx.end());
        ptx.push_back(0);
        binaries.push_back(pl::CreateCodeBinary(
            fbb, fbb.CreateString(c.target), fbb.CreateVector(c.cubin),
            fbb.CreateVector(ptx), fbb.CreateString(c.symbol), resources));
      }
      entries.push_back(pl::CreateCodeEntry(
          fbb, fbb.CreateString(e.name), fbb.CreateString(e.source),
          fbb.CreateVector(binaries)));
    }
    std::vector<fb::Offset<fb::String>> targets;
    for (const std::string &t : code->targets)
      targets.push_back(fbb.CreateString(t));
    return pl::CreateCudaCode(fbb, fbb.CreateVector(targets),
                              fbb.CreateVector(entries), scratchBytes,
                              fbb.CreateString(code->nvrtcVersion));
  }

  ModuleOp module;
  const PlanOptions &options;
  const CodeSection *code;
  llvm::StringMap<unsigned> entryIndex;
  uint64_t scratchBytes = 0;
  /// KVCacheLayout.ring_rows by layer (buildProgram of the prefill step).
  std::map<unsigned, int64_t> ringRows;
  fb::FlatBufferBuilder fbb{1 << 20};
  std::vector<WeightSpec> specs;
  std::vector<pl::DType> specDTypes;
  llvm::StringMap<unsigned> weightIndex;
  int64_t maxTokens = 0;
};

} // namespace

std::string failedKernelDir(const PlanOptions &options) {
  if (!options.dumpKernelsDir.empty())
    return options.dumpKernelsDir;
  llvm::SmallString<256> dir;
  llvm::sys::path::system_temp_directory(/*ErasedOnReboot=*/true, dir);
  llvm::sys::path::append(dir, "llmc-kernels-%%%%%%%%");
  llvm::SmallString<256> unique;
  llvm::sys::fs::createUniquePath(dir, unique, /*MakeAbsolute=*/false);
  return std::string(unique);
}

std::vector<std::string> cudaTargets(const PlanOptions &options) {
  std::vector<std::string> out;
  for (const std::string &t : options.targets)
    if (t != "cpu")
      out.push_back(t);
  return out;
}

namespace {

/// Room left before the weight section for code that is still compiling:
/// measured plans hold about 3 bytes of PTX and cubin per byte of CUDA
/// source per target; 8 are reserved, plus 1 MiB. Unused room is zeros,
/// which file systems with holes do not store.
uint64_t codeReserve(const PendingCode &pending, const PlanOptions &options) {
  if (options.codeReserveBytes)
    return *options.codeReserveBytes;
  uint64_t sources = 0;
  for (const CodeEntry &e : pending.code.entries)
    sources += e.source.size();
  return runtime::alignTo(sources * 8 * pending.code.targets.size() +
                              (uint64_t(1) << 20),
                          uint64_t(1) << 20);
}

/// Weight sections smaller than this are written after the code compiles:
/// there is too little to overlap, and no room is reserved.
constexpr uint64_t kOverlapMinBytes = uint64_t(64) << 20;

/// Moves compiled binaries (one list per entry) into `code`.
llvm::Error takeBinaries(CodeSection &code,
                         std::vector<std::vector<CodeBinary>> binaries) {
  if (binaries.size() != code.entries.size())
    return err("internal error: compiled " + std::to_string(binaries.size()) +
               " entries of " + std::to_string(code.entries.size()));
  for (auto [entry, list] : llvm::zip_equal(code.entries, binaries))
    entry.binaries = std::move(list);
  return llvm::Error::success();
}

mlir::TimingScope nestTimer(mlir::TimingScope *parent, llvm::StringRef name) {
  return parent ? parent->nest(name) : mlir::TimingScope();
}

/// Streams the weight section to `file` at `base`, reporting progress.
llvm::Expected<std::vector<uint64_t>>
streamSection(WeightSource &weights, llvm::ArrayRef<WeightSpec> specs,
              const WeightLayout &layout, support::OutputFile &file,
              uint64_t base, const PlanOptions &options,
              const std::atomic<bool> *cancel, llvm::StringRef phase) {
  mlir::TimingScope timer = nestTimer(options.timing, phase);
  auto start = std::chrono::steady_clock::now();
  StreamHooks hooks;
  hooks.cancel = cancel;
  if (options.progress)
    hooks.progress = [&](uint64_t done) {
      options.progress->bytes(phase, done, layout.size,
                              support::secondsSince(start));
    };
  auto sums = streamWeights(weights, specs, layout, file, base, hooks);
  if (sums && options.progress) {
    double seconds = support::secondsSince(start);
    options.progress->clear();
    options.progress->done(
        phase,
        support::Progress::formatBytes(layout.size) + " in " +
            std::to_string(specs.size()) + " tensors, " +
            std::to_string(int64_t(double(layout.size) / 1e6 /
                                   std::max(seconds, 1e-3))) +
            " MB/s",
        seconds);
  }
  return sums;
}

llvm::Error writePlanImpl(ModuleOp module, WeightSource &weights,
                          const PlanOptions &options, llvm::StringRef path,
                          const CodeSection *known, PendingCode *pending) {
  if (options.maxSeqLen < 1)
    return err("max sequence length must be at least 1");
  if (options.kvPageTokens < 0 ||
      options.kvPageTokens > runtime::kMaxKvPageTokens ||
      (options.kvPageTokens & (options.kvPageTokens - 1)) != 0)
    return err("KV page tokens " + std::to_string(options.kvPageTokens) +
               " is not 0 or a power of two up to " +
               std::to_string(runtime::kMaxKvPageTokens));
  // The header as far as it is known: with every entry's name and source,
  // the binaries of pending code still missing.
  std::optional<ModuleSerializer> first;
  first.emplace(module, options, pending ? &pending->code : known);
  if (llvm::Error e = first->collectWeights())
    return e;
  std::vector<WeightSpec> specs(first->weights().begin(),
                                first->weights().end());
  for (const WeightSpec &spec : specs)
    if (llvm::Error e = weights.check(spec))
      return e;
  const WeightLayout layout = layoutWeights(specs);
  if (pending && layout.size < kOverlapMinBytes &&
      !options.codeReserveBytes) {
    // Too few weights to hide anything behind: the code first, and no room
    // to reserve.
    mlir::TimingScope timer = nestTimer(options.timing, "code generation");
    auto binaries = pending->compile();
    if (!binaries)
      return binaries.takeError();
    if (llvm::Error e = takeBinaries(pending->code, std::move(*binaries)))
      return e;
    known = &pending->code;
    pending = nullptr;
    first.emplace(module, options, known);
    if (llvm::Error e = first->collectWeights())
      return e;
  }
  if (llvm::Error e = first->build(layout))
    return e;
  if (first->builder().GetSize() > runtime::kMaxFlatbufferSize)
    return err(path + ": the plan header would exceed 1 GiB");
  auto weightsOffsetFor = [](uint64_t headerBytes) {
    uint32_t sizePrefix = uint32_t(headerBytes - 4);
    return runtime::alignTo(runtime::headerChecksumOffset(sizePrefix) + 8,
                            runtime::kWeightSectionAlignment);
  };
  uint64_t weightsOffset =
      weightsOffsetFor(first->builder().GetSize()) +
      (pending ? runtime::alignTo(codeReserve(*pending, options),
                                  runtime::kWeightSectionAlignment)
               : 0);

  auto opened = support::OutputFile::open(path);
  if (!opened)
    return opened.takeError();
  support::OutputFile &file = **opened;
  const uint64_t needed = weightsOffset + layout.size +
                          (options.signingKey ? runtime::kSignatureBlockSize
                                              : 0);
  if (uint64_t available = file.availableBytes(); needed > available)
    return err(path + ": the plan needs " + std::to_string(needed) +
               " bytes (" + support::Progress::formatBytes(needed) +
               "), and its file system has " + std::to_string(available) +
               " free");

  // NVRTC compiles while the weights stream; if it fails, the weights stop.
  std::atomic<bool> codeFailed{false};
  std::optional<llvm::Expected<std::vector<std::vector<CodeBinary>>>> compiled;
  std::thread codeThread;
  // In the --time-phases table the two run side by side under one parent,
  // whose wall time is what they took together.
  mlir::TimingScope together =
      pending ? nestTimer(options.timing, "weights and code generation, "
                                          "in parallel")
              : mlir::TimingScope();
  PlanOptions streamOptions = options;
  if (pending) {
    streamOptions.timing = options.timing ? &together : nullptr;
    codeThread = std::thread([&] {
      mlir::TimingScope timer =
          nestTimer(streamOptions.timing, "code generation");
      compiled.emplace(pending->compile());
      if (!*compiled)
        codeFailed = true;
    });
  }
  auto sums = streamSection(weights, specs, layout, file, weightsOffset,
                            streamOptions, &codeFailed, "weights");
  if (pending) {
    codeThread.join();
    together.stop();
    if (!*compiled) {
      if (!sums)
        llvm::consumeError(sums.takeError());
      return compiled->takeError();
    }
    if (llvm::Error e = takeBinaries(pending->code, std::move(**compiled))) {
      if (!sums)
        llvm::consumeError(sums.takeError());
      return e;
    }
  }
  if (!sums)
    return sums.takeError();

  mlir::TimingScope writeTimer = nestTimer(options.timing, "write");
  auto writeStart = std::chrono::steady_clock::now();
  // The whole header, now with the code.
  ModuleSerializer last(module, options, pending ? &pending->code : known);
  if (llvm::Error e = last.collectWeights())
    return e;
  if (llvm::Error e = last.build(layout))
    return e;
  fb::FlatBufferBuilder &fbb = last.builder();
  if (fbb.GetSize() > runtime::kMaxFlatbufferSize)
    return err(path + ": the plan header would exceed 1 GiB");
  if (uint64_t fits = weightsOffsetFor(fbb.GetSize()); fits > weightsOffset) {
    // The code outgrew the room left for it: the weights move after it
    // (slower, never wrong).
    if (options.progress)
      options.progress->done("write",
                             "the code is larger than the room reserved for "
                             "it; writing the weights again after it",
                             0);
    weightsOffset = fits;
    auto again = streamSection(weights, specs, layout, file, weightsOffset,
                               options, nullptr, "weights (again)");
    if (!again)
      return again.takeError();
    sums = std::move(again);
  }
  uint8_t *header = fbb.GetBufferPointer();
  uint32_t sizePrefix;
  std::memcpy(&sizePrefix, header, 4);
  auto *plan = pl::GetMutableSizePrefixedPlan(header);
  if (!plan->mutate_weights_offset(weightsOffset))
    return err("internal error: Plan.weights_offset is not stored");
  for (auto [i, sum] : llvm::enumerate(*sums))
    plan->mutable_weights()->GetMutableObject(i)->mutate_checksum(sum);
  // The file ends where the header says the weight section does.
  if (llvm::Error e = file.resize(weightsOffset + layout.size))
    return e;
  // The header, then zeros up to the weights (over anything a first,
  // moved weight section left there).
  std::vector<uint8_t> head(weightsOffset, 0);
  std::memcpy(head.data(), header, fbb.GetSize());
  uint64_t sum = runtime::checksum(header, 4 + uint64_t(sizePrefix));
  std::memcpy(head.data() + runtime::headerChecksumOffset(sizePrefix), &sum, 8);
  if (llvm::Error e = file.write(head.data(), head.size(), 0))
    return e;
  if (options.signingKey) {
    // Every byte as it will be read, then the block after them.
    support::PlanSigner signer;
    const uint64_t total = file.size();
    std::vector<uint8_t> chunk(size_t(1) << 20);
    for (uint64_t at = 0; at < total; at += chunk.size()) {
      uint64_t n = std::min<uint64_t>(chunk.size(), total - at);
      if (llvm::Error e = file.read(chunk.data(), n, at))
        return e;
      signer.update(chunk.data(), n);
    }
    std::array<uint8_t, 128> block = signer.finish(*options.signingKey);
    if (llvm::Error e = file.write(block.data(), block.size(), total))
      return e;
  }
  if (llvm::Error e = file.commit())
    return e;
  if (options.progress)
    options.progress->done(
        "write",
        path.str() + ", " + support::Progress::formatBytes(file.size()) +
            " (header " + support::Progress::formatBytes(fbb.GetSize()) +
            (options.signingKey ? ", signed" : "") + "), synced",
        support::secondsSince(writeStart));
  return llvm::Error::success();
}

} // namespace

llvm::Error writePlan(ModuleOp module, WeightSource &weights,
                      const PlanOptions &options, llvm::StringRef path,
                      const CodeSection *code) {
  return writePlanImpl(module, weights, options, path, code, nullptr);
}

llvm::Error writePlan(ModuleOp module, WeightSource &weights,
                      const PlanOptions &options, llvm::StringRef path,
                      PendingCode pending) {
  return writePlanImpl(module, weights, options, path, nullptr, &pending);
}

} // namespace llmc::plan_writer
