//===- LLMAttrs.cpp - llm dialect attributes -------------------------------===//

#include "dialects/llm/IR/LLMDialect.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace mlir;
using namespace llmc::llm;

#include "dialects/llm/IR/LLMEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/llm/IR/LLMAttrs.cpp.inc"

void LLMDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/llm/IR/LLMAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// RopeAttr syntax: `<kind (, key = value)*>`
//===----------------------------------------------------------------------===//

std::string llmc::llm::formatDouble(double value) {
  char buf[64];
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.1f", value);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value)
      break;
  }
  std::string text(buf);
  if (text.find_first_of(".ni") == std::string::npos) {
    size_t exp = text.find('e');
    text.insert(exp == std::string::npos ? text.size() : exp, ".0");
  }
  return text;
}

namespace {

void printFloatField(AsmPrinter &printer, StringRef name, FloatAttr value) {
  if (value)
    printer << ", " << name << " = " << formatDouble(value.getValueAsDouble());
}

void printArrayField(AsmPrinter &printer, StringRef name,
                     DenseF64ArrayAttr value) {
  if (!value)
    return;
  printer << ", " << name << " = [";
  llvm::interleave(
      value.asArrayRef(), printer,
      [&](double v) { printer << formatDouble(v); }, ", ");
  printer << "]";
}

} // namespace

void RopeAttr::print(AsmPrinter &printer) const {
  printer << "<" << llmc::rope::kindName(getKind());
  printFloatField(printer, "theta", getTheta());
  printer << ", dim = " << getDim();
  if (getLayout() != RopeLayout::HalfSplit)
    printer << ", layout = " << stringifyRopeLayout(getLayout());
  printFloatField(printer, "factor", getFactor());
  printFloatField(printer, "low_freq_factor", getLowFreqFactor());
  printFloatField(printer, "high_freq_factor", getHighFreqFactor());
  if (getOriginalMaxPosition())
    printer << ", original_max_position = " << *getOriginalMaxPosition();
  if (getMaxPosition())
    printer << ", max_position = " << *getMaxPosition();
  printFloatField(printer, "beta_fast", getBetaFast());
  printFloatField(printer, "beta_slow", getBetaSlow());
  printFloatField(printer, "attention_factor", getAttentionFactor());
  if (getTruncate())
    printer << ", truncate = " << (*getTruncate() ? "true" : "false");
  printArrayField(printer, "short_factor", getShortFactor());
  printArrayField(printer, "long_factor", getLongFactor());
  printer << ">";
}

Attribute RopeAttr::parse(AsmParser &parser, Type) {
  MLIRContext *ctx = parser.getContext();
  SMLoc loc = parser.getCurrentLocation();
  StringRef kindName;
  if (parser.parseLess() || parser.parseKeyword(&kindName))
    return {};
  std::optional<llmc::rope::Kind> kind = llmc::rope::parseKind(kindName);
  if (!kind) {
    parser.emitError(loc) << "unknown rope kind '" << kindName << "'";
    return {};
  }
  FloatAttr theta, factor, lowFreq, highFreq, betaFast, betaSlow, attnFactor;
  std::optional<int64_t> dim, originalMax, maxPos;
  std::optional<bool> truncate;
  RopeLayout layout = RopeLayout::HalfSplit;
  DenseF64ArrayAttr shortFactor, longFactor;

  auto parseF64 = [&](FloatAttr &out) -> ParseResult {
    double v;
    if (parser.parseFloat(v))
      return failure();
    out = FloatAttr::get(Float64Type::get(ctx), v);
    return success();
  };
  auto parseI64 = [&](std::optional<int64_t> &out) -> ParseResult {
    int64_t v;
    if (parser.parseInteger(v))
      return failure();
    out = v;
    return success();
  };
  auto parseArray = [&](DenseF64ArrayAttr &out) -> ParseResult {
    SmallVector<double> values;
    if (parser.parseCommaSeparatedList(
            AsmParser::Delimiter::Square, [&]() -> ParseResult {
              double v;
              if (parser.parseFloat(v))
                return failure();
              values.push_back(v);
              return success();
            }))
      return failure();
    out = DenseF64ArrayAttr::get(ctx, values);
    return success();
  };

  while (succeeded(parser.parseOptionalComma())) {
    SMLoc keyLoc = parser.getCurrentLocation();
    StringRef key;
    if (parser.parseKeyword(&key) || parser.parseEqual())
      return {};
    ParseResult r = success();
    if (key == "theta")
      r = parseF64(theta);
    else if (key == "dim")
      r = parseI64(dim);
    else if (key == "layout") {
      StringRef name;
      r = parser.parseKeyword(&name);
      if (succeeded(r)) {
        auto parsed = symbolizeRopeLayout(name);
        if (!parsed) {
          parser.emitError(keyLoc) << "unknown rope layout '" << name << "'";
          return {};
        }
        layout = *parsed;
      }
    } else if (key == "factor")
      r = parseF64(factor);
    else if (key == "low_freq_factor")
      r = parseF64(lowFreq);
    else if (key == "high_freq_factor")
      r = parseF64(highFreq);
    else if (key == "original_max_position")
      r = parseI64(originalMax);
    else if (key == "max_position")
      r = parseI64(maxPos);
    else if (key == "beta_fast")
      r = parseF64(betaFast);
    else if (key == "beta_slow")
      r = parseF64(betaSlow);
    else if (key == "attention_factor")
      r = parseF64(attnFactor);
    else if (key == "truncate") {
      StringRef word;
      r = parser.parseKeyword(&word);
      if (succeeded(r)) {
        if (word != "true" && word != "false") {
          parser.emitError(keyLoc) << "truncate must be true or false";
          return {};
        }
        truncate = word == "true";
      }
    } else if (key == "short_factor")
      r = parseArray(shortFactor);
    else if (key == "long_factor")
      r = parseArray(longFactor);
    else {
      parser.emitError(keyLoc) << "unknown rope parameter '" << key << "'";
      return {};
    }
    if (failed(r))
      return {};
  }
  if (parser.parseGreater())
    return {};
  if (!theta || !dim) {
    parser.emitError(loc) << "rope needs 'theta' and 'dim'";
    return {};
  }
  return parser.getChecked<RopeAttr>(
      loc, ctx, *kind, theta, *dim, layout, factor, lowFreq, highFreq,
      originalMax, maxPos, betaFast, betaSlow, attnFactor, truncate,
      shortFactor, longFactor);
}

LogicalResult
RopeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                 llmc::rope::Kind kind,
                 FloatAttr theta, int64_t dim, RopeLayout layout,
                 FloatAttr factor, FloatAttr lowFreqFactor,
                 FloatAttr highFreqFactor,
                 std::optional<int64_t> originalMaxPosition,
                 std::optional<int64_t> maxPosition, FloatAttr betaFast,
                 FloatAttr betaSlow, FloatAttr attentionFactor,
                 std::optional<bool> truncate, DenseF64ArrayAttr shortFactor,
                 DenseF64ArrayAttr longFactor) {
  StringRef kindName(llmc::rope::kindName(kind));
  if (!theta || !(theta.getValueAsDouble() > 0.0))
    return emitError() << "rope theta must be positive";
  if (dim <= 0 || dim % 2 != 0)
    return emitError() << "rope dim must be positive and even, got " << dim;

  // Each kind takes exactly its own parameters, so that one IR text means
  // one computation.
  struct Field {
    const char *name;
    bool present;
  };
  Field fields[] = {{"factor", bool(factor)},
                    {"low_freq_factor", bool(lowFreqFactor)},
                    {"high_freq_factor", bool(highFreqFactor)},
                    {"original_max_position", bool(originalMaxPosition)},
                    {"max_position", bool(maxPosition)},
                    {"beta_fast", bool(betaFast)},
                    {"beta_slow", bool(betaSlow)},
                    {"attention_factor", bool(attentionFactor)},
                    {"truncate", bool(truncate)},
                    {"short_factor", bool(shortFactor)},
                    {"long_factor", bool(longFactor)}};
  llvm::SmallVector<StringRef> wanted;
  switch (kind) {
  case llmc::rope::Kind::Default:
    break;
  case llmc::rope::Kind::Linear:
    wanted = {"factor"};
    break;
  case llmc::rope::Kind::Dynamic:
    wanted = {"factor", "max_position"};
    break;
  case llmc::rope::Kind::Llama3:
    wanted = {"factor", "low_freq_factor", "high_freq_factor",
              "original_max_position"};
    break;
  case llmc::rope::Kind::Yarn:
    wanted = {"factor",    "original_max_position", "beta_fast",
              "beta_slow", "attention_factor",      "truncate"};
    break;
  case llmc::rope::Kind::LongRope:
    wanted = {"original_max_position", "attention_factor", "short_factor",
              "long_factor"};
    break;
  }
  for (const Field &f : fields) {
    bool isWanted = llvm::is_contained(wanted, f.name);
    if (isWanted && !f.present)
      return emitError() << "rope kind '" << kindName << "' requires '"
                         << f.name << "'";
    if (!isWanted && f.present)
      return emitError() << "rope kind '" << kindName << "' does not take '"
                         << f.name << "'";
  }
  if (factor && !(factor.getValueAsDouble() > 0.0))
    return emitError() << "rope factor must be positive";
  if (originalMaxPosition && *originalMaxPosition <= 0)
    return emitError() << "rope original_max_position must be positive";
  if (maxPosition && *maxPosition <= 0)
    return emitError() << "rope max_position must be positive";
  // Equal factors (Llama 4) leave no band to smooth; transformers takes them.
  if (lowFreqFactor && highFreqFactor &&
      !(highFreqFactor.getValueAsDouble() >= lowFreqFactor.getValueAsDouble()))
    return emitError()
           << "rope high_freq_factor must not be below low_freq_factor";
  for (DenseF64ArrayAttr array : {shortFactor, longFactor})
    if (array && static_cast<int64_t>(array.size()) != dim / 2)
      return emitError() << "rope short_factor/long_factor need dim/2 = "
                         << dim / 2 << " values, got " << array.size();
  return success();
}

double RopeAttr::getAttentionScaling() const {
  return getAttentionFactor() ? getAttentionFactor().getValueAsDouble() : 1.0;
}

llmc::rope::Params RopeAttr::toParams() const {
  llmc::rope::Params p;
  p.kind = getKind();
  p.theta = getTheta().getValueAsDouble();
  p.dim = getDim();
  auto value = [](FloatAttr a, double fallback) {
    return a ? a.getValueAsDouble() : fallback;
  };
  p.factor = value(getFactor(), 1.0);
  p.lowFreqFactor = value(getLowFreqFactor(), p.lowFreqFactor);
  p.highFreqFactor = value(getHighFreqFactor(), p.highFreqFactor);
  p.originalMaxPosition = getOriginalMaxPosition().value_or(0);
  p.maxPosition = getMaxPosition().value_or(0);
  p.betaFast = value(getBetaFast(), p.betaFast);
  p.betaSlow = value(getBetaSlow(), p.betaSlow);
  p.truncate = getTruncate().value_or(true);
  if (getShortFactor())
    p.shortFactor.assign(getShortFactor().asArrayRef().begin(),
                         getShortFactor().asArrayRef().end());
  if (getLongFactor())
    p.longFactor.assign(getLongFactor().asArrayRef().begin(),
                        getLongFactor().asArrayRef().end());
  return p;
}

//===----------------------------------------------------------------------===//
// ModelAttr
//===----------------------------------------------------------------------===//

LogicalResult ModelAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                StringRef family, int64_t vocabSize,
                                int64_t hiddenSize, int64_t numLayers,
                                int64_t maxPositionEmbeddings, Type dtype) {
  if (family.empty())
    return emitError() << "model family must not be empty";
  if (vocabSize <= 0 || hiddenSize <= 0 || numLayers <= 0 ||
      maxPositionEmbeddings <= 0)
    return emitError() << "model sizes must be positive";
  if (!isa<FloatType>(dtype))
    return emitError() << "model dtype must be a float type, got " << dtype;
  return success();
}
