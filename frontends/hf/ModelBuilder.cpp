//===- ModelBuilder.cpp - a resolved HF config as llm dialect IR ----------===//
//
// One decoder layer as the reference computes it for llama, mistral, qwen2,
// qwen3 and their Mixture-of-Experts siblings (pre-norm residual blocks, GQA
// attention over a KV cache, a gated MLP or routed experts). Which variant a
// layer takes comes from the ModelConfig only.

#include "frontends/hf/ModelBuilder.h"

#include "dialects/llm/IR/LLMOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <cmath>

using namespace mlir;

namespace llmc::hf {
namespace {

/// llm::Activation is generated from the schema's enum (PlanEnums.cmake):
/// same names, same values.
llm::Activation toLLM(Activation act) {
  static_assert(llm::getMaxEnumValForActivation() ==
                unsigned(Activation::MAX));
  return llm::Activation(unsigned(act));
}

class Builder {
public:
  Builder(MLIRContext &ctx, const ModelConfig &cfg)
      : ctx(ctx), cfg(cfg), b(&ctx),
        fileLoc(FileLineColLoc::get(&ctx, cfg.path, 1, 1)) {
    switch (cfg.dtype) {
    case DType::BF16:
      act = b.getBF16Type();
      break;
    case DType::F16:
      act = b.getF16Type();
      break;
    case DType::F32:
    case DType::I32:    // never a config's dtype
    case DType::F8E4M3: // only a quantized weight's values
    case DType::I4:
    case DType::I8:
      act = b.getF32Type();
      break;
    }
  }

  OwningOpRef<ModuleOp> build() {
    OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
    (*module)->setAttr(llm::LLMDialect::kModelAttrName,
                       llm::ModelAttr::get(&ctx, cfg.modelType, cfg.vocabSize,
                                           cfg.hiddenSize, cfg.numLayers,
                                           cfg.maxPositionEmbeddings, act));
    b.setInsertionPointToEnd(module->getBody());
    buildStep(llm::Step::Prefill, "prefill");
    buildStep(llm::Step::Decode, "decode");
    return module;
  }

private:
  Location loc(const Twine &name) {
    return NameLoc::get(b.getStringAttr(name), fileLoc);
  }
  RankedTensorType tokens(ArrayRef<int64_t> dims) {
    SmallVector<int64_t> shape{ShapedType::kDynamic};
    shape.append(dims.begin(), dims.end());
    return RankedTensorType::get(shape, act);
  }
  /// The checkpoint's name of the text model's weight `name`.
  std::string weightName(const std::string &name) const {
    return cfg.weightPrefix + name;
  }
  Value param(const std::string &name, ArrayRef<int64_t> shape,
              Type element = {}) {
    return llm::ParamOp::create(
        b, loc(name), RankedTensorType::get(shape, element ? element : act),
        b.getStringAttr(weightName(name)), /*parts=*/nullptr,
        /*rows=*/nullptr, /*transposed=*/false, /*interleaved=*/false,
        /*scales=*/nullptr, /*zeros=*/nullptr,
        /*packing=*/nullptr, /*scaleParts=*/nullptr, /*stored=*/nullptr);
  }
  /// A checkpoint tensor stored in another order: the last two dimensions
  /// of `shape` swapped (Llama 4's and gpt-oss's experts), the halves of
  /// dimension 1 interleaved (gpt-oss's gate/up).
  Value gathered(const std::string &name, ArrayRef<int64_t> shape,
                 bool transposed, bool interleaved) {
    return llm::ParamOp::create(b, loc(name), RankedTensorType::get(shape, act),
                                b.getStringAttr(weightName(name)),
                                /*parts=*/nullptr, /*rows=*/nullptr,
                                transposed, interleaved, /*scales=*/nullptr,
                                /*zeros=*/nullptr, /*packing=*/nullptr, /*scaleParts=*/nullptr, /*stored=*/nullptr);
  }
  /// The checkpoint tensors `parts`, concatenated, as one weight `name`.
  Value stacked(const std::string &name, ArrayRef<int64_t> shape,
                ArrayRef<std::string> parts) {
    std::vector<std::string> names;
    for (const std::string &part : parts)
      names.push_back(weightName(part));
    SmallVector<StringRef> refs(names.begin(), names.end());
    return llm::ParamOp::create(b, loc(name), RankedTensorType::get(shape, act),
                                b.getStringAttr(weightName(name)),
                                b.getStrArrayAttr(refs), /*rows=*/nullptr,
                                /*transposed=*/false, /*interleaved=*/false,
                                /*scales=*/nullptr, /*zeros=*/nullptr,
        /*packing=*/nullptr, /*scaleParts=*/nullptr, /*stored=*/nullptr);
  }
  /// Rows [begin, begin + out) of the [total, in] checkpoint tensor
  /// `source` as the weight of `module` (Phi-3's fused projections).
  Value rowsOf(const std::string &module, const std::string &source,
               int64_t begin, int64_t total, int64_t out, int64_t in) {
    std::string name = weightName(module + ".weight");
    std::string src = weightName(source);
    SmallVector<StringRef> parts{src};
    return llm::ParamOp::create(
        b, loc(module), RankedTensorType::get({out, in}, act),
        b.getStringAttr(name), b.getStrArrayAttr(parts),
        b.getDenseI64ArrayAttr({begin, total}), /*transposed=*/false,
        /*interleaved=*/false, /*scales=*/nullptr, /*zeros=*/nullptr,
        /*packing=*/nullptr, /*scaleParts=*/nullptr, /*stored=*/nullptr);
  }
  Value linearRows(Value x, const std::string &module,
                   const std::string &source, int64_t begin, int64_t total,
                   int64_t out, int64_t in) {
    Value w = rowsOf(module, source, begin, total, out, in);
    return llm::LinearOp::create(b, loc(module), tokens({out}), x, w,
                                 Value());
  }

  /// Whether `module` (a linear of a decoder layer) is stored quantized
  /// (FP8 blocks or int4 groups): every one but those
  /// modules_to_not_convert names (a substring match, as transformers
  /// makes it).
  bool quantizedModule(const std::string &module) const {
    if ((!cfg.fp8 && !cfg.intWeights) ||
        module.find("layers.") == std::string::npos)
      return false;
    if (cfg.fp8) {
      for (const std::string &skip : cfg.fp8->notConverted)
        if (module.find(skip) != std::string::npos)
          return false;
      if (ignoredByCompressedTensors(cfg.fp8->ignore, weightName(module)))
        return false;
    }
    if (cfg.intWeights && cfg.intWeights->ignores(weightName(module)))
      return false;
    return true;
  }
  /// Whether gpt-oss's experts of `block` are MXFP4 (quant_method
  /// "mxfp4", unless modules_to_not_convert names them).
  bool mxfp4Experts(const std::string &block) const {
    if (!cfg.mxfp4)
      return false;
    const std::string module = block + ".experts";
    for (const std::string &skip : cfg.mxfp4->notConverted)
      if (module.find(skip) != std::string::npos)
        return false;
    return true;
  }
  /// A quantized weight [out, in]: FP8 blocks and their
  /// `weight_scale_inv`, or int4 groups along `in` and their f16
  /// `weight_scale` (an odd `in` cannot be packed in whole bytes per row:
  /// that weight stays dense).
  Value quantizedWeight(const std::string &module, int64_t out, int64_t in) {
    llm::QuantWeightType type;
    std::string values = module + ".weight", scales, zeros;
    std::string packing; // as the checkpoint stores the values
    if (cfg.intWeights) {
      // --quantize packs int4 rows of whole bytes; a checkpoint's odd
      // rows cannot be read yet.
      const bool i4 = cfg.intWeights->bits == 4;
      if (i4 && in % 2 != 0 && cfg.quantizeAtCompile)
        return param(module + ".weight", {out, in});
      Type scale = cfg.intWeights->scaleDtype == DType::BF16  ? b.getBF16Type()
                   : cfg.intWeights->scaleDtype == DType::F32 ? b.getF32Type()
                                                        : b.getF16Type();
      // GPTQ's zero points reach 2^bits (stored 2^bits - 1, plus one):
      // re-based, one more than the values' signed range; held as i8.
      const unsigned zeroBits = cfg.intWeights->gptq ? 8 : i4 ? 4 : 8;
      type = llm::QuantWeightType::get(
          &ctx, {out, in}, b.getIntegerType(i4 ? 4 : 8),
          {1, std::min(cfg.intWeights->group, in)}, scale,
          cfg.intWeights->zeros ? b.getIntegerType(zeroBits) : Type());
      if (cfg.intWeights->zeros)
        zeros = module + ".weight_zero_point";
      scales = module + ".weight_scale";
      if (cfg.intWeights->awq) {
        values = module + ".qweight";
        scales = module + ".scales";
        zeros = module + ".qzeros";
        packing = "awq-gemm";
      } else if (cfg.intWeights->gptq) {
        values = module + ".qweight";
        scales = module + ".scales";
        zeros = module + ".qzeros";
        packing = cfg.intWeights->gptqZeroOffset ? "gptq" : "gptq-v2";
      } else if (!cfg.quantizeAtCompile) {
        values = module + ".weight_packed";
        packing = "pack-quantized";
      }
    } else {
      type = llm::QuantWeightType::get(
          &ctx, {out, in}, b.getType<Float8E4M3FNType>(),
          {std::min(cfg.fp8->rows, out), std::min(cfg.fp8->cols, in)},
          b.getF32Type(), Type());
      scales = module + "." + cfg.fp8->scaleSuffix;
    }
    return llm::ParamOp::create(
        b, loc(module), type, b.getStringAttr(weightName(values)),
        /*parts=*/nullptr, /*rows=*/nullptr, /*transposed=*/false,
        /*interleaved=*/false, b.getStringAttr(weightName(scales)),
        zeros.empty() ? StringAttr() : b.getStringAttr(weightName(zeros)),
        packing.empty() ? StringAttr() : b.getStringAttr(packing),
        /*scaleParts=*/nullptr, /*stored=*/nullptr);
  }
  /// A quantized weight of `type` read from `values` and `scales` (each
  /// the concatenation of `parts` / `scaleParts` when those are given).
  Value quantParam(const std::string &name, llm::QuantWeightType type,
                   const std::string &values, const std::string &scales,
                   ArrayRef<std::string> parts = {},
                   ArrayRef<std::string> scaleParts = {},
                   bool interleaved = false) {
    auto list = [&](ArrayRef<std::string> names) -> ArrayAttr {
      if (names.empty())
        return nullptr;
      std::vector<std::string> full;
      for (const std::string &n : names)
        full.push_back(weightName(n));
      SmallVector<StringRef> refs(full.begin(), full.end());
      return b.getStrArrayAttr(refs);
    };
    return llm::ParamOp::create(
        b, loc(name), type, b.getStringAttr(weightName(values)), list(parts),
        /*rows=*/nullptr, /*transposed=*/false, interleaved,
        b.getStringAttr(weightName(scales)), /*zeros=*/nullptr,
        /*packing=*/nullptr, list(scaleParts), /*stored=*/nullptr);
  }
  /// FP8 blocks of a stacked expert weight [E, rows, cols]: each expert's
  /// block grid as its checkpoint tensors have it (a partial last block
  /// row or column when they are shorter than a block).
  llm::QuantWeightType fp8Experts(int64_t E, int64_t rows, int64_t partRows,
                                  int64_t cols) {
    return llm::QuantWeightType::get(
        &ctx, {E, rows, cols}, b.getType<Float8E4M3FNType>(),
        {1, std::min(cfg.fp8->rows, partRows), std::min(cfg.fp8->cols, cols)},
        b.getF32Type(), Type());
  }

  /// `module.weight`, and `module.bias` when `bias`.
  Value linear(Value x, const std::string &module, int64_t out, int64_t in,
               bool bias) {
    Value w = quantizedModule(module) ? quantizedWeight(module, out, in)
                                      : param(module + ".weight", {out, in});
    Value bv = bias ? param(module + ".bias", {out}) : Value();
    auto l = llm::LinearOp::create(b, loc(module), tokens({out}), x, w, bv);
    // --fp8-activations: where the weight's blocks are the activation
    // groups (llmc compile refuses a model with other FP8 linears).
    auto q = dyn_cast<llm::QuantWeightType>(w.getType());
    if (cfg.fp8Activations && q && isa<Float8E4M3FNType>(q.getStorage()) &&
        q.getBlock()[1] == llm::kFp8ActivationGroup &&
        in % llm::kFp8ActivationGroup == 0)
      l.setFp8Activations(true);
    return l;
  }
  /// x * factor (or / factor), in fp32, rounded once.
  Value scale(Value x, const std::string &name, double factor,
              bool divide = false) {
    return llm::ScaleOp::create(b, loc(name), x.getType(), x,
                                b.getF64FloatAttr(factor),
                                divide ? b.getUnitAttr() : UnitAttr());
  }

  /// The family's RMSNorm (cfg.normVariant) of the last dimension.
  Value rmsNorm(Value x, const std::string &module, int64_t size,
                std::optional<double> eps = {}) {
    Value w = param(module + ".weight", {size});
    static_assert(llm::getMaxEnumValForRMSNormVariant() ==
                  unsigned(llmc::plan::RMSNormVariant::MAX));
    return llm::RMSNormOp::create(
        b, loc(module), x.getType(), x, w,
        llm::RMSNormVariantAttr::get(
            &ctx, llm::RMSNormVariant(unsigned(cfg.normVariant))),
        b.getF64FloatAttr(eps.value_or(cfg.rmsNormEps)));
  }

  /// x * rsqrt(mean(x^2) + eps) in fp32, rounded: no weight.
  Value weightlessNorm(Value x, const std::string &module) {
    return llm::RMSNormOp::create(
        b, loc(module), x.getType(), x, Value(),
        llm::RMSNormVariantAttr::get(&ctx, llm::RMSNormVariant::NoWeight),
        b.getF64FloatAttr(cfg.rmsNormEps));
  }

  llm::RopeAttr ropeAttr(llm::RopeLayout layout = llm::RopeLayout::HalfSplit) {
    return ropeAttrOf(cfg.rope, cfg.ropeAttentionFactor, layout);
  }
  llm::RopeAttr ropeAttrOf(const rope::Params &p, double attentionFactor,
                           llm::RopeLayout layout = llm::RopeLayout::HalfSplit) {
    auto f64 = [&](double v) { return b.getF64FloatAttr(v); };
    FloatAttr factor, low, high, betaFast, betaSlow, attnFactor;
    std::optional<int64_t> originalMax, maxPos;
    std::optional<bool> truncate;
    DenseF64ArrayAttr shortFactor, longFactor;
    switch (p.kind) {
    case rope::Kind::Default:
      break;
    case rope::Kind::Linear:
      factor = f64(p.factor);
      break;
    case rope::Kind::Dynamic:
      factor = f64(p.factor);
      maxPos = p.maxPosition;
      break;
    case rope::Kind::Llama3:
      factor = f64(p.factor);
      low = f64(p.lowFreqFactor);
      high = f64(p.highFreqFactor);
      originalMax = p.originalMaxPosition;
      break;
    case rope::Kind::Yarn:
      factor = f64(p.factor);
      originalMax = p.originalMaxPosition;
      betaFast = f64(p.betaFast);
      betaSlow = f64(p.betaSlow);
      attnFactor = f64(attentionFactor);
      truncate = p.truncate;
      break;
    case rope::Kind::LongRope:
      originalMax = p.originalMaxPosition;
      attnFactor = f64(attentionFactor);
      shortFactor = b.getDenseF64ArrayAttr(p.shortFactor);
      longFactor = b.getDenseF64ArrayAttr(p.longFactor);
      break;
    }
    return llm::RopeAttr::get(&ctx, p.kind,
                              f64(p.theta), p.dim, layout,
                              factor, low, high, originalMax, maxPos, betaFast,
                              betaSlow, attnFactor, truncate, shortFactor,
                              longFactor);
  }

  Type cacheType(int64_t layer) {
    if (cfg.mla)
      return llm::LatentCacheType::get(&ctx, cfg.mla->kvLoraRank,
                                       cfg.mla->ropeDim, act);
    int64_t window = cfg.slidingLayers[layer] ? *cfg.slidingWindow : 0;
    Type dtype = cfg.fp8KVCache ? Type(b.getType<Float8E4M3FNType>()) : act;
    return llm::KVCacheType::get(&ctx, cfg.numKVHeads, cfg.headDim, dtype,
                                 window);
  }

  void buildStep(llm::Step step, StringRef name) {
    auto ids = RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type());
    SmallVector<Type> inputs{ids, ids, ids};  // tokens, positions, slots
    SmallVector<Type> results{tokens({cfg.vocabSize})};
    for (int64_t i = 0; i < cfg.numLayers; ++i) {
      inputs.push_back(cacheType(i));
      results.push_back(cacheType(i));
    }
    auto fn = func::FuncOp::create(b, fileLoc, name,
                                   b.getFunctionType(inputs, results));
    fn->setAttr(llm::LLMDialect::kStepAttrName,
                llm::StepAttr::get(&ctx, step));
    OpBuilder::InsertionGuard guard(b);
    Block *body = fn.addEntryBlock();
    b.setInsertionPointToStart(body);

    Value tokenIds = body->getArgument(0), positions = body->getArgument(1),
          slots = body->getArgument(2);
    const int64_t H = cfg.hiddenSize;
    Value table = param("model.embed_tokens.weight", {cfg.vocabSize, H});
    Value h = llm::EmbeddingOp::create(
        b, loc("model.embed_tokens"), tokens({H}), tokenIds, table,
        cfg.embeddingScale ? b.getF64FloatAttr(*cfg.embeddingScale)
                           : FloatAttr());
    if (cfg.embeddingMultiplier != 1.0)
      h = scale(h, "model.embedding_multiplier", cfg.embeddingMultiplier);
    llm::RopeAttr rope =
        ropeAttr(cfg.ropeInterleaved || (cfg.mla && cfg.mla->ropeInterleaved)
                     ? llm::RopeLayout::Interleaved
                     : llm::RopeLayout::HalfSplit);
    localRope = cfg.localRope ? ropeAttrOf(*cfg.localRope, 1.0) : rope;
    SmallVector<Value> caches;
    for (int64_t i = 0; i < cfg.numLayers; ++i)
      h = buildLayer(i, h, positions, slots, body->getArgument(3 + i), rope,
                     caches);

    Value normed = rmsNorm(h, "model.norm", H);
    Value head = cfg.tieWordEmbeddings
                     ? param("model.embed_tokens.weight", {cfg.vocabSize, H})
                     : param("lm_head.weight", {cfg.vocabSize, H});
    Value logits = llm::LMHeadOp::create(b, loc("lm_head"),
                                         tokens({cfg.vocabSize}), normed, head);
    if (cfg.logitsDivisor != 1.0)
      logits = scale(logits, "logits_scaling", cfg.logitsDivisor,
                     /*divide=*/true);
    if (cfg.finalSoftcap)
      logits = llm::SoftcapOp::create(b, loc("final_logit_softcapping"),
                                      logits.getType(), logits,
                                      b.getF64FloatAttr(*cfg.finalSoftcap));
    SmallVector<Value> outs{logits};
    outs.append(caches);
    func::ReturnOp::create(b, fileLoc, outs);
  }

  Value buildLayer(int64_t i, Value h, Value positions, Value slots,
                   Value cache, llm::RopeAttr rope,
                   SmallVectorImpl<Value> &caches) {
    const std::string p = "model.layers." + std::to_string(i);
    const std::string attn = p + ".self_attn";
    const int64_t H = cfg.hiddenSize, d = cfg.headDim, nH = cfg.numHeads,
                  nKV = cfg.numKVHeads;

    // Post-norm layers (OLMo 2) read the residual stream itself.
    Value x = cfg.normPlacement == NormPlacement::Post
                  ? h
                  : rmsNorm(h, p + ".input_layernorm", H);
    if (cfg.mla) {
      Value o = mlaAttention(x, attn, positions, slots, cache, rope, caches);
      h = llm::AddOp::create(b, loc(p + ".residual"), h.getType(), h, o);
      return mlpBlock(i, h, p);
    }
    Value q, k, v;
    if (cfg.fusedProjections) {
      // qkv_proj: q rows, then k, then v.
      const std::string qkv = attn + ".qkv_proj.weight";
      const int64_t total = (nH + 2 * nKV) * d;
      q = linearRows(x, attn + ".q_proj", qkv, 0, total, nH * d, H);
      k = linearRows(x, attn + ".k_proj", qkv, nH * d, total, nKV * d, H);
      v = linearRows(x, attn + ".v_proj", qkv, (nH + nKV) * d, total,
                     nKV * d, H);
    } else {
      q = linear(x, attn + ".q_proj", nH * d, H, cfg.qkvBias);
      k = linear(x, attn + ".k_proj", nKV * d, H, cfg.qkvBias);
      v = linear(x, attn + ".v_proj", nKV * d, H, cfg.qkvBias);
    }
    if (cfg.qkNormFull) {
      q = rmsNorm(q, attn + ".q_norm", nH * d);
      k = rmsNorm(k, attn + ".k_norm", nKV * d);
    }
    q = llm::SplitHeadsOp::create(b, loc(attn + ".q_proj"), tokens({nH, d}), q);
    k = llm::SplitHeadsOp::create(b, loc(attn + ".k_proj"), tokens({nKV, d}), k);
    v = llm::SplitHeadsOp::create(b, loc(attn + ".v_proj"), tokens({nKV, d}), v);
    if (cfg.qkNorm) {
      q = rmsNorm(q, attn + ".q_norm", d);
      k = rmsNorm(k, attn + ".k_norm", d);
    }
    // NoPE layers (SmolLM3, Llama 4) rotate nothing; sliding layers may
    // have their own RoPE (Gemma 3, OLMo 3).
    const bool ropeLayer = cfg.ropeLayers.empty() || cfg.ropeLayers[i];
    if (ropeLayer) {
      llm::RopeAttr layerRope = cfg.slidingLayers[i] ? localRope : rope;
      q = llm::RopeOp::create(b, loc(attn + ".rotary_emb"), q.getType(), q,
                              positions, layerRope, 0, cfg.ropeInFp32);
      k = llm::RopeOp::create(b, loc(attn + ".rotary_emb"), k.getType(), k,
                              positions, layerRope, 0, cfg.ropeInFp32);
      // Llama 4: a weightless norm of the rotated heads.
      if (cfg.qkL2NormAfterRope) {
        q = weightlessNorm(q, attn + ".qk_norm");
        k = weightlessNorm(k, attn + ".qk_norm");
      }
    } else if (cfg.attnTemperature) {
      q = llm::AttnTemperatureOp::create(
          b, loc(attn + ".attn_temperature"), q.getType(), q, positions,
          b.getF64FloatAttr(cfg.attnTemperature->floorScale),
          b.getF64FloatAttr(cfg.attnTemperature->scale));
    }

    Value updated = llm::KVCacheWriteOp::create(
        b, loc(attn + ".kv_cache"), cache.getType(), k, v, cache, slots,
        positions);
    caches.push_back(updated);
    std::optional<int64_t> window;
    if (cfg.slidingLayers[i])
      window = cfg.slidingWindow;
    Value sinks = cfg.attentionSinks ? param(attn + ".sinks", {nH}) : Value();
    Value a = llm::AttentionOp::create(
        b, loc(attn), q.getType(), q, updated, slots, positions, sinks,
        /*step_key=*/Value(), /*step_value=*/Value(),
        b.getF64FloatAttr(
            cfg.attentionScale.value_or(1.0 / std::sqrt(double(d)))),
        window ? b.getI64IntegerAttr(*window) : IntegerAttr(),
        !cfg.chunkedLayers.empty() && cfg.chunkedLayers[i]
            ? b.getI64IntegerAttr(*cfg.attentionChunk)
            : IntegerAttr(),
        cfg.attentionSoftcap ? b.getF64FloatAttr(*cfg.attentionSoftcap)
                             : FloatAttr());
    a = llm::MergeHeadsOp::create(b, loc(attn + ".o_proj"), tokens({nH * d}), a);
    Value o = linear(a, attn + ".o_proj", H, nH * d, cfg.oBias);
    if (cfg.normPlacement != NormPlacement::Pre)
      o = rmsNorm(o, p + ".post_attention_layernorm", H);
    if (cfg.residualMultiplier != 1.0)
      o = scale(o, p + ".residual_multiplier", cfg.residualMultiplier);
    h = llm::AddOp::create(b, loc(p + ".residual"), h.getType(), h, o);
    return mlpBlock(i, h, p);
  }

  /// The second half of layer i: post-attention norm, dense MLP or MoE,
  /// residual.
  Value mlpBlock(int64_t i, Value h, const std::string &p) {
    const int64_t H = cfg.hiddenSize;
    Value y = cfg.normPlacement == NormPlacement::Pre
                  ? rmsNorm(h, p + ".post_attention_layernorm", H)
              : cfg.normPlacement == NormPlacement::Sandwich
                  ? rmsNorm(h, p + ".pre_feedforward_layernorm", H)
                  : h;
    Value out = cfg.moeLayers.empty() || !cfg.moeLayers[i]
                    ? gatedMLP(y, p + "." + cfg.mlpModule,
                               cfg.denseIntermediateSize
                                   ? cfg.denseIntermediateSize
                                   : cfg.intermediateSize)
                    : moe(y, p);
    if (cfg.normPlacement != NormPlacement::Pre)
      out = rmsNorm(out, p + ".post_feedforward_layernorm", H);
    if (cfg.residualMultiplier != 1.0)
      out = scale(out, p + ".residual_multiplier", cfg.residualMultiplier);
    return llm::AddOp::create(b, loc(p + ".residual"), h.getType(), h, out);
  }

  /// DeepSeek's Multi-head Latent Attention (shared/MODELS.md §7) in the
  /// expanded form the reference computes; llm-absorb-mla rewrites it.
  Value mlaAttention(Value x, const std::string &attn, Value positions,
                     Value slots, Value cache, llm::RopeAttr rope,
                     SmallVectorImpl<Value> &caches) {
    const MLAConfig &m = *cfg.mla;
    const int64_t H = cfg.hiddenSize, nH = cfg.numHeads;
    const int64_t qDim = m.nopeDim + m.ropeDim;
    // The low-rank norms' eps is fixed at 1e-6 (DeepseekV3RMSNorm's
    // default), not rms_norm_eps.
    constexpr double kLowRankEps = 1e-6;
    Value q;
    if (m.qLoraRank > 0) {
      q = linear(x, attn + ".q_a_proj", m.qLoraRank, H, cfg.qkvBias);
      q = rmsNorm(q, attn + ".q_a_layernorm", m.qLoraRank, kLowRankEps);
      q = linear(q, attn + ".q_b_proj", nH * qDim, m.qLoraRank, false);
    } else {
      q = linear(x, attn + ".q_proj", nH * qDim, H, false);
    }
    q = llm::SplitHeadsOp::create(b, loc(attn + ".q_proj"),
                                  tokens({nH, qDim}), q);
    q = llm::RopeOp::create(b, loc(attn + ".rotary_emb"), q.getType(), q,
                            positions, rope, m.nopeDim, m.ropeInFp32);
    Value kv = linear(x, attn + ".kv_a_proj_with_mqa",
                      m.kvLoraRank + m.ropeDim, H, cfg.qkvBias);
    Value normW = param(attn + ".kv_a_layernorm.weight", {m.kvLoraRank});
    Value updated = llm::LatentCacheWriteOp::create(
        b, loc(attn + ".kv_a_layernorm"), cache.getType(), kv, normW, cache,
        slots, positions, b.getF64FloatAttr(kLowRankEps), rope,
        m.ropeInFp32 ? b.getUnitAttr() : UnitAttr());
    caches.push_back(updated);
    const int64_t kvBRows = nH * (m.nopeDim + m.vDim);
    // kv_b_proj is split per head by the absorbed attention, which reads
    // it dense: an FP8 checkpoint's is dequantized when the plan is
    // written.
    Value kvB =
        cfg.fp8 && quantizedModule(attn + ".kv_b_proj")
            ? llm::ParamOp::create(
                  b, loc(attn + ".kv_b_proj"),
                  RankedTensorType::get({kvBRows, m.kvLoraRank}, act),
                  b.getStringAttr(weightName(attn + ".kv_b_proj.weight")),
                  /*parts=*/nullptr, /*rows=*/nullptr, /*transposed=*/false,
                  /*interleaved=*/false,
                  b.getStringAttr(weightName(attn + ".kv_b_proj." +
                                             cfg.fp8->scaleSuffix)),
                  /*zeros=*/nullptr, /*packing=*/nullptr,
                  /*scaleParts=*/nullptr,
                  TypeAttr::get(llm::QuantWeightType::get(
                      &ctx, {kvBRows, m.kvLoraRank},
                      b.getType<Float8E4M3FNType>(),
                      {std::min(cfg.fp8->rows, kvBRows),
                       std::min(cfg.fp8->cols, m.kvLoraRank)},
                      b.getF32Type(), Type())))
            : param(attn + ".kv_b_proj.weight", {kvBRows, m.kvLoraRank});
    Value a = llm::MLAAttentionOp::create(
        b, loc(attn), tokens({nH, m.vDim}), q, updated, kvB, slots, positions,
        b.getF64FloatAttr(m.scale));
    a = llm::MergeHeadsOp::create(b, loc(attn + ".o_proj"),
                                  tokens({nH * m.vDim}), a);
    return linear(a, attn + ".o_proj", H, nH * m.vDim, cfg.oBias);
  }

  /// down(act(gate(y)) * up(y)), the MLP of dense layers and shared experts.
  Value gatedMLP(Value y, const std::string &mlp, int64_t I) {
    const int64_t H = cfg.hiddenSize;
    Value gate, up;
    if (cfg.fusedProjections) {
      // gate_up_proj: the gate's rows, then up's.
      const std::string gateUp = mlp + ".gate_up_proj.weight";
      gate = linearRows(y, mlp + ".gate_proj", gateUp, 0, 2 * I, I, H);
      up = linearRows(y, mlp + ".up_proj", gateUp, I, 2 * I, I, H);
    } else {
      gate = linear(y, mlp + ".gate_proj", I, H, cfg.mlpBias);
      up = linear(y, mlp + ".up_proj", I, H, cfg.mlpBias);
    }
    Value m = llm::GLUOp::create(
        b, loc(mlp + ".act_fn"), gate.getType(), gate, up,
        llm::ActivationAttr::get(&ctx, toLLM(cfg.hiddenAct)));
    return linear(m, mlp + ".down_proj", H, I, cfg.mlpBias);
  }

  /// The routed experts (and shared ones) of layer `p`, reading per-expert
  /// checkpoint tensors stacked into transformers' fused layout.
  Value moe(Value y, const std::string &p) {
    const MoEConfig &m = *cfg.moe;
    const int64_t H = cfg.hiddenSize, E = m.numExperts, I = m.intermediateSize,
                  k = m.topK;
    const std::string block =
        p + (m.mixtralNames ? ".block_sparse_moe" : "." + cfg.mlpModule);
    const std::string gateName = m.mixtralNames ? "w1" : "gate_proj";
    const std::string upName = m.mixtralNames ? "w3" : "up_proj";
    const std::string downName = m.mixtralNames ? "w2" : "down_proj";

    const std::string routerName = m.llama4 || m.gptOss ? ".router" : ".gate";
    Value router = param(block + routerName + ".weight", {E, H});
    Value logitBias =
        m.gptOss ? param(block + routerName + ".bias", {E}) : Value();
    Value bias = m.correctionBias
                     ? param(block + (m.biasOnBlock ? "" : ".gate") +
                                 ".e_score_correction_bias",
                             {E}, b.getF32Type())
                     : Value();
    auto weightsType = RankedTensorType::get(
        {ShapedType::kDynamic, k}, m.weightsInActDtype ? act : b.getF32Type());
    auto idsType =
        RankedTensorType::get({ShapedType::kDynamic, k}, b.getI32Type());
    auto route = llm::MoERouterOp::create(
        b, loc(block + routerName), weightsType, idsType, y, router, bias,
        logitBias,
        static_cast<llm::RouterScoring>(unsigned(m.scoring)),
        uint64_t(m.topK), uint64_t(m.groups), uint64_t(m.topGroups),
        static_cast<llm::RouterGroupScore>(unsigned(m.groupScore)),
        m.logitsInF32, m.normalize, llvm::APFloat(m.normalizeEpsilon),
        llvm::APFloat(m.scaling));

    Value gateUp, down, gateUpBias, downBias;
    if (m.gptOss && mxfp4Experts(block)) {
      // MXFP4 (transformers' Mxfp4 quantizer): [E, out, in / 32, 16] bytes
      // of e2m1 pairs and [E, out, in / 32] e8m0 scales, not transposed;
      // gate/up rows interleaved as the dense columns are.
      auto mx = [&](int64_t rows, int64_t cols) {
        return llm::QuantWeightType::get(
            &ctx, {E, rows, cols}, b.getType<Float4E2M1FNType>(), {1, 1, 32},
            b.getType<Float8E8M0FNUType>(), Type());
      };
      const std::string gu = block + ".experts.gate_up_proj";
      const std::string dn = block + ".experts.down_proj";
      gateUp = quantParam(gu, mx(2 * I, H), gu + "_blocks", gu + "_scales",
                          {}, {}, /*interleaved=*/true);
      down = quantParam(dn, mx(H, I), dn + "_blocks", dn + "_scales");
      gateUpBias = gathered(block + ".experts.gate_up_proj_bias", {E, 2 * I},
                            /*transposed=*/false, /*interleaved=*/true);
      downBias = param(block + ".experts.down_proj_bias", {E, H});
    } else if (m.gptOss) {
      // Fused for x W, gate/up columns interleaved (2j gate j, 2j + 1 up j),
      // the bias likewise.
      gateUp = gathered(block + ".experts.gate_up_proj", {E, 2 * I, H},
                        /*transposed=*/true, /*interleaved=*/true);
      down = gathered(block + ".experts.down_proj", {E, H, I},
                      /*transposed=*/true, /*interleaved=*/false);
      gateUpBias = gathered(block + ".experts.gate_up_proj_bias", {E, 2 * I},
                            /*transposed=*/false, /*interleaved=*/true);
      downBias = param(block + ".experts.down_proj_bias", {E, H});
    } else if (m.llama4) {
      // Fused, for x W: [E, H, 2I] (gate columns first) and [E, I, H].
      gateUp = gathered(block + ".experts.gate_up_proj", {E, 2 * I, H},
                        /*transposed=*/true, /*interleaved=*/false);
      down = gathered(block + ".experts.down_proj", {E, H, I},
                      /*transposed=*/true, /*interleaved=*/false);
    } else {
      std::vector<std::string> gateUpParts, downParts;
      for (int64_t e = 0; e < E; ++e) {
        const std::string expert =
            block + ".experts." + std::to_string(e) + ".";
        gateUpParts.push_back(expert + gateName + ".weight");
        gateUpParts.push_back(expert + upName + ".weight");
        downParts.push_back(expert + downName + ".weight");
      }
      const std::string gu = block + ".experts.gate_up_proj";
      const std::string dn = block + ".experts.down_proj";
      if (quantizedModule(block + ".experts")) {
        // FP8 (DeepSeek V3, Qwen3-MoE-FP8): every part with its scales.
        auto scalesOf = [&](const std::vector<std::string> &parts) {
          std::vector<std::string> out;
          for (const std::string &part : parts)
            out.push_back(part.substr(0, part.size() - 6) + cfg.fp8->scaleSuffix);
          return out;
        };
        const std::string suffix = "_" + cfg.fp8->scaleSuffix;
        gateUp = quantParam(gu, fp8Experts(E, 2 * I, I, H), gu, gu + suffix,
                            gateUpParts, scalesOf(gateUpParts));
        down = quantParam(dn, fp8Experts(E, H, H, I), dn, dn + suffix,
                          downParts, scalesOf(downParts));
      } else {
        gateUp = stacked(gu, {E, 2 * I, H}, gateUpParts);
        down = stacked(dn, {E, H, I}, downParts);
      }
    }
    Value out = llm::MoEExpertsOp::create(
        b, loc(block + ".experts"), y.getType(), y, route.getWeights(),
        route.getExpertIds(), gateUp, down, gateUpBias, downBias,
        llm::ActivationAttr::get(&ctx, m.gptOss ? llm::Activation::Silu
                                                : toLLM(cfg.hiddenAct)),
        m.llama4 ? b.getUnitAttr() : UnitAttr(),
        m.gptOss ? b.getF64FloatAttr(m.swigluLimit) : FloatAttr(),
        m.gptOss ? b.getF64FloatAttr(m.swigluAlpha) : FloatAttr());
    if (m.sharedIntermediateSize > 0) {
      const std::string sharedName =
          block + (m.sharedGate || m.llama4 ? ".shared_expert"
                                            : ".shared_experts");
      Value shared = gatedMLP(y, sharedName, m.sharedIntermediateSize);
      if (m.sharedGate) {
        Value gate = param(block + ".shared_expert_gate.weight", {1, H});
        shared = llm::SigmoidGateOp::create(
            b, loc(block + ".shared_expert_gate"), y.getType(), y, gate,
            shared);
      }
      out = llm::AddOp::create(b, loc(sharedName), y.getType(), out, shared);
    }
    return out;
  }

  MLIRContext &ctx;
  const ModelConfig &cfg;
  /// The sliding layers' RoPE (the global one unless cfg.localRope).
  llm::RopeAttr localRope;
  OpBuilder b;
  Location fileLoc;
  Type act;
};

} // namespace

OwningOpRef<ModuleOp> buildModule(MLIRContext &context,
                                  const ModelConfig &config) {
  context.loadDialect<llm::LLMDialect, func::FuncDialect>();
  return Builder(context, config).build();
}

} // namespace llmc::hf
