//===- Safetensors.cpp - read Hugging Face .safetensors weights ----------===//
//
// Validation follows the safetensors crate (safetensors/src/tensor.rs,
// read_metadata and Metadata::validate): a header of at most 100,000,000
// bytes, entries whose data_offsets, sorted, tile the data section exactly,
// and byte sizes equal to product(shape) * dtype size with overflow checked.
// We are stricter in two places: duplicate JSON keys and unknown keys in an
// entry are errors rather than silently dropped.
//
//===----------------------------------------------------------------------===//

#include "frontends/hf/safetensors/Safetensors.h"

#include "compiler/support/InputFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include "frontends/hf/JsonDescribe.h"
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <tuple>
#include <unordered_map>

using json = nlohmann::json;
namespace endian = llvm::support::endian;

namespace llmc::hf {
namespace {

/// The safetensors crate's MAX_HEADER_SIZE.
constexpr uint64_t kMaxHeaderSize = 100'000'000;

/// Thrown inside this file only; caught where the file name is known.
struct FormatError {
  std::string message;
};

[[noreturn]] void fail(std::string message) {
  throw FormatError{std::move(message)};
}

llvm::Error makeError(llvm::StringRef file, const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 file.str() + ": " + message);
}

std::string quote(llvm::StringRef s) { return "\"" + s.str() + "\""; }

std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string formatRange(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

std::string describe(const json &v) { return describeJsonValue(v); }

/// Parses `text`, rejecting duplicate keys in any object (nlohmann would
/// silently keep the last one). A duplicate in the top-level object is
/// reported as a duplicate `topLevelNoun`.
json parseStrictJson(llvm::StringRef text, const char *topLevelNoun) {
  struct Frame {
    llvm::StringSet<> keys;
    std::string name; // the key this object is the value of
    std::string lastKey;
  };
  std::vector<Frame> frames;
  json::parser_callback_t callback = [&](int, json::parse_event_t event,
                                         json &parsed) {
    switch (event) {
    case json::parse_event_t::object_start:
      frames.push_back(
          Frame{{}, frames.empty() ? "" : frames.back().lastKey, ""});
      break;
    case json::parse_event_t::object_end:
      if (!frames.empty())
        frames.pop_back();
      break;
    case json::parse_event_t::key: {
      if (frames.empty() || !parsed.is_string())
        break;
      const std::string &key = parsed.get_ref<const std::string &>();
      Frame &frame = frames.back();
      if (!frame.keys.insert(key).second) {
        if (frames.size() == 1)
          fail(std::string("duplicate ") + topLevelNoun + " " + quote(key));
        fail("duplicate key " + quote(key) + " in " + quote(frame.name));
      }
      frame.lastKey = key;
      break;
    }
    default:
      break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::parse_error &e) {
    // nlohmann says "[json.exception.parse_error.101] parse error at line 1,
    // column 16: syntax error ..."; keep from "at line" on.
    std::string what = e.what();
    size_t at = what.find("parse error at ");
    fail("malformed JSON " +
         (at == std::string::npos
              ? "at byte " + std::to_string(e.byte) + ": " + what
              : what.substr(at + 12)));
  }
}

/// One .safetensors file, validated.
struct ParsedFile {
  std::vector<TensorView> views;
  std::map<std::string, std::string> meta;
};

/// A header entry before the tiling check.
struct Entry {
  TensorView view;
  uint64_t begin, end;
};

uint64_t jsonOffset(const json &v, const std::string &where) {
  if (!v.is_number_unsigned())
    fail(where + "data_offsets must hold non-negative integers, got " +
         describe(v));
  return v.get<uint64_t>();
}

Entry parseEntry(const std::string &name, const json &value,
                 uint64_t dataSize) {
  std::string where = "tensor " + quote(name) + ": ";
  if (!value.is_object())
    fail(where + "expected an object with dtype, shape and data_offsets, got " +
         describe(value));
  for (const auto &item : value.items())
    if (item.key() != "dtype" && item.key() != "shape" &&
        item.key() != "data_offsets")
      fail(where + "unexpected key " + quote(item.key()) +
           " (expected dtype, shape and data_offsets)");
  for (const char *key : {"dtype", "shape", "data_offsets"})
    if (!value.contains(key))
      fail(where + "missing key " + quote(key));

  Entry entry;
  TensorView &view = entry.view;
  view.name = name;

  const json &dtype = value.at("dtype");
  if (!dtype.is_string())
    fail(where + "dtype must be a string, got " + describe(dtype));
  std::optional<TensorDType> parsed =
      parseTensorDType(dtype.get_ref<const std::string &>());
  if (!parsed)
    fail(where + "unknown dtype " + dtype.dump() +
         " (expected one of F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, "
         "I16, I8, U8, BOOL)");
  view.dtype = *parsed;

  const json &shape = value.at("shape");
  if (!shape.is_array())
    fail(where + "shape must be an array of integers, got " + describe(shape));
  for (const json &dim : shape) {
    if (!dim.is_number_integer())
      fail(where + "shape " + shape.dump() + " holds " + describe(dim) +
           ", expected non-negative integers");
    if (dim.is_number_unsigned() ? dim.get<uint64_t>() > uint64_t(INT64_MAX)
                                 : dim.get<int64_t>() < 0)
      fail(where + "shape " + shape.dump() + " has " +
           (dim.is_number_unsigned() ? "an out-of-range" : "a negative") +
           " dimension " + dim.dump());
    view.shape.push_back(dim.get<int64_t>());
  }

  const json &offsets = value.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2)
    fail(where + "data_offsets must be an array of two integers, got " +
         (offsets.is_array() ? offsets.dump() : describe(offsets)));
  entry.begin = jsonOffset(offsets[0], where);
  entry.end = jsonOffset(offsets[1], where);
  std::string range = formatRange(entry.begin, entry.end);
  if (entry.begin > entry.end)
    fail(where + "data_offsets " + range + " begin after they end");
  if (entry.end > dataSize)
    fail(where + "data_offsets " + range +
         " extend past the end of the data section (" +
         std::to_string(dataSize) + " bytes)");

  // Checked: a hostile shape must not wrap around to a small size.
  uint64_t count = 1;
  for (int64_t dim : view.shape)
    if (__builtin_mul_overflow(count, uint64_t(dim), &count))
      fail(where + "shape " + formatShape(view.shape) +
           " has more elements than fit in 64 bits");
  uint64_t bytes;
  if (__builtin_mul_overflow(count, tensorDTypeSize(view.dtype), &bytes))
    fail(where + "shape " + formatShape(view.shape) + " of " +
         tensorDTypeName(view.dtype).str() +
         " needs more bytes than fit in 64 bits");
  if (entry.end - entry.begin != bytes)
    fail(where + "data_offsets " + range + " hold " +
         std::to_string(entry.end - entry.begin) + " bytes, but shape " +
         formatShape(view.shape) + " of " + tensorDTypeName(view.dtype).str() +
         " needs " + std::to_string(bytes));
  view.size = bytes;
  return entry;
}

/// Sorted by begin, the entries must tile [0, dataSize) with no gap, no
/// overlap and no trailing bytes (zero-size tensors may share an offset).
void checkTiling(std::vector<Entry> &entries, uint64_t dataSize) {
  llvm::sort(entries, [](const Entry &a, const Entry &b) {
    return std::tie(a.begin, a.end, a.view.name) <
           std::tie(b.begin, b.end, b.view.name);
  });
  uint64_t cursor = 0;
  const Entry *prev = nullptr;
  for (const Entry &e : entries) {
    if (e.begin < cursor)
      fail("tensors " + quote(prev->view.name) + " (data_offsets " +
           formatRange(prev->begin, prev->end) + ") and " + quote(e.view.name) +
           " (data_offsets " + formatRange(e.begin, e.end) + ") overlap");
    if (e.begin > cursor) {
      std::string gap = std::to_string(e.begin - cursor) + " bytes";
      if (!prev)
        fail("data section has a gap of " + gap + " before the first tensor " +
             quote(e.view.name) + " (starting at " + std::to_string(e.begin) +
             ")");
      fail("data section has a gap of " + gap + " between tensor " +
           quote(prev->view.name) + " (ending at " + std::to_string(cursor) +
           ") and tensor " + quote(e.view.name) + " (starting at " +
           std::to_string(e.begin) + ")");
    }
    cursor = e.end;
    prev = &e;
  }
  if (cursor != dataSize) {
    if (!prev)
      fail("data section has " + std::to_string(dataSize) +
           " bytes but the header lists no tensors");
    fail("data section has " + std::to_string(dataSize - cursor) +
         " trailing bytes after the last tensor " + quote(prev->view.name) +
         " (ending at " + std::to_string(cursor) + " of " +
         std::to_string(dataSize) + ")");
  }
}

/// Validates one .safetensors image; errors are FormatErrors without the
/// file name.
ParsedFile parseFile(llvm::StringRef bytes, const std::string &file) {
  auto *base = reinterpret_cast<const uint8_t *>(bytes.data());
  uint64_t fileSize = bytes.size();
  if (fileSize < 8)
    fail("file is " + std::to_string(fileSize) +
         " bytes, too short for the 8-byte header length");
  uint64_t headerSize = endian::read64le(base);
  if (headerSize > kMaxHeaderSize)
    fail("header length " + std::to_string(headerSize) +
         " exceeds the limit of " + std::to_string(kMaxHeaderSize) + " bytes");
  if (headerSize > fileSize - 8)
    fail("header length " + std::to_string(headerSize) +
         " extends past the end of the file (" + std::to_string(fileSize) +
         " bytes)");

  const auto *header = reinterpret_cast<const llvm::UTF8 *>(base + 8);
  const llvm::UTF8 *cursor = header;
  if (!llvm::isLegalUTF8String(&cursor, header + headerSize))
    fail("header is not valid UTF-8 (at byte " +
         std::to_string(8 + (cursor - header)) + ")");

  json root = parseStrictJson(
      llvm::StringRef(reinterpret_cast<const char *>(header), headerSize),
      "tensor name");
  if (!root.is_object())
    fail("header is " + describe(root) + ", expected a JSON object");

  uint64_t dataStart = 8 + headerSize;
  uint64_t dataSize = fileSize - dataStart;
  ParsedFile out;
  std::vector<Entry> entries;
  for (const auto &item : root.items()) {
    if (item.key() == "__metadata__") {
      const json &m = item.value();
      if (m.is_null())
        continue;
      if (!m.is_object())
        fail("__metadata__ must be an object of strings, got " + describe(m));
      for (const auto &kv : m.items()) {
        if (!kv.value().is_string())
          fail("__metadata__ key " + quote(kv.key()) +
               " must be a string, got " + describe(kv.value()));
        out.meta[kv.key()] = kv.value().get<std::string>();
      }
      continue;
    }
    entries.push_back(parseEntry(item.key(), item.value(), dataSize));
  }
  checkTiling(entries, dataSize);

  for (Entry &e : entries) {
    e.view.data = base + dataStart + e.begin;
    e.view.file = file;
    out.views.push_back(std::move(e.view));
  }
  llvm::sort(out.views, [](const TensorView &a, const TensorView &b) {
    return a.name < b.name;
  });
  return out;
}

llvm::Expected<ParsedFile> parseBuffer(const llvm::MemoryBuffer &buffer,
                                       const std::string &file) {
  try {
    return parseFile(buffer.getBuffer(), file);
  } catch (const FormatError &e) {
    return makeError(file, e.message);
  } catch (const json::exception &e) {
    return makeError(file, std::string("invalid header: ") + e.what());
  }
}

/// Opens `file` and maps it (large files are mmapped, not read); any size:
/// the header has its own limit.
llvm::Expected<std::pair<std::unique_ptr<support::InputFile>,
                         std::unique_ptr<llvm::MemoryBuffer>>>
mapFile(const std::string &file) {
  auto opened = support::InputFile::open(file);
  if (!opened)
    return opened.takeError();
  auto buffer = (*opened)->map();
  if (!buffer)
    return buffer.takeError();
  return std::make_pair(std::move(*opened), std::move(*buffer));
}

/// A shard name from the index must name a file inside the model directory.
void checkShardName(const std::string &tensor, const std::string &shard) {
  std::string what =
      "shard " + quote(shard) + " (for tensor " + quote(tensor) + ")";
  if (shard.empty())
    fail("empty shard file name for tensor " + quote(tensor));
  if (llvm::sys::path::is_absolute(shard, llvm::sys::path::Style::posix))
    fail(what + " is an absolute path; shards must be inside the model "
                "directory");
  for (llvm::StringRef part : llvm::split(llvm::StringRef(shard), '/'))
    if (part == "..")
      fail(what + " has a \"..\" component; shards must be inside the model "
                  "directory");
}

/// The (tensor, shard file) pairs of a model.safetensors.index.json, each
/// shard name checked to stay inside the model directory.
llvm::Expected<std::vector<std::pair<std::string, std::string>>>
readWeightMap(const std::string &file) {
  auto buffer = support::readInputFile(file, support::kMaxJsonFileBytes,
                                       /*isText=*/true);
  if (!buffer)
    return buffer.takeError();
  std::vector<std::pair<std::string, std::string>> weightMap;
  try {
    json root = parseStrictJson((*buffer)->getBuffer(), "key");
    if (!root.is_object())
      fail("index is " + describe(root) + ", expected a JSON object");
    if (!root.contains("weight_map"))
      fail("missing key \"weight_map\"");
    const json &map = root.at("weight_map");
    if (!map.is_object())
      fail("weight_map must be an object of tensor name to shard file, got " +
           describe(map));
    for (const auto &item : map.items()) {
      if (!item.value().is_string())
        fail("weight_map entry for tensor " + quote(item.key()) +
             " must be a shard file name, got " + describe(item.value()));
      std::string shard = item.value().get<std::string>();
      checkShardName(item.key(), shard);
      weightMap.emplace_back(item.key(), std::move(shard));
    }
  } catch (const FormatError &e) {
    return makeError(file, e.message);
  } catch (const json::exception &e) {
    return makeError(file, std::string("invalid index: ") + e.what());
  }
  return weightMap;
}

} // namespace

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

std::optional<TensorDType> parseTensorDType(llvm::StringRef name) {
  static constexpr std::pair<const char *, TensorDType> kNames[] = {
      {"F64", TensorDType::F64},         {"F32", TensorDType::F32},
      {"F16", TensorDType::F16},         {"BF16", TensorDType::BF16},
      {"F8_E4M3", TensorDType::F8_E4M3}, {"F8_E5M2", TensorDType::F8_E5M2},
      {"I64", TensorDType::I64},         {"I32", TensorDType::I32},
      {"I16", TensorDType::I16},         {"I8", TensorDType::I8},
      {"U8", TensorDType::U8},           {"BOOL", TensorDType::Bool}};
  for (const auto &[spelling, dtype] : kNames)
    if (name == spelling)
      return dtype;
  return std::nullopt;
}

llvm::StringRef tensorDTypeName(TensorDType dtype) {
  switch (dtype) {
  case TensorDType::F64:
    return "F64";
  case TensorDType::F32:
    return "F32";
  case TensorDType::F16:
    return "F16";
  case TensorDType::BF16:
    return "BF16";
  case TensorDType::F8_E4M3:
    return "F8_E4M3";
  case TensorDType::F8_E5M2:
    return "F8_E5M2";
  case TensorDType::I64:
    return "I64";
  case TensorDType::I32:
    return "I32";
  case TensorDType::I16:
    return "I16";
  case TensorDType::I8:
    return "I8";
  case TensorDType::U8:
    return "U8";
  case TensorDType::Bool:
    return "BOOL";
  }
  return "?";
}

uint64_t tensorDTypeSize(TensorDType dtype) {
  switch (dtype) {
  case TensorDType::F64:
  case TensorDType::I64:
    return 8;
  case TensorDType::F32:
  case TensorDType::I32:
    return 4;
  case TensorDType::F16:
  case TensorDType::BF16:
  case TensorDType::I16:
    return 2;
  case TensorDType::F8_E4M3:
  case TensorDType::F8_E5M2:
  case TensorDType::I8:
  case TensorDType::U8:
  case TensorDType::Bool:
    return 1;
  }
  return 0;
}

bool isFloatingTensorDType(TensorDType dtype) {
  switch (dtype) {
  case TensorDType::F64:
  case TensorDType::F32:
  case TensorDType::F16:
  case TensorDType::BF16:
  case TensorDType::F8_E4M3:
  case TensorDType::F8_E5M2:
    return true;
  default:
    return false;
  }
}

uint64_t TensorView::numElements() const {
  uint64_t count = 1;
  for (int64_t dim : shape)
    count *= uint64_t(dim); // cannot overflow: checked when the file was read
  return count;
}

//===----------------------------------------------------------------------===//
// Archives
//===----------------------------------------------------------------------===//

llvm::Expected<std::unique_ptr<SafetensorsArchive>>
SafetensorsArchive::openBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer,
                               llvm::StringRef name) {
  auto parsed = parseBuffer(*buffer, name.str());
  if (!parsed)
    return parsed.takeError();
  std::unique_ptr<SafetensorsArchive> archive(new SafetensorsArchive());
  archive->sourcePath = name.str();
  archive->buffers.push_back(std::move(buffer));
  archive->views = std::move(parsed->views);
  archive->meta = std::move(parsed->meta);
  return archive;
}

llvm::Expected<std::unique_ptr<SafetensorsArchive>>
SafetensorsArchive::open(llvm::StringRef path) {
  namespace fs = llvm::sys::fs;
  namespace sp = llvm::sys::path;

  std::string file = path.str();
  bool sharded = false;
  if (fs::is_directory(path)) {
    llvm::SmallString<256> single(path), index(path);
    sp::append(single, "model.safetensors");
    sp::append(index, "model.safetensors.index.json");
    if (fs::exists(single)) {
      file = std::string(single);
    } else if (fs::exists(index)) {
      file = std::string(index);
      sharded = true;
    } else {
      return makeError(path, "no model.safetensors or "
                             "model.safetensors.index.json in this directory");
    }
  } else {
    sharded = path.ends_with(".json");
  }

  if (!sharded) {
    auto mapped = mapFile(file);
    if (!mapped)
      return mapped.takeError();
    auto archive = openBuffer(std::move(mapped->second), file);
    if (archive) {
      (*archive)->sourcePath = path.str();
      (*archive)->files.push_back(std::move(mapped->first));
    }
    return archive;
  }

  // Sharded: read the index, then every shard it names.
  auto weightMap = readWeightMap(file);
  if (!weightMap)
    return weightMap.takeError();
  std::map<std::string, std::vector<std::string>> tensorsByShard;
  for (const auto &[tensor, shard] : *weightMap)
    tensorsByShard[shard].push_back(tensor);

  llvm::SmallString<256> dir(sp::parent_path(file));
  if (dir.empty())
    dir = ".";
  llvm::SmallString<256> realDir;
  if (std::error_code ec = fs::real_path(dir, realDir))
    return makeError(file, "cannot resolve the model directory " + quote(dir) +
                               ": " + ec.message());
  std::string inside = std::string(realDir);
  if (!llvm::StringRef(inside).ends_with("/"))
    inside += "/";

  std::unique_ptr<SafetensorsArchive> archive(new SafetensorsArchive());
  archive->sourcePath = path.str();
  // Which shard (by resolved path) each tensor came from.
  std::unordered_map<std::string, std::string> shardOf;
  std::map<std::string, std::string> shardByRealPath;
  std::unordered_map<std::string, std::string> realPathOfShard;
  for (const auto &[shard, tensors] : tensorsByShard) {
    std::string what = "shard " + quote(shard) + " (for tensor " +
                       quote(tensors.front()) + ")";
    llvm::SmallString<256> joined(dir);
    sp::append(joined, shard);
    llvm::SmallString<256> real;
    if (std::error_code ec = fs::real_path(joined, real))
      return makeError(file, what + " cannot be opened: " + ec.message());
    if (!llvm::StringRef(real).starts_with(inside))
      return makeError(file, what + " resolves to " + quote(real) +
                                 ", outside the model directory " +
                                 quote(realDir));
    realPathOfShard[shard] = std::string(real);
    // Two spellings of one file are read once.
    if (!shardByRealPath.emplace(std::string(real), shard).second)
      continue;

    auto mapped = mapFile(std::string(joined));
    if (!mapped)
      return mapped.takeError();
    auto parsed = parseBuffer(*mapped->second, std::string(joined));
    if (!parsed)
      return parsed.takeError();
    const uint32_t index = uint32_t(archive->buffers.size());
    archive->buffers.push_back(std::move(mapped->second));
    archive->files.push_back(std::move(mapped->first));
    for (TensorView &view : parsed->views) {
      view.shard = index;
      auto [it, inserted] = shardOf.emplace(view.name, shard);
      if (!inserted)
        return makeError(file, "tensor " + quote(view.name) +
                                   " appears in two shards, " +
                                   quote(it->second) + " and " + quote(shard));
      archive->views.push_back(std::move(view));
    }
    for (auto &kv : parsed->meta)
      archive->meta.insert(std::move(kv));
  }

  for (const auto &[tensor, shard] : *weightMap) {
    auto it = shardOf.find(tensor);
    if (it == shardOf.end() ||
        realPathOfShard[it->second] != realPathOfShard[shard])
      return makeError(file, "tensor " + quote(tensor) +
                                 " is listed in weight_map for shard " +
                                 quote(shard) + ", but " + quote(shard) +
                                 " does not contain it");
  }

  llvm::sort(archive->views, [](const TensorView &a, const TensorView &b) {
    return a.name < b.name;
  });
  return archive;
}

SafetensorsArchive::~SafetensorsArchive() = default;

llvm::Error SafetensorsArchive::read(const TensorView &tensor, uint64_t offset,
                                     llvm::MutableArrayRef<uint8_t> out) const {
  if (offset > tensor.size || out.size() > tensor.size - offset)
    return makeError(tensor.file, "internal error: bytes [" +
                                      std::to_string(offset) + ", +" +
                                      std::to_string(out.size()) +
                                      ") are outside tensor " +
                                      quote(tensor.name));
  const llvm::MemoryBuffer &buffer = *buffers[tensor.shard];
  const uint64_t start =
      uint64_t(tensor.data - reinterpret_cast<const uint8_t *>(buffer.getBufferStart())) + offset;
  if (tensor.shard < files.size())
    return files[tensor.shard]->read(start, out);
  if (!out.empty())
    std::memcpy(out.data(), buffer.getBufferStart() + start, out.size());
  return llvm::Error::success();
}

const TensorView *SafetensorsArchive::find(llvm::StringRef name) const {
  auto it = llvm::partition_point(views, [&](const TensorView &v) {
    return llvm::StringRef(v.name) < name;
  });
  if (it == views.end() || it->name != name)
    return nullptr;
  return &*it;
}

llvm::Expected<const TensorView *>
requireTensor(const SafetensorsArchive &archive, llvm::StringRef name,
              llvm::ArrayRef<int64_t> shape, llvm::StringRef why) {
  std::string suffix = why.empty() ? "" : " (" + why.str() + ")";
  const TensorView *view = archive.find(name);
  if (!view)
    return makeError(archive.source(),
                     "missing tensor " + quote(name) + suffix);
  if (llvm::ArrayRef<int64_t>(view->shape) != shape)
    return makeError(archive.source(), "tensor " + quote(name) + " has shape " +
                                           formatShape(view->shape) +
                                           ", config.json implies " +
                                           formatShape(shape) + suffix);
  return view;
}

//===----------------------------------------------------------------------===//
// Conversion
//===----------------------------------------------------------------------===//

namespace {

/// Rounds `v` to the binary format with E exponent and M mantissa bits
/// (IEEE layout, with infinities), to nearest even, in one step: going
/// through float first could round twice, and a plain double-to-float cast
/// of an out-of-range value is undefined behaviour.
template <int E, int M> uint32_t roundToNarrow(double v) {
  constexpr int bias = (1 << (E - 1)) - 1;
  constexpr uint64_t expMask = uint64_t((1 << E) - 1) << M;
  uint64_t bits = std::bit_cast<uint64_t>(v);
  uint64_t sign = (bits >> 63) << (E + M);
  int64_t exp = int64_t((bits >> 52) & 0x7ff);
  uint64_t mant = bits & ((uint64_t(1) << 52) - 1);
  if (exp == 0x7ff) // NaN stays a (quiet) NaN; infinity stays infinity
    return uint32_t(sign | expMask | (mant ? uint64_t(1) << (M - 1) : 0));
  if (exp == 0) // zero or a double subnormal: far below any target subnormal
    return uint32_t(sign);
  uint64_t sig = mant | (uint64_t(1) << 52);
  int64_t targetExp = exp - 1023 + bias;
  // Keep M+1 significant bits for a normal result; fewer for a subnormal.
  int64_t shift = 52 - M + (targetExp >= 1 ? 0 : 1 - targetExp);
  if (shift > 53) // below half the smallest subnormal
    return uint32_t(sign);
  uint64_t q = sig >> shift;
  uint64_t rem = sig & ((uint64_t(1) << shift) - 1);
  uint64_t half = uint64_t(1) << (shift - 1);
  if (rem > half || (rem == half && (q & 1)))
    ++q;
  if (targetExp < 1) // q == 2^M lands on the smallest normal, as encoded
    return uint32_t(sign | q);
  if (q == uint64_t(1) << (M + 1)) {
    q >>= 1;
    ++targetExp;
  }
  if (targetExp >= (1 << E) - 1)
    return uint32_t(sign | expMask);
  return uint32_t(sign | (uint64_t(targetExp) << M) |
                  (q & ((uint64_t(1) << M) - 1)));
}

float decodeF16(uint16_t h) {
  float sign = (h & 0x8000) ? -1.0f : 1.0f;
  int exp = (h >> 10) & 0x1f;
  int mant = h & 0x3ff;
  if (exp == 0x1f)
    return mant ? std::copysign(NAN, sign) : sign * INFINITY;
  if (exp == 0)
    return sign * std::ldexp(float(mant), -24);
  return sign * std::ldexp(float(1024 + mant), exp - 25);
}

float decodeF8E4M3(uint8_t b) {
  float sign = (b & 0x80) ? -1.0f : 1.0f;
  int exp = (b >> 3) & 0xf;
  int mant = b & 0x7;
  if (exp == 0xf && mant == 0x7) // the only NaN; e4m3fn has no infinities
    return std::copysign(NAN, sign);
  if (exp == 0)
    return sign * std::ldexp(float(mant), -9);
  return sign * std::ldexp(float(8 + mant), exp - 10);
}

float decodeF8E5M2(uint8_t b) {
  // e5m2 is the top byte of an IEEE half.
  return decodeF16(uint16_t(b) << 8);
}

/// Every half or 8-bit value, decoded once.
const std::array<float, 65536> &f16Table() {
  static const auto table = [] {
    std::array<float, 65536> t;
    for (uint32_t i = 0; i < t.size(); ++i)
      t[i] = decodeF16(uint16_t(i));
    return t;
  }();
  return table;
}

template <float (*Decode)(uint8_t)> const std::array<float, 256> &f8Table() {
  static const auto table = [] {
    std::array<float, 256> t;
    for (uint32_t i = 0; i < t.size(); ++i)
      t[i] = Decode(uint8_t(i));
    return t;
  }();
  return table;
}

uint16_t floatToBF16(uint32_t bits) {
  if ((bits & 0x7fffffff) > 0x7f800000) // NaN: keep it one, and quiet
    return uint16_t((bits >> 16) | 0x40);
  return uint16_t((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

template <typename Decode, typename Encode>
void convertLoop(const uint8_t *in, uint64_t inSize, uint8_t *out,
                 uint64_t outSize, uint64_t count, Decode decode,
                 Encode encode) {
  for (uint64_t i = 0; i < count; ++i)
    encode(decode(in + i * inSize), out + i * outSize);
}

} // namespace

llvm::Error convertTensor(const TensorView &tensor, TensorDType to,
                          llvm::MutableArrayRef<uint8_t> out) {
  std::string where = "tensor " + quote(tensor.name) + " (" +
                      tensorDTypeName(tensor.dtype).str() + ")";
  if (!isFloatingTensorDType(tensor.dtype))
    return makeError(tensor.file, where +
                                      " is not a floating-point tensor; "
                                      "cannot convert it to " +
                                      tensorDTypeName(to).str());
  if (to != TensorDType::F32 && to != TensorDType::F16 &&
      to != TensorDType::BF16)
    return makeError(tensor.file, "cannot convert " + where + " to " +
                                      tensorDTypeName(to).str() +
                                      "; targets are F32, F16 and BF16");
  uint64_t count = tensor.numElements();
  uint64_t inSize = tensorDTypeSize(tensor.dtype);
  uint64_t outSize = tensorDTypeSize(to);
  uint64_t need;
  if (__builtin_mul_overflow(count, outSize, &need) || out.size() != need ||
      tensor.size != count * inSize)
    return makeError(
        tensor.file,
        "converting " + where + " to " + tensorDTypeName(to).str() + " needs " +
            std::to_string(count) + " x " + std::to_string(outSize) +
            " bytes, got a buffer of " + std::to_string(out.size()));
  if (count == 0)
    return llvm::Error::success();
  const uint8_t *in = tensor.data;
  uint8_t *dst = out.data();

  if (tensor.dtype == to) {
    std::memcpy(dst, in, need);
    return llvm::Error::success();
  }
  // Fast paths for the common weight conversions.
  if (tensor.dtype == TensorDType::BF16 && to == TensorDType::F32) {
    for (uint64_t i = 0; i < count; ++i)
      endian::write32le(dst + 4 * i, uint32_t(endian::read16le(in + 2 * i))
                                         << 16);
    return llvm::Error::success();
  }
  if (tensor.dtype == TensorDType::F32 && to == TensorDType::BF16) {
    for (uint64_t i = 0; i < count; ++i)
      endian::write16le(dst + 2 * i, floatToBF16(endian::read32le(in + 4 * i)));
    return llvm::Error::success();
  }

  // General path: decode exactly to double, round once to the target.
  auto withDecoder = [&](auto decode) {
    switch (to) {
    case TensorDType::F32:
      convertLoop(in, inSize, dst, outSize, count, decode,
                  [](double v, uint8_t *o) {
                    endian::write32le(o, roundToNarrow<8, 23>(v));
                  });
      break;
    case TensorDType::F16:
      convertLoop(in, inSize, dst, outSize, count, decode,
                  [](double v, uint8_t *o) {
                    endian::write16le(o, uint16_t(roundToNarrow<5, 10>(v)));
                  });
      break;
    default: // BF16
      convertLoop(in, inSize, dst, outSize, count, decode,
                  [](double v, uint8_t *o) {
                    endian::write16le(o, uint16_t(roundToNarrow<8, 7>(v)));
                  });
      break;
    }
  };
  switch (tensor.dtype) {
  case TensorDType::F64:
    withDecoder([](const uint8_t *p) {
      return std::bit_cast<double>(endian::read64le(p));
    });
    break;
  case TensorDType::F32:
    withDecoder([](const uint8_t *p) {
      return double(std::bit_cast<float>(endian::read32le(p)));
    });
    break;
  case TensorDType::F16: {
    const auto &table = f16Table();
    withDecoder(
        [&](const uint8_t *p) { return double(table[endian::read16le(p)]); });
    break;
  }
  case TensorDType::BF16:
    withDecoder([](const uint8_t *p) {
      return double(std::bit_cast<float>(uint32_t(endian::read16le(p)) << 16));
    });
    break;
  case TensorDType::F8_E4M3: {
    const auto &table = f8Table<decodeF8E4M3>();
    withDecoder([&](const uint8_t *p) { return double(table[*p]); });
    break;
  }
  case TensorDType::F8_E5M2: {
    const auto &table = f8Table<decodeF8E5M2>();
    withDecoder([&](const uint8_t *p) { return double(table[*p]); });
    break;
  }
  default:
    break; // rejected above
  }
  return llvm::Error::success();
}

} // namespace llmc::hf
