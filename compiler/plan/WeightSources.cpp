//===- WeightSources.cpp - checkpoint and random weights for a plan
//--------===//

#include "compiler/plan/PlanWriter.h"
#include "compiler/plan/Quantize.h"

#include "frontends/hf/safetensors/Safetensors.h"
#include "runtime/schema/PlanFormat.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/xxhash.h"

#include <array>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>

namespace llmc::plan_writer {
namespace {

hf::TensorDType toTensorDType(llmc::plan::DType d) {
  switch (d) {
  case llmc::plan::DType::F16:
    return hf::TensorDType::F16;
  case llmc::plan::DType::BF16:
    return hf::TensorDType::BF16;
  case llmc::plan::DType::F8E4M3:
    return hf::TensorDType::F8_E4M3;
  case llmc::plan::DType::F32:
  case llmc::plan::DType::I32: // never a weight's (PlanWriter checks)
  case llmc::plan::DType::I4:  // only computed here (--quantize, random)
  case llmc::plan::DType::I8:  // or read packed (llm.param ... packing)
    break;
  case llmc::plan::DType::F4E2M1: // MXFP4 blocks and scales: bytes
  case llmc::plan::DType::E8M0:
    return hf::TensorDType::U8;
  }
  return hf::TensorDType::F32;
}

class SafetensorsSource : public WeightSource {
public:
  SafetensorsSource(const hf::SafetensorsArchive &archive, bool tied,
                    bool quantize, QuantReport *report)
      : archive(archive), tied(tied), quantize(quantize), report(report) {}

  llvm::Error check(const WeightSpec &spec) override {
    if (quantize && !spec.scalesOf.empty())
      return llvm::Error::success(); // computed with its weight's values
    if (quantize && !spec.block.empty())
      return checkTensor(spec.name, spec.shape);
    if (!spec.zerosOf.empty())
      return checkZeros(spec);
    if (spec.packing == "pack-quantized")
      return checkPacked(spec);
    if (spec.packing == "awq-gemm")
      return checkAWQ(spec);
    if (isGPTQ(spec))
      return checkGPTQ(spec);
    if (isMX(spec))
      return checkMX(spec);
    if (!spec.storedScales.empty())
      return checkStoredFP8(spec);
    if (spec.transposed || spec.interleaved) {
      std::vector<int64_t> source = spec.shape;
      if (spec.transposed)
        std::swap(source[source.size() - 1], source[source.size() - 2]);
      if (llvm::Error e = checkTensor(spec.name, source,
                                      spec.dtype == llmc::plan::DType::F8E4M3))
        return e;
      return spec.scalesOf.empty() ? llvm::Error::success()
                                   : checkStoredAs(spec, spec.name);
    }
    const bool fp8 = spec.dtype == llmc::plan::DType::F8E4M3;
    if (spec.parts.empty()) {
      if (llvm::Error e = checkTensor(spec.name, scalesShape(spec), fp8))
        return e;
      return checkStoredAs(spec, spec.name);
    }
    if (spec.sourceRows > 0) {
      std::vector<int64_t> source = spec.shape;
      source[0] = spec.sourceRows;
      return checkTensor(spec.parts.front(), source);
    }
    // Stacked parts (a quantized weight's and its scales' alike: each
    // part's values as stored, its scales at most widened).
    std::vector<int64_t> shape = spec.partShape();
    for (const std::string &part : spec.parts) {
      if (llvm::Error e =
              checkTensor(part, scalesShape(spec, part, shape), fp8))
        return e;
      if (llvm::Error e = checkStoredAs(spec, part))
        return e;
    }
    return llvm::Error::success();
  }

  llvm::Error fill(const WeightSpec &spec, uint64_t offset,
                   llvm::MutableArrayRef<uint8_t> out) override {
    if (quantize && (!spec.block.empty() || !spec.scalesOf.empty()))
      return fillQuantized(spec, offset, out);
    if (!spec.zerosOf.empty())
      return fillZeros(spec, offset, out);
    if (spec.packing == "pack-quantized")
      return fillPacked(spec, offset, out);
    if (spec.packing == "awq-gemm")
      return fillAWQ(spec, offset, out);
    if (isGPTQ(spec))
      return fillGPTQ(spec, offset, out);
    if (isMX(spec))
      return fillMX(spec, offset, out);
    if (!spec.storedScales.empty())
      return fillStoredFP8(spec, offset, out);
    if (spec.transposed || spec.interleaved)
      return fillGathered(spec, offset, out);
    if (spec.parts.empty())
      return fillTensor(spec.name, spec.dtype, offset, out);
    if (spec.sourceRows > 0) {
      // Rows are contiguous: the slice starts rowBegin rows in.
      const uint64_t rowBytes = spec.bytes() / uint64_t(spec.shape[0]);
      return fillTensor(spec.parts.front(), spec.dtype,
                        uint64_t(spec.rowBegin) * rowBytes + offset, out);
    }
    // Part p holds bytes [p * partBytes, (p + 1) * partBytes).
    const uint64_t partBytes = spec.bytes() / spec.parts.size();
    while (!out.empty()) {
      const size_t p = size_t(offset / partBytes);
      const uint64_t within = offset % partBytes;
      const uint64_t n = std::min<uint64_t>(partBytes - within, out.size());
      if (llvm::Error e =
              fillTensor(spec.parts[p], spec.dtype, within, out.take_front(n)))
        return e;
      offset += n;
      out = out.drop_front(n);
    }
    return llvm::Error::success();
  }

private:
  /// A multimodal wrapper's text weights ("language_model.model.X",
  /// "language_model.lm_head.weight", the legacy names transformers still
  /// writes) under the other names checkpoints use: v5's module names
  /// "model.language_model.X" and "lm_head.weight", and
  /// "model.language_model.model.X" (saves of transformers 5.10-5.23).
  std::string resolveName(const std::string &name) const {
    if (archive.find(name))
      return name;
    llvm::StringRef n(name);
    std::vector<std::string> candidates;
    if (n.consume_front("language_model.model.")) {
      candidates.push_back("model.language_model." + n.str());
      candidates.push_back("model.language_model.model." + n.str());
    } else if (n == "language_model.lm_head.weight") {
      candidates.push_back("lm_head.weight");
    }
    for (const std::string &c : candidates)
      if (archive.find(c))
        return c;
    return name;
  }

  /// A weight whose elements are the checkpoint's in another order
  /// (transposed last two dimensions, interleaved halves of dimension 1),
  /// one slice of dimension 0 at a time (the writer streams front to
  /// back): the slice converted to the weight's dtype, then gathered.
  llvm::Error fillGathered(const WeightSpec &spec, uint64_t offset,
                           llvm::MutableArrayRef<uint8_t> out) {
    const uint64_t es = spec.bytes() / elementsOf(spec);
    // Slices of dimension 0 ([E, ...] weights), or the whole of a
    // transposed matrix (AWQ's scales).
    const size_t rank = spec.shape.size();
    const uint64_t slice =
        rank == 2 && spec.transposed
            ? elementsOf(spec)
            : elementsOf(spec) / uint64_t(spec.shape[0]);
    // The weight's slice as [R, C] with R = dimension 1 (C: the rest).
    const uint64_t R = uint64_t(spec.shape[1]), C = slice / R;
    const uint64_t last = uint64_t(spec.shape[rank - 1]);
    const uint64_t before = uint64_t(spec.shape[rank - 2]);
    for (uint64_t k = offset / es, n = 0; n < out.size() / es; ++k, ++n) {
      const uint64_t lead = k / slice, within = k % slice;
      if (!sliceCached || sliceName != spec.name || sliceLead != lead) {
        sliceData.resize(slice * es);
        if (llvm::Error e = fillTensor(spec.name, spec.dtype,
                                       lead * slice * es, sliceData))
          return e;
        sliceCached = true;
        sliceName = spec.name;
        sliceLead = lead;
      }
      uint64_t source = within;
      if (spec.interleaved) {
        const uint64_t r = within / C, c = within % C;
        const uint64_t half = R / 2;
        source = (r < half ? 2 * r : 2 * (r - half) + 1) * C + c;
      }
      if (spec.transposed) {
        // Our [..., before, last] element at `source` is the checkpoint's
        // [..., last, before] element with the two indices swapped.
        const uint64_t outer = source / (before * last);
        const uint64_t b = (source / last) % before, a = source % last;
        source = outer * before * last + a * before + b;
      }
      std::memcpy(out.data() + n * es, sliceData.data() + source * es, es);
    }
    return llvm::Error::success();
  }
  /// --quantize: a quantized weight's codes or its scales, from its
  /// checkpoint float tensor, one block row (BN rows) at a time. The
  /// values' spec carries the block; its scales' spec (written right
  /// after) finds it by name. E4M3 values get f32 scales, I4 values f16.
  llvm::Error fillQuantized(const WeightSpec &spec, uint64_t offset,
                            llvm::MutableArrayRef<uint8_t> out) {
    const bool scales = !spec.scalesOf.empty();
    if (!scales) {
      quantBlock = {spec.block[0], spec.block[1]};
      quantN = spec.shape[0];
      quantK = spec.shape[1];
      quantType = spec.dtype;
    }
    // --quantize's scales: f16 for int4 groups, f32 otherwise.
    const llmc::plan::DType scaleType = quantType == llmc::plan::DType::I4
                                            ? llmc::plan::DType::F16
                                            : llmc::plan::DType::F32;
    if (scales && spec.dtype != scaleType)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "--quantize: the scales \"%s\" of %s values must be %s, not %s",
          spec.name.c_str(), runtime::dtypeName(quantType),
          runtime::dtypeName(scaleType), runtime::dtypeName(spec.dtype));
    const std::string &name = scales ? spec.scalesOf : spec.name;
    const int64_t bn = quantBlock[0], bk = quantBlock[1];
    const int64_t scaleCols = (quantK + bk - 1) / bk;
    const uint64_t rowBytes =
        scales ? runtime::packedBytes(scaleType, uint64_t(scaleCols))
               : runtime::packedBytes(quantType, uint64_t(quantK));
    for (uint64_t done = 0; done < out.size();) {
      const uint64_t at = offset + done;
      const int64_t row = int64_t(at / rowBytes);
      // Values: row r of the weight lies in block row r / bn; scales: row
      // r is block row r.
      const int64_t blockRow = scales ? row : row / bn;
      // The values' pass quantizes each block row once, in order: the
      // report counts it then.
      if (llvm::Error e = loadBlockRow(name, blockRow, !scales))
        return e;
      const uint64_t within = at % rowBytes;
      const uint64_t n = std::min<uint64_t>(rowBytes - within, out.size() - done);
      const uint8_t *src =
          scales ? quantScales.data()
                 : quantCodes.data() + uint64_t(row - blockRow * bn) * rowBytes;
      std::memcpy(out.data() + done, src + within, n);
      done += n;
    }
    return llvm::Error::success();
  }
  /// Quantizes block row `blockRow` of `name` ([quantN, quantK], values of
  /// quantType in blocks of quantBlock) into quantCodes / quantScales,
  /// unless it is there already.
  llvm::Error loadBlockRow(const std::string &name, int64_t blockRow,
                           bool record) {
    if (quantName == name && quantRow == blockRow)
      return llvm::Error::success();
    const int64_t bn = quantBlock[0], bk = quantBlock[1];
    const int64_t r0 = blockRow * bn, rows = std::min(bn, quantN - r0);
    const size_t scaleCols = size_t((quantK + bk - 1) / bk);
    // A block row of more than 128 rows (fp8-tensor's whole weight) is
    // read twice in chunks of 128 rows, maxima then codes, so that no more
    // than 128 rows are held as floats.
    const int64_t chunk = 128;
    if (quantType == llmc::plan::DType::F8E4M3 && rows > chunk) {
      std::vector<float> amax(scaleCols, 0.0f), floats;
      auto read = [&](int64_t r, int64_t n) {
        floats.resize(size_t(n * quantK));
        return fillTensor(name, llmc::plan::DType::F32,
                          uint64_t((r0 + r) * quantK) * 4,
                          llvm::MutableArrayRef<uint8_t>(
                              reinterpret_cast<uint8_t *>(floats.data()),
                              floats.size() * 4));
      };
      for (int64_t r = 0; r < rows; r += chunk) {
        const int64_t n = std::min(chunk, rows - r);
        if (llvm::Error e = read(r, n))
          return e;
        foldBlockAmax(floats.data(), n, quantK, bk, amax.data());
      }
      quantScales.resize(scaleCols * 4);
      auto *scales = reinterpret_cast<float *>(quantScales.data());
      for (size_t b = 0; b < scaleCols; ++b)
        scales[b] = e4m3Scale(amax[b]);
      quantCodes.resize(size_t(rows * quantK));
      QuantError *stats =
          report && record
              ? &report->of(name, "f8e4m3 " + std::to_string(bn) + "x" +
                                      std::to_string(bk))
              : nullptr;
      for (int64_t r = 0; r < rows; r += chunk) {
        const int64_t n = std::min(chunk, rows - r);
        if (llvm::Error e = read(r, n))
          return e;
        uint8_t *codes = quantCodes.data() + size_t(r * quantK);
        encodeE4M3Rows(floats.data(), n, quantK, bk, scales, codes);
        if (stats)
          for (int64_t i = 0; i < n * quantK; ++i)
            stats->add(floats[size_t(i)],
                       e4m3Value(codes[i]) * scales[size_t((i % quantK) / bk)]);
      }
      quantName = name;
      quantRow = blockRow;
      return llvm::Error::success();
    }
    std::vector<uint8_t> floats(size_t(rows * quantK) * 4);
    if (llvm::Error e = fillTensor(name, llmc::plan::DType::F32,
                                   uint64_t(r0 * quantK) * 4, floats))
      return e;
    const float *w = reinterpret_cast<const float *>(floats.data());
    if (quantType == llmc::plan::DType::I8) {
      if (bn != 1 || bk != quantK)
        return llvm::createStringError(
            llvm::inconvertibleErrorCode(),
            "--quantize: %s: int8 weights have one scale per row (block [1, "
            "columns])",
            name.c_str());
      quantCodes.resize(size_t(quantK));
      quantScales.resize(4);
      const float scale = quantizeInt8Row(
          w, quantK, reinterpret_cast<int8_t *>(quantCodes.data()));
      std::memcpy(quantScales.data(), &scale, 4);
      if (report && record) {
        QuantError &e = report->of(name, "i8 1x" + std::to_string(bk));
        for (int64_t c = 0; c < quantK; ++c)
          e.add(w[c], float(int8_t(quantCodes[size_t(c)])) * scale);
      }
    } else if (quantType == llmc::plan::DType::I4) {
      if (bn != 1 || quantK % 2 != 0)
        return llvm::createStringError(
            llvm::inconvertibleErrorCode(),
            "--quantize: %s: int4 groups must lie within a row of an even "
            "length (block [1, G])",
            name.c_str());
      quantCodes.resize(size_t(quantK / 2));
      quantScales.resize(scaleCols * 2);
      quantizeInt4Row(w, quantK, bk, quantCodes.data(),
                      reinterpret_cast<uint16_t *>(quantScales.data()));
      if (report && record) {
        QuantError &e = report->of(name, "i4 1x" + std::to_string(bk));
        const auto *sc = reinterpret_cast<const uint16_t *>(quantScales.data());
        for (int64_t c = 0; c < quantK; ++c) {
          const int nibble = (quantCodes[size_t(c / 2)] >> (4 * (c % 2))) & 15;
          e.add(w[c], float(nibble >= 8 ? nibble - 16 : nibble) *
                          f16Value(sc[size_t(c / bk)]));
        }
      }
    } else {
      quantCodes.resize(size_t(rows * quantK));
      quantScales.resize(scaleCols * 4);
      quantizeBlockRow(w, rows, quantK, bk, quantCodes.data(),
                       reinterpret_cast<float *>(quantScales.data()));
      if (report && record) {
        QuantError &e = report->of(name, "f8e4m3 " + std::to_string(bn) +
                                             "x" + std::to_string(bk));
        const auto *sc = reinterpret_cast<const float *>(quantScales.data());
        for (int64_t i = 0; i < rows * quantK; ++i)
          e.add(w[i], e4m3Value(quantCodes[size_t(i)]) *
                          sc[size_t((i % quantK) / bk)]);
      }
    }
    quantName = name;
    quantRow = blockRow;
    return llvm::Error::success();
  }
  /// Values per int32 word of a pack-quantized weight: 8 (i4) or 4 (i8).
  static int64_t perWord(const WeightSpec &spec) {
    return spec.dtype == llmc::plan::DType::I4 ? 8 : 4;
  }
  /// The int32 words of a pack-quantized weight [rows, cols]: ceil(cols /
  /// perWord) per row.
  static uint64_t packedRowBytes(const WeightSpec &spec) {
    return uint64_t((spec.shape[1] + perWord(spec) - 1) / perWord(spec)) * 4;
  }
  /// The checkpoint tensor `name` (resolved) must be I32 words of `shape`;
  /// `what` names them in the error ("pack-quantized zero points").
  llvm::Error checkWords(const std::string &name,
                         const std::vector<int64_t> &shape, const char *what) {
    auto tensor = hf::requireTensor(archive, name, shape, "");
    if (!tensor)
      return tensor.takeError();
    if ((*tensor)->dtype != hf::TensorDType::I32)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "%s: tensor \"%s\" has dtype %s; %s are I32 words",
          (*tensor)->file.c_str(), name.c_str(),
          hf::tensorDTypeName((*tensor)->dtype).str().c_str(), what);
    return llvm::Error::success();
  }
  /// The whole of a (small or once-read) checkpoint tensor's bytes.
  llvm::Expected<std::vector<uint8_t>> readWhole(const std::string &wanted) {
    const hf::TensorView &tensor = *archive.find(resolveName(wanted));
    std::vector<uint8_t> bytes(tensor.size);
    if (llvm::Error e = archive.read(tensor, 0, bytes))
      return e;
    return bytes;
  }
  /// A pack-quantized weight: an I32 tensor [rows, ceil(cols / perWord)]
  /// and, when the checkpoint has it, its `weight_shape` [rows, cols].
  llvm::Error checkPacked(const WeightSpec &spec) {
    const std::string name = resolveName(spec.name);
    if (llvm::Error e = checkWords(
            name,
            {spec.shape[0], (spec.shape[1] + perWord(spec) - 1) / perWord(spec)},
            "pack-quantized integer values"))
      return e;
    llvm::StringRef prefix(name);
    if (!prefix.consume_back("weight_packed"))
      return llvm::Error::success();
    const std::string shapeName = prefix.str() + "weight_shape";
    const hf::TensorView *shape = archive.find(shapeName);
    if (!shape)
      return llvm::Error::success();
    std::vector<uint8_t> bytes(16);
    if (shape->dtype != hf::TensorDType::I64 || shape->numElements() != 2)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "%s: tensor \"%s\" must be two I64 values [rows, columns]",
          shape->file.c_str(), shapeName.c_str());
    if (llvm::Error e = archive.read(*shape, 0, bytes))
      return e;
    int64_t dims[2];
    std::memcpy(dims, bytes.data(), 16); // little-endian, as the host
    if (dims[0] != spec.shape[0] || dims[1] != spec.shape[1])
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "%s: tensor \"%s\" says [%lld, %lld]; config.json makes the "
          "weight [%lld, %lld]",
          shape->file.c_str(), shapeName.c_str(), (long long)dims[0],
          (long long)dims[1], (long long)spec.shape[0],
          (long long)spec.shape[1]);
    return llvm::Error::success();
  }
  /// Bytes [offset, offset + out.size()) of the plan's I4 or I8 rows from
  /// the checkpoint's words: the bytes of a row hold the same values in
  /// both layouts (little-endian words, low bits first); flipping the top
  /// bit of each value subtracts the 2^(bits - 1).
  llvm::Error fillPacked(const WeightSpec &spec, uint64_t offset,
                         llvm::MutableArrayRef<uint8_t> out) {
    const hf::TensorView &tensor = *archive.find(resolveName(spec.name));
    const uint64_t rowBytes =
                       runtime::packedBytes(spec.dtype, uint64_t(spec.shape[1])),
                   srcRowBytes = packedRowBytes(spec);
    const uint8_t flip = spec.dtype == llmc::plan::DType::I4 ? 0x88 : 0x80;
    for (uint64_t done = 0; done < out.size();) {
      const uint64_t at = offset + done, row = at / rowBytes,
                     within = at % rowBytes;
      const uint64_t n =
          std::min<uint64_t>(rowBytes - within, out.size() - done);
      llvm::MutableArrayRef<uint8_t> dst = out.slice(done, n);
      if (llvm::Error e = archive.read(tensor, row * srcRowBytes + within, dst))
        return e;
      for (uint8_t &b : dst)
        b ^= flip;
      done += n;
    }
    return llvm::Error::success();
  }
  /// The shape a tensor must have: the spec's, except that a quantized
  /// weight's scales may be stored without or with extra dimensions of 1
  /// (compressed-tensors' per-tensor scale is [1], per-row [rows, 1]).
  std::vector<int64_t> scalesShape(const WeightSpec &spec) const {
    return scalesShape(spec, spec.name, spec.shape);
  }
  /// That of tensor `name` expected as `shape` (one part of a stacked
  /// weight, or the whole).
  std::vector<int64_t> scalesShape(const WeightSpec &spec,
                                   const std::string &name,
                                   const std::vector<int64_t> &shape) const {
    if (spec.scalesOf.empty())
      return shape;
    const hf::TensorView *t = archive.find(resolveName(name));
    if (!t)
      return shape;
    auto squeeze = [](llvm::ArrayRef<int64_t> shape) {
      std::vector<int64_t> out;
      for (int64_t d : shape)
        if (d != 1)
          out.push_back(d);
      return out;
    };
    return squeeze(t->shape) == squeeze(shape) ? t->shape : shape;
  }
  /// A dense weight [rows, cols] stored as F8_E4M3 codes with F32 block
  /// scales (llm.param ... stored): both checked as a quantized weight's.
  llvm::Error checkStoredFP8(const WeightSpec &spec) {
    if (llvm::Error e = checkTensor(spec.name, spec.shape, true))
      return e;
    const hf::TensorView &t = *archive.find(resolveName(spec.name));
    if (t.dtype != hf::TensorDType::F8_E4M3)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "%s: tensor \"%s\" has dtype %s; the config makes it FP8 (F8_E4M3)",
          t.file.c_str(), t.name.c_str(),
          hf::tensorDTypeName(t.dtype).str().c_str());
    const int64_t bn = spec.storedBlock[0], bk = spec.storedBlock[1];
    std::vector<int64_t> grid{(spec.shape[0] + bn - 1) / bn,
                              (spec.shape[1] + bk - 1) / bk};
    WeightSpec scales{spec.storedScales, grid, llmc::plan::DType::F32};
    scales.scalesOf = spec.name;
    if (llvm::Error e = checkTensor(spec.storedScales, scalesShape(scales)))
      return e;
    return checkStoredAs(scales, spec.storedScales);
  }
  /// Its rows dequantized: code * scale of the block in fp32, then
  /// converted to the weight's dtype, a row at a time.
  llvm::Error fillStoredFP8(const WeightSpec &spec, uint64_t offset,
                            llvm::MutableArrayRef<uint8_t> out) {
    const int64_t cols = spec.shape[1];
    const int64_t bn = spec.storedBlock[0], bk = spec.storedBlock[1];
    const int64_t scaleCols = (cols + bk - 1) / bk;
    const uint64_t es = runtime::dtypeSize(spec.dtype);
    const uint64_t rowBytes = uint64_t(cols) * es;
    if (storedName != spec.storedScales) {
      storedData.resize(size_t(((spec.shape[0] + bn - 1) / bn) * scaleCols) * 4);
      if (llvm::Error e = fillTensor(spec.storedScales, llmc::plan::DType::F32,
                                     0, storedData))
        return e;
      storedName = spec.storedScales;
    }
    const auto *scales = reinterpret_cast<const float *>(storedData.data());
    std::vector<uint8_t> codes(static_cast<size_t>(cols)),
        row(static_cast<size_t>(rowBytes));
    std::vector<float> values(static_cast<size_t>(cols));
    for (uint64_t done = 0; done < out.size();) {
      const uint64_t at = offset + done, r = at / rowBytes,
                     within = at % rowBytes;
      if (llvm::Error e = fillTensor(spec.name, llmc::plan::DType::F8E4M3,
                                     r * uint64_t(cols), codes))
        return e;
      for (int64_t c = 0; c < cols; ++c)
        values[size_t(c)] =
            e4m3Value(codes[size_t(c)]) *
            scales[size_t((int64_t(r) / bn) * scaleCols + c / bk)];
      hf::TensorView view{spec.name,
                          hf::TensorDType::F32,
                          {cols},
                          reinterpret_cast<const uint8_t *>(values.data()),
                          values.size() * 4,
                          "(dequantized)"};
      if (llvm::Error e =
              hf::convertTensor(view, toTensorDType(spec.dtype), row))
        return e;
      const uint64_t n = std::min<uint64_t>(rowBytes - within, out.size() - done);
      std::memcpy(out.data() + done, row.data() + within, n);
      done += n;
    }
    return llvm::Error::success();
  }
  /// MXFP4 (gpt-oss): values as `<name>_blocks` U8 [..., rows, columns /
  /// 32, 16] (two e2m1 codes per byte, the lower-indexed in the low
  /// nibble: the plan's packing) and scales as `<name>_scales` U8 [...,
  /// rows, columns / 32] (e8m0 bytes): both copied as bytes, rows
  /// interleaved when the weight is.
  static bool isMX(const WeightSpec &spec) {
    return spec.dtype == llmc::plan::DType::F4E2M1 ||
           spec.dtype == llmc::plan::DType::E8M0;
  }
  llvm::Error checkMX(const WeightSpec &spec) {
    const std::string name = resolveName(spec.name);
    const hf::TensorView *t = archive.find(name);
    const std::string what =
        spec.dtype == llmc::plan::DType::E8M0 ? "e8m0 scales" : "e2m1 blocks";
    if (!t)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "checkpoint has no tensor \"%s\" (MXFP4 "
                                     "%s)",
                                     name.c_str(), what.c_str());
    // The leading dimensions and the bytes of each row must agree.
    const uint64_t rowBytes =
        runtime::packedBytes(spec.dtype, uint64_t(spec.shape.back()));
    std::vector<int64_t> lead(spec.shape.begin(), spec.shape.end() - 1);
    uint64_t tail = 1;
    bool leadOk = t->shape.size() >= lead.size();
    for (size_t d = 0; leadOk && d < t->shape.size(); ++d) {
      if (d < lead.size())
        leadOk = t->shape[d] == lead[d];
      else
        tail *= uint64_t(t->shape[d]);
    }
    if (t->dtype != hf::TensorDType::U8 || !leadOk || tail != rowBytes) {
      std::string want, got = "[";
      for (int64_t d : lead)
        want += std::to_string(d) + ", ";
      for (size_t d = 0; d < t->shape.size(); ++d)
        got += (d ? ", " : "") + std::to_string(t->shape[d]);
      got += "]";
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "%s: tensor \"%s\" (MXFP4 %s) must be U8 [%s...] with %llu bytes "
          "per row, got %s %s",
          t->file.c_str(), name.c_str(), what.c_str(), want.c_str(),
          (unsigned long long)rowBytes,
          hf::tensorDTypeName(t->dtype).str().c_str(), got.c_str());
    }
    return llvm::Error::success();
  }
  llvm::Error fillMX(const WeightSpec &spec, uint64_t offset,
                     llvm::MutableArrayRef<uint8_t> out) {
    const hf::TensorView &tensor = *archive.find(resolveName(spec.name));
    const uint64_t rowBytes =
        runtime::packedBytes(spec.dtype, uint64_t(spec.shape.back()));
    if (!spec.interleaved)
      return archive.read(tensor, offset, out);
    // Row r of dimension 1 (of R) is the checkpoint's 2r (r < R / 2) or
    // 2(r - R / 2) + 1.
    const uint64_t R = uint64_t(spec.shape[1]), half = R / 2;
    for (uint64_t done = 0; done < out.size();) {
      const uint64_t at = offset + done, row = at / rowBytes,
                     within = at % rowBytes;
      const uint64_t lead = row / R, r = row % R;
      const uint64_t source = lead * R + (r < half ? 2 * r : 2 * (r - half) + 1);
      const uint64_t n = std::min<uint64_t>(rowBytes - within, out.size() - done);
      if (llvm::Error e = archive.read(tensor, source * rowBytes + within,
                                       out.slice(done, n)))
        return e;
      done += n;
    }
    return llvm::Error::success();
  }
  /// AutoAWQ's GEMM packing: int32 words holding the values of 8 rows (of
  /// our [rows, cols] weight) at one column, the rows of word c in the
  /// order 8c + {0, 2, 4, 6, 1, 3, 5, 7} from the low bits up, unsigned.
  /// The unsigned value of row `r` in the words `w` ([n, rows / 8]) of
  /// index `i`.
  static unsigned awqValue(const uint8_t *w, int64_t i, int64_t rows,
                           int64_t r) {
    uint32_t word;
    std::memcpy(&word, w + size_t((i * (rows / 8) + r / 8) * 4), 4);
    static constexpr int position[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    return (word >> (4 * position[r % 8])) & 15u;
  }
  /// qweight: I32 [cols, rows / 8].
  llvm::Error checkAWQ(const WeightSpec &spec) {
    const std::string name = resolveName(spec.name);
    if (spec.shape[0] % 8 != 0)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "\"%s\": AWQ packs 8 output features per word; %lld is not a "
          "multiple of 8",
          name.c_str(), (long long)spec.shape[0]);
    return checkWords(name, {spec.shape[1], spec.shape[0] / 8},
                      "AWQ's qweight values");
  }
  /// The plan's I4 rows of an AWQ weight, transposed and re-based (v - 8)
  /// from the whole qweight at once.
  llvm::Error fillAWQ(const WeightSpec &spec, uint64_t offset,
                      llvm::MutableArrayRef<uint8_t> out) {
    if (awqName != spec.name) {
      auto words = readWhole(spec.name);
      if (!words)
        return words.takeError();
      const int64_t rows = spec.shape[0], cols = spec.shape[1];
      awqData.assign(size_t(rows * cols / 2), 0);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < cols; ++k) {
          const unsigned v = awqValue(words->data(), k, rows, r) ^ 8u;
          awqData[size_t(r * (cols / 2) + k / 2)] |=
              uint8_t(v << (4 * (k % 2)));
        }
      awqName = spec.name;
    }
    std::memcpy(out.data(), awqData.data() + offset, out.size());
    return llvm::Error::success();
  }
  /// GPTQ (AutoGPTQ, GPTQModel; desc_act false): qweight I32 [cols * bits
  /// / 32, rows], word (c / per, r) holding the values of columns c of row
  /// r from the low bits up, unsigned; `g_idx`, when present, must be the
  /// plain c / group (act-order is refused).
  static bool isGPTQ(const WeightSpec &spec) {
    return spec.packing == "gptq" || spec.packing == "gptq-v2";
  }
  llvm::Error checkGPTQ(const WeightSpec &spec) {
    const std::string name = resolveName(spec.name);
    gptqBits = spec.dtype == llmc::plan::DType::I4 ? 4u : 8u;
    const int64_t per = 32 / int64_t(gptqBits);
    const int64_t rows = spec.shape[0], cols = spec.shape[1];
    if (cols % per != 0)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "\"%s\": GPTQ packs %lld input features per word; %lld is not a "
          "multiple",
          name.c_str(), (long long)per, (long long)cols);
    if (llvm::Error e = checkWords(name, {cols / per, rows},
                                   "GPTQ's qweight values"))
      return e;
    llvm::StringRef prefix(name);
    if (!prefix.consume_back("qweight"))
      return llvm::Error::success();
    const std::string gidxName = prefix.str() + "g_idx";
    const hf::TensorView *gidx = archive.find(gidxName);
    if (!gidx)
      return llvm::Error::success();
    if (gidx->dtype != hf::TensorDType::I32 || gidx->numElements() != cols)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "%s: tensor \"%s\" must be I32 [%lld]", gidx->file.c_str(),
          gidxName.c_str(), (long long)cols);
    std::vector<uint8_t> bytes(size_t(cols) * 4);
    if (llvm::Error e = archive.read(*gidx, 0, bytes))
      return e;
    const int64_t group = spec.block[1];
    for (int64_t c = 0; c < cols; ++c) {
      int32_t g;
      std::memcpy(&g, bytes.data() + size_t(c) * 4, 4);
      if (g != c / group)
        return llvm::createStringError(
            llvm::inconvertibleErrorCode(),
            "%s: tensor \"%s\": input feature %lld is in group %d, not %lld: "
            "act-order (desc_act) checkpoints are not read",
            gidx->file.c_str(), gidxName.c_str(), (long long)c, int(g),
            (long long)(c / group));
    }
    return llvm::Error::success();
  }
  /// The plan's rows of a GPTQ weight, re-based to two's complement (v -
  /// 2^(bits - 1)), from the whole qweight at once.
  llvm::Error fillGPTQ(const WeightSpec &spec, uint64_t offset,
                       llvm::MutableArrayRef<uint8_t> out) {
    if (gptqName != spec.name) {
      auto words = readWhole(spec.name);
      if (!words)
        return words.takeError();
      const unsigned bits = spec.dtype == llmc::plan::DType::I4 ? 4u : 8u;
      const int64_t per = 32 / int64_t(bits);
      const int64_t rows = spec.shape[0], cols = spec.shape[1];
      gptqData.assign(size_t(runtime::packedBytes(spec.dtype,
                                                  uint64_t(rows * cols))),
                      0);
      for (int64_t c = 0; c < cols; ++c)
        for (int64_t r = 0; r < rows; ++r) {
          uint32_t word;
          std::memcpy(&word,
                      words->data() + size_t(((c / per) * rows + r) * 4), 4);
          const unsigned v =
              (word >> (bits * unsigned(c % per))) & ((1u << bits) - 1u);
          const unsigned code = v ^ (1u << (bits - 1)); // v - 2^(bits - 1)
          if (bits == 4)
            gptqData[size_t(r * (cols / 2) + c / 2)] |=
                uint8_t(code << (4 * (c % 2)));
          else
            gptqData[size_t(r * cols + c)] = uint8_t(code);
        }
      gptqName = spec.name;
    }
    std::memcpy(out.data(), gptqData.data() + offset, out.size());
    return llvm::Error::success();
  }
  /// Zero points [rows, groups] of a pack-quantized weight: int32 words
  /// packed along the rows ([ceil(rows / perWord), groups], each value
  /// plus 2^(bits - 1)), unpacked and re-based into signed bytes.
  llvm::Error checkZeros(const WeightSpec &spec) {
    if (isGPTQ(spec)) { // qzeros: I32 [groups, rows * bits / 32]
      const int64_t per = 32 / int64_t(gptqBits);
      if (spec.shape[0] % per != 0)
        return llvm::createStringError(
            llvm::inconvertibleErrorCode(),
            "\"%s\": GPTQ packs %lld output features per word; %lld is not a "
            "multiple",
            spec.name.c_str(), (long long)per, (long long)spec.shape[0]);
      return checkWords(resolveName(spec.name),
                        {spec.shape[1], spec.shape[0] / per}, "GPTQ's qzeros");
    }
    if (spec.packing == "awq-gemm") // qzeros: I32 [groups, rows / 8]
      return checkWords(resolveName(spec.name),
                        {spec.shape[1], spec.shape[0] / 8},
                        "AWQ's qzeros");
    if (spec.packing != "pack-quantized")
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "zero points \"%s\": read from pack-quantized and AWQ "
          "checkpoints only",
          spec.name.c_str());
    const int64_t per = 32 / int64_t(spec.zeroBits);
    return checkWords(resolveName(spec.name),
                      {(spec.shape[0] + per - 1) / per, spec.shape[1]},
                      "pack-quantized zero points");
  }
  llvm::Error fillZeros(const WeightSpec &spec, uint64_t offset,
                        llvm::MutableArrayRef<uint8_t> out) {
    if (zerosName != spec.name) {
      auto words = readWhole(spec.name);
      if (!words)
        return words.takeError();
      const int64_t rows = spec.shape[0], groups = spec.shape[1];
      const unsigned bits = spec.zeroBits;
      const int64_t per = 32 / int64_t(bits);
      zerosData.assign(size_t(rows * groups), 0);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < groups; ++g) {
          uint32_t v;
          if (isGPTQ(spec)) {
            // Word (g, r / per), value r % per from the low bits up; the
            // zero point is it plus the format's offset (unmasked, as
            // AutoGPTQ adds it).
            const int64_t gper = 32 / int64_t(gptqBits);
            uint32_t word;
            std::memcpy(&word,
                        words->data() +
                            size_t((g * (rows / gper) + r / gper) * 4),
                        4);
            v = ((word >> (gptqBits * unsigned(r % gper))) &
                 ((1u << gptqBits) - 1u)) +
                (spec.packing == "gptq" ? 1u : 0u);
            zerosData[size_t(r * groups + g)] =
                uint8_t(int8_t(int(v) - (1 << (gptqBits - 1))));
            continue;
          }
          if (spec.packing == "awq-gemm") {
            v = awqValue(words->data(), g, rows, r);
          } else {
            uint32_t word;
            std::memcpy(&word,
                        words->data() + size_t(((r / per) * groups + g) * 4), 4);
            v = (word >> (bits * unsigned(r % per))) & ((1u << bits) - 1u);
          }
          zerosData[size_t(r * groups + g)] =
              uint8_t(int8_t(int(v) - (1 << (bits - 1))));
        }
      zerosName = spec.name;
    }
    std::memcpy(out.data(), zerosData.data() + offset, out.size());
    return llvm::Error::success();
  }
  static uint64_t elementsOf(const WeightSpec &spec) {
    uint64_t n = 1;
    for (int64_t d : spec.shape)
      n *= uint64_t(d);
    return n;
  }

  /// A quantized weight's values are copied as the checkpoint stores
  /// them: its tensor `name` (the weight's, or one part's) must have
  /// exactly their dtype. Its scales may only widen (to f32), never round.
  llvm::Error checkStoredAs(const WeightSpec &spec, const std::string &name) {
    if (spec.block.empty() && spec.scalesOf.empty())
      return llvm::Error::success();
    const hf::TensorView &tensor = *archive.find(resolveName(name));
    const hf::TensorDType want = toTensorDType(spec.dtype);
    if (tensor.dtype == want)
      return llvm::Error::success();
    if (!spec.scalesOf.empty()) {
      if (want == hf::TensorDType::F32 &&
          (tensor.dtype == hf::TensorDType::F16 ||
           tensor.dtype == hf::TensorDType::BF16))
        return llvm::Error::success();
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "%s: tensor \"%s\" (the scales of \"%s\") has dtype %s; the plan "
          "reads them as %s, which would round them",
          tensor.file.c_str(), tensor.name.c_str(), spec.scalesOf.c_str(),
          hf::tensorDTypeName(tensor.dtype).str().c_str(),
          hf::tensorDTypeName(want).str().c_str());
    }
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "%s: tensor \"%s\" has dtype %s; quantized values must be stored as "
        "%s",
        tensor.file.c_str(), tensor.name.c_str(),
        hf::tensorDTypeName(tensor.dtype).str().c_str(),
        hf::tensorDTypeName(want).str().c_str());
  }

  /// The checkpoint tensor `wanted` must exist with `shape` and a float
  /// dtype; FP8 only for `quantizedValues`.
  llvm::Error checkTensor(const std::string &wanted,
                          const std::vector<int64_t> &shape,
                          bool quantizedValues = false) {
    const std::string name = resolveName(wanted);
    std::string why;
    if (llvm::StringRef(name).ends_with("lm_head.weight") && !tied)
      why = "config.json has tie_word_embeddings = false";
    auto tensor = hf::requireTensor(archive, name, shape, why);
    if (!tensor)
      return tensor.takeError();
    if (!hf::isFloatingTensorDType((*tensor)->dtype))
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "%s: tensor \"%s\" has dtype %s, expected a floating-point type",
          (*tensor)->file.c_str(), name.c_str(),
          hf::tensorDTypeName((*tensor)->dtype).str().c_str());
    // FP8 values mean nothing without their scales: only a quantized
    // weight's values may be stored so.
    const bool fp8 = (*tensor)->dtype == hf::TensorDType::F8_E4M3 ||
                     (*tensor)->dtype == hf::TensorDType::F8_E5M2;
    if (fp8 && !quantizedValues)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "%s: tensor \"%s\" is stored as %s but read as a dense weight "
          "(its scales would be ignored); FP8 is read for decoder linear "
          "weights and routed experts, not for this one",
          (*tensor)->file.c_str(), name.c_str(),
          hf::tensorDTypeName((*tensor)->dtype).str().c_str());
    return llvm::Error::success();
  }

  llvm::Error fillTensor(const std::string &wanted, llmc::plan::DType dtype,
                         uint64_t offset, llvm::MutableArrayRef<uint8_t> out) {
    const hf::TensorView &tensor = *archive.find(resolveName(wanted));
    const hf::TensorDType to = toTensorDType(dtype);
    const uint64_t toSize = hf::tensorDTypeSize(to);
    const uint64_t fromSize = hf::tensorDTypeSize(tensor.dtype);
    const uint64_t first = offset / toSize, count = out.size() / toSize;
    if (tensor.dtype == to) // read straight into the section
      return archive.read(tensor, first * fromSize, out);
    staging.resize(count * fromSize);
    if (llvm::Error e = archive.read(tensor, first * fromSize, staging))
      return e;
    hf::TensorView piece{tensor.name,          tensor.dtype,
                         {int64_t(count)},     staging.data(),
                         staging.size(),       tensor.file};
    return hf::convertTensor(piece, to, out);
  }

  const hf::SafetensorsArchive &archive;
  bool tied;
  bool quantize;
  QuantReport *report;
  // fillQuantized's current weight and block row (its scales' bytes).
  std::array<int64_t, 2> quantBlock{1, 1};
  int64_t quantN = 0, quantK = 0, quantRow = -1;
  llmc::plan::DType quantType = llmc::plan::DType::F8E4M3;
  std::string quantName;
  std::vector<uint8_t> quantCodes;
  std::vector<uint8_t> quantScales;
  std::vector<uint8_t> staging; // the checkpoint's bytes of one chunk
  // fillStoredFP8's f32 scales of one weight.
  std::string storedName;
  std::vector<uint8_t> storedData;
  // fillZeros' unpacked zero points of one weight.
  std::string zerosName;
  std::vector<uint8_t> zerosData;
  // fillGPTQ's unpacked values of one weight; the bits of the last GPTQ
  // weight checked (its zero points follow it).
  std::string gptqName;
  std::vector<uint8_t> gptqData;
  unsigned gptqBits = 4;
  // fillAWQ's unpacked values of one weight.
  std::string awqName;
  std::vector<uint8_t> awqData;
  // fillGathered's current slice of dimension 0, converted.
  std::vector<uint8_t> sliceData;
  std::string sliceName;
  uint64_t sliceLead = 0;
  bool sliceCached = false;
};

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

class RandomSource : public WeightSource {
public:
  explicit RandomSource(uint64_t seed) : seed(seed) {}

  llvm::Error check(const WeightSpec &) override {
    return llvm::Error::success();
  }

  llvm::Error fill(const WeightSpec &spec, uint64_t offset,
                   llvm::MutableArrayRef<uint8_t> out) override {
    llvm::StringRef name(spec.name);
    bool isNorm = spec.shape.size() == 1 && name.contains("norm");
    float bound =
        1.0f / std::sqrt(float(spec.shape.empty() ? 1 : spec.shape.back()));
    uint64_t stream =
        splitmix64(seed ^ llvm::xxh3_64bits(llvm::arrayRefFromStringRef(name)));
    unsigned threads =
        std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
    // Quantized values: E4M3 codes of magnitude in [1/8, 15/16] (exponent
    // 4 to 6), signs random; their scales a constant (WeightSpec).
    if (spec.dtype == llmc::plan::DType::F8E4M3) {
      for (uint64_t i = 0; i < out.size(); ++i) {
        const uint64_t r = splitmix64(stream + offset + i);
        out[i] = uint8_t((r & 0x80) | ((4 + (r >> 8) % 3) << 3) | (r >> 16) % 8);
      }
      return llvm::Error::success();
    }
    // MXFP4: any byte is two e2m1 codes; the scales the power of two
    // nearest randomScale.
    if (spec.dtype == llmc::plan::DType::F4E2M1) {
      for (uint64_t i = 0; i < out.size(); ++i)
        out[i] = uint8_t(splitmix64(stream + offset + i));
      return llvm::Error::success();
    }
    if (spec.dtype == llmc::plan::DType::E8M0) {
      const int e = int(std::lround(std::log2(double(spec.randomScale))));
      std::fill(out.begin(), out.end(), uint8_t(127 + e));
      return llvm::Error::success();
    }
    // Zero points: -2..2, so that they move the random codes a little.
    if (!spec.zerosOf.empty()) {
      for (uint64_t i = 0; i < out.size(); ++i)
        out[i] = uint8_t(int8_t(int(splitmix64(stream + offset + i) % 5) - 2));
      return llvm::Error::success();
    }
    // I4: every byte is two codes of -8..7; I8: one of -128..127.
    if (spec.dtype == llmc::plan::DType::I4 ||
        spec.dtype == llmc::plan::DType::I8) {
      for (uint64_t i = 0; i < out.size(); ++i)
        out[i] = uint8_t(splitmix64(stream + offset + i));
      return llvm::Error::success();
    }
    if (spec.randomScale > 0.0f) {
      const hf::TensorDType to = toTensorDType(spec.dtype);
      const uint64_t size = hf::tensorDTypeSize(to);
      std::vector<float> scale(out.size() / size, spec.randomScale);
      hf::TensorView view{spec.name,
                          hf::TensorDType::F32,
                          {int64_t(scale.size())},
                          reinterpret_cast<const uint8_t *>(scale.data()),
                          scale.size() * 4,
                          "(random weights)"};
      return hf::convertTensor(view, to, out);
    }
    // Values are made in f32 blocks and converted like checkpoint tensors,
    // so random plans round exactly as real ones do.
    const hf::TensorDType to = toTensorDType(spec.dtype);
    const uint64_t outSize = hf::tensorDTypeSize(to);
    // Value i of the tensor depends on i alone, so any chunking gives the
    // same bytes.
    const uint64_t first = offset / outSize, n = out.size() / outSize;
    std::vector<llvm::Error> errors;
    std::mutex errorsMutex;
    auto work = [&](uint64_t begin, uint64_t end) {
      constexpr uint64_t kBlock = 1 << 16;
      std::vector<float> block(std::min<uint64_t>(kBlock, end - begin));
      for (uint64_t b = begin; b < end; b += kBlock) {
        uint64_t n = std::min(kBlock, end - b);
        for (uint64_t i = 0; i < n; ++i) {
          double u =
              double(splitmix64(stream + first + b + i) >> 11) * 0x1.0p-53;
          block[i] = isNorm ? 1.0f : float((2.0 * u - 1.0) * bound);
        }
        hf::TensorView view{
            spec.name,    hf::TensorDType::F32,
            {int64_t(n)}, reinterpret_cast<const uint8_t *>(block.data()),
            n * 4,        "(random weights)"};
        if (llvm::Error e = hf::convertTensor(
                view, to, out.slice(b * outSize, n * outSize))) {
          std::lock_guard<std::mutex> lock(errorsMutex);
          errors.push_back(std::move(e));
          return;
        }
      }
    };
    std::vector<std::thread> pool;
    uint64_t chunk = (n + threads - 1) / threads;
    for (unsigned t = 0; t < threads; ++t) {
      uint64_t b = std::min(n, t * chunk), e = std::min(n, b + chunk);
      if (b < e)
        pool.emplace_back(work, b, e);
    }
    for (std::thread &t : pool)
      t.join();
    llvm::Error result = llvm::Error::success();
    for (llvm::Error &e : errors)
      result = llvm::joinErrors(std::move(result), std::move(e));
    return result;
  }

private:
  uint64_t seed;
};

} // namespace

std::unique_ptr<WeightSource>
makeSafetensorsSource(const hf::SafetensorsArchive &archive,
                      bool tieWordEmbeddings, bool quantizeDense,
                      QuantReport *report) {
  return std::make_unique<SafetensorsSource>(archive, tieWordEmbeddings,
                                             quantizeDense, report);
}

std::unique_ptr<WeightSource> makeRandomSource(uint64_t seed) {
  return std::make_unique<RandomSource>(seed);
}

} // namespace llmc::plan_writer
