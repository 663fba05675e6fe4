//===- SafetensorsTest.cpp - the safetensors reader on good and bad files -===//
//
// Every test writes its files into a fresh temporary directory. Rejections
// check that the message names the file and the specific problem.

#include "frontends/hf/safetensors/Safetensors.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <unistd.h>

using llmc::hf::convertTensor;
using llmc::hf::requireTensor;
using llmc::hf::SafetensorsArchive;
using llmc::hf::TensorDType;
using llmc::hf::TensorView;
using json = nlohmann::json;

static_assert(std::endian::native == std::endian::little,
              "the tests build tensor bytes in host order");

namespace {

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i)
    s[i] = char(n >> (8 * i));
  return s;
}

/// A file from a literal header and data section.
std::string rawFile(const std::string &header, const std::string &data = "") {
  return le64(header.size()) + header + data;
}

template <typename T> std::string bytesOf(const std::vector<T> &values) {
  std::string s(values.size() * sizeof(T), '\0');
  if (!values.empty())
    std::memcpy(s.data(), values.data(), s.size());
  return s;
}

struct Tensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

/// A well-formed file: tensors laid out in order, header padded to 8 bytes
/// with spaces as the Python writer does.
std::string buildFile(const std::vector<Tensor> &tensors,
                      const json &metadata = nullptr) {
  json header = json::object();
  std::string data;
  for (const Tensor &t : tensors) {
    header[t.name] = {
        {"dtype", t.dtype},
        {"shape", t.shape},
        {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  if (!metadata.is_null())
    header["__metadata__"] = metadata;
  std::string text = header.dump();
  while (text.size() % 8)
    text += ' ';
  return rawFile(text, data);
}

/// A header of one tensor "w" with the given fields, over `dataSize` bytes.
std::string oneEntry(const std::string &entry, size_t dataSize) {
  return rawFile("{\"w\": " + entry + "}", std::string(dataSize, '\0'));
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

uint32_t bitsOf(float f) { return std::bit_cast<uint32_t>(f); }

class SafetensorsTest : public ::testing::Test {
protected:
  void SetUp() override {
    llvm::SmallString<128> path;
    ASSERT_FALSE(
        llvm::sys::fs::createUniqueDirectory("llmc-safetensors", path));
    dir = std::string(path);
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  /// Writes `contents` to `name` under the temp directory; returns its path.
  std::string write(const std::string &name, const std::string &contents) {
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, name);
    llvm::sys::fs::create_directories(llvm::sys::path::parent_path(path));
    std::ofstream out(std::string(path), std::ios::binary | std::ios::trunc);
    out.write(contents.data(), std::streamsize(contents.size()));
    EXPECT_TRUE(out.good()) << path.str().str();
    return std::string(path);
  }

  std::string pathOf(const std::string &name) {
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, name);
    return std::string(path);
  }

  std::unique_ptr<SafetensorsArchive> open(const std::string &path) {
    auto archive = SafetensorsArchive::open(path);
    if (!archive) {
      ADD_FAILURE() << llvm::toString(archive.takeError());
      return nullptr;
    }
    return std::move(*archive);
  }

  /// Opens `path` expecting an error that starts with `file` + ": " and
  /// contains every one of `parts`.
  void expectError(const std::string &path, const std::string &file,
                   std::initializer_list<std::string> parts) {
    auto archive = SafetensorsArchive::open(path);
    if (archive) {
      ADD_FAILURE() << path << " opened, expected an error";
      return;
    }
    std::string message = llvm::toString(archive.takeError());
    EXPECT_EQ(message.rfind(file + ": ", 0), 0u)
        << "message does not start with " << file << ": " << message;
    for (const std::string &part : parts)
      EXPECT_TRUE(contains(message, part))
          << "missing \"" << part << "\" in: " << message;
  }

  /// Writes `contents` as one .safetensors file and expects `parts`.
  void expectBadFile(const std::string &contents,
                     std::initializer_list<std::string> parts) {
    std::string path = write("bad.safetensors", contents);
    expectError(path, path, parts);
  }

  /// Converts the one-dimensional tensor `values` of `dtype` to `to`.
  template <typename Out, typename In>
  std::vector<Out> convert(const std::string &dtype,
                           const std::vector<In> &values, TensorDType to) {
    std::string path = write(
        "convert.safetensors",
        buildFile({{"x", dtype, {int64_t(values.size())}, bytesOf(values)}}));
    auto archive = open(path);
    if (!archive)
      return {};
    const TensorView *x = archive->find("x");
    std::vector<Out> out(values.size());
    llvm::MutableArrayRef<uint8_t> bytes(
        reinterpret_cast<uint8_t *>(out.data()), out.size() * sizeof(Out));
    if (llvm::Error err = convertTensor(*x, to, bytes)) {
      ADD_FAILURE() << llvm::toString(std::move(err));
      return {};
    }
    return out;
  }

  std::string dir;
};

//===----------------------------------------------------------------------===//
// Good files
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, SingleFileReadsValuesBack) {
  std::vector<float> w = {1.5f, -2.25f, 3.0f, 0.0f, 1e-30f, 65504.0f};
  std::vector<uint16_t> b = {0x3f80, 0xc000, 0x7f80, 0x0001};
  std::vector<int32_t> ids = {7, -9};
  std::string path = write("model.safetensors",
                           buildFile({{"z.weight", "F32", {2, 3}, bytesOf(w)},
                                      {"a.bias", "BF16", {4}, bytesOf(b)},
                                      {"m.ids", "I32", {2}, bytesOf(ids)}}));
  auto archive = open(path);
  ASSERT_TRUE(archive);
  EXPECT_EQ(archive->source(), path);

  llvm::ArrayRef<TensorView> all = archive->tensors();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, "a.bias");
  EXPECT_EQ(all[1].name, "m.ids");
  EXPECT_EQ(all[2].name, "z.weight");

  const TensorView *z = archive->find("z.weight");
  ASSERT_TRUE(z);
  EXPECT_EQ(z->dtype, TensorDType::F32);
  EXPECT_EQ(z->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(z->numElements(), 6u);
  EXPECT_EQ(z->size, 24u);
  EXPECT_EQ(z->file, path);
  std::vector<float> zBack(6);
  std::memcpy(zBack.data(), z->data, 24);
  EXPECT_EQ(zBack, w);

  const TensorView *a = archive->find("a.bias");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->dtype, TensorDType::BF16);
  std::vector<uint16_t> aBack(4);
  std::memcpy(aBack.data(), a->data, 8);
  EXPECT_EQ(aBack, b);

  const TensorView *m = archive->find("m.ids");
  ASSERT_TRUE(m);
  std::vector<int32_t> mBack(2);
  std::memcpy(mBack.data(), m->data, 8);
  EXPECT_EQ(mBack, ids);

  EXPECT_EQ(archive->find("nope"), nullptr);
  EXPECT_EQ(archive->find("a"), nullptr);
  EXPECT_EQ(archive->find("z.weight.x"), nullptr);
  EXPECT_TRUE(archive->metadata().empty());
}

TEST_F(SafetensorsTest, ScalarAndZeroSizeTensors) {
  std::vector<double> scalar = {2.718281828459045};
  std::string path = write("model.safetensors",
                           buildFile({{"empty", "F16", {0, 4}, ""},
                                      {"scalar", "F64", {}, bytesOf(scalar)},
                                      {"also.empty", "I8", {3, 0}, ""},
                                      {"tail.empty", "BOOL", {0}, ""}}));
  auto archive = open(path);
  ASSERT_TRUE(archive);
  const TensorView *s = archive->find("scalar");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->shape.empty());
  EXPECT_EQ(s->numElements(), 1u);
  EXPECT_EQ(s->size, 8u);
  double back;
  std::memcpy(&back, s->data, 8);
  EXPECT_EQ(back, scalar[0]);

  for (const char *name : {"empty", "also.empty", "tail.empty"}) {
    const TensorView *e = archive->find(name);
    ASSERT_TRUE(e) << name;
    EXPECT_EQ(e->numElements(), 0u) << name;
    EXPECT_EQ(e->size, 0u) << name;
  }
  EXPECT_EQ(archive->find("empty")->shape, (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(archive->find("tail.empty")->dtype, TensorDType::Bool);
}

TEST_F(SafetensorsTest, EmptyFile) {
  std::string path = write("model.safetensors", rawFile("{}      "));
  auto archive = open(path);
  ASSERT_TRUE(archive);
  EXPECT_TRUE(archive->tensors().empty());
}

TEST_F(SafetensorsTest, Metadata) {
  std::vector<float> w = {1.0f};
  std::string path = write("model.safetensors",
                           buildFile({{"w", "F32", {1}, bytesOf(w)}},
                                     {{"format", "pt"}, {"note", "ünïcode"}}));
  auto archive = open(path);
  ASSERT_TRUE(archive);
  EXPECT_EQ(archive->metadata().size(), 2u);
  EXPECT_EQ(archive->metadata().at("format"), "pt");
  EXPECT_EQ(archive->metadata().at("note"), "ünïcode");
  ASSERT_EQ(archive->tensors().size(), 1u); // __metadata__ is no tensor
}

TEST_F(SafetensorsTest, DirectoryWithSingleFile) {
  std::vector<float> w = {4.0f};
  write("model.safetensors", buildFile({{"w", "F32", {1}, bytesOf(w)}}));
  // model.safetensors wins over an index, as in transformers.
  write("model.safetensors.index.json", "not even JSON");
  auto archive = open(dir);
  ASSERT_TRUE(archive);
  EXPECT_EQ(archive->source(), dir);
  ASSERT_TRUE(archive->find("w"));
  EXPECT_EQ(archive->find("w")->file, pathOf("model.safetensors"));
}

TEST_F(SafetensorsTest, DtypeNamesAndSizes) {
  struct {
    const char *name;
    TensorDType dtype;
    uint64_t size;
  } cases[] = {{"F64", TensorDType::F64, 8},
               {"F32", TensorDType::F32, 4},
               {"F16", TensorDType::F16, 2},
               {"BF16", TensorDType::BF16, 2},
               {"F8_E4M3", TensorDType::F8_E4M3, 1},
               {"F8_E5M2", TensorDType::F8_E5M2, 1},
               {"I64", TensorDType::I64, 8},
               {"I32", TensorDType::I32, 4},
               {"I16", TensorDType::I16, 2},
               {"I8", TensorDType::I8, 1},
               {"U8", TensorDType::U8, 1},
               {"BOOL", TensorDType::Bool, 1}};
  for (const auto &c : cases) {
    EXPECT_EQ(llmc::hf::parseTensorDType(c.name), c.dtype) << c.name;
    EXPECT_EQ(llmc::hf::tensorDTypeName(c.dtype), c.name);
    EXPECT_EQ(llmc::hf::tensorDTypeSize(c.dtype), c.size) << c.name;
  }
  EXPECT_FALSE(llmc::hf::parseTensorDType("bf16"));
  EXPECT_FALSE(llmc::hf::parseTensorDType("F4"));
}

//===----------------------------------------------------------------------===//
// Sharded models
//===----------------------------------------------------------------------===//

class ShardedTest : public SafetensorsTest {
protected:
  void writeShards() {
    write("model-00001-of-00002.safetensors",
          buildFile({{"a", "F32", {2}, bytesOf(std::vector<float>{1, 2})},
                     {"c", "F16", {1}, bytesOf(std::vector<uint16_t>{0x3c00})}},
                    {{"format", "pt"}}));
    write("model-00002-of-00002.safetensors",
          buildFile({{"b", "I64", {1}, bytesOf(std::vector<int64_t>{42})}},
                    {{"format", "other"}, {"shard", "2"}}));
  }
  std::string writeIndex(const json &weightMap) {
    return write(
        "model.safetensors.index.json",
        json{{"metadata", {{"total_size", 18}}}, {"weight_map", weightMap}}
            .dump(2));
  }
  json goodMap() {
    return {{"a", "model-00001-of-00002.safetensors"},
            {"b", "model-00002-of-00002.safetensors"},
            {"c", "model-00001-of-00002.safetensors"}};
  }
};

TEST_F(ShardedTest, OpensDirectoryAndIndex) {
  writeShards();
  std::string index = writeIndex(goodMap());
  for (const std::string &path : {dir, index}) {
    auto archive = open(path);
    ASSERT_TRUE(archive) << path;
    EXPECT_EQ(archive->source(), path);
    llvm::ArrayRef<TensorView> all = archive->tensors();
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].name, "a");
    EXPECT_EQ(all[1].name, "b");
    EXPECT_EQ(all[2].name, "c");
    EXPECT_EQ(all[0].file, pathOf("model-00001-of-00002.safetensors"));
    EXPECT_EQ(all[1].file, pathOf("model-00002-of-00002.safetensors"));
    int64_t b;
    std::memcpy(&b, all[1].data, 8);
    EXPECT_EQ(b, 42);
    float a[2];
    std::memcpy(a, all[0].data, 8);
    EXPECT_EQ(a[0], 1.0f);
    EXPECT_EQ(a[1], 2.0f);
    // The first shard by name wins a metadata disagreement.
    EXPECT_EQ(archive->metadata().at("format"), "pt");
    EXPECT_EQ(archive->metadata().at("shard"), "2");
  }
}

TEST_F(ShardedTest, ReadCopiesRangesFromEachShard) {
  writeShards();
  writeIndex(goodMap());
  auto archive = open(dir);
  ASSERT_TRUE(archive);
  for (const TensorView &t : archive->tensors()) {
    // The whole tensor, then every one-byte-shorter range from each end:
    // the bytes the mapping holds.
    for (uint64_t from = 0; from < t.size; ++from)
      for (uint64_t to = from; to <= t.size; ++to) {
        std::vector<uint8_t> out(to - from, 0xee);
        ASSERT_FALSE(archive->read(t, from, out)) << t.name;
        EXPECT_TRUE(std::equal(out.begin(), out.end(), t.data + from))
            << t.name << " [" << from << ", " << to << ")";
      }
  }
  const TensorView &a = *archive->find("a");
  std::vector<uint8_t> tooMany(a.size + 1);
  llvm::Error e = archive->read(a, 0, tooMany);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("outside tensor \"a\""),
            std::string::npos);
}

TEST_F(SafetensorsTest, ReadOfAFileThatShrankIsAnError) {
  std::vector<float> w(1024, 1.0f);
  std::string path = write("model.safetensors",
                           buildFile({{"w", "F32", {1024}, bytesOf(w)}}));
  auto archive = open(path);
  ASSERT_TRUE(archive);
  const TensorView &t = *archive->find("w");
  ASSERT_EQ(::truncate(path.c_str(), 64), 0);
  std::vector<uint8_t> out(t.size);
  llvm::Error e = archive->read(t, 0, out);
  ASSERT_TRUE(bool(e));
  EXPECT_EQ(llvm::toString(std::move(e)),
            path + ": ends before byte 72: the file shrank while it was being "
                   "read");
}

TEST_F(ShardedTest, ShardInSubdirectoryAndSymlinkInside) {
  write("sub/one.safetensors",
        buildFile({{"a", "F32", {1}, bytesOf(std::vector<float>{5})}}));
  write("real.safetensors",
        buildFile({{"b", "F32", {1}, bytesOf(std::vector<float>{6})}}));
  ASSERT_FALSE(llvm::sys::fs::create_link("real.safetensors",
                                          pathOf("link.safetensors")));
  writeIndex({{"a", "sub/one.safetensors"}, {"b", "link.safetensors"}});
  auto archive = open(dir);
  ASSERT_TRUE(archive);
  EXPECT_EQ(archive->tensors().size(), 2u);
  ASSERT_TRUE(archive->find("b"));
  EXPECT_EQ(archive->find("b")->file, pathOf("link.safetensors"));
}

TEST_F(ShardedTest, MissingShard) {
  write("model-00001-of-00002.safetensors",
        buildFile({{"a", "F32", {2}, bytesOf(std::vector<float>{1, 2})},
                   {"c", "F16", {1}, bytesOf(std::vector<uint16_t>{0})}}));
  std::string index = writeIndex(goodMap());
  expectError(dir, index,
              {"shard \"model-00002-of-00002.safetensors\" (for tensor \"b\") "
               "cannot be opened",
               "No such file or directory"});
}

TEST_F(ShardedTest, DotDotShardName) {
  writeShards();
  for (const char *name :
       {"../outside.safetensors", "sub/../../outside.safetensors"}) {
    json map = goodMap();
    map["b"] = name;
    std::string index = writeIndex(map);
    expectError(dir, index,
                {"shard \"" + std::string(name) + "\" (for tensor \"b\")",
                 "has a \"..\" component",
                 "shards must be inside the model directory"});
  }
}

TEST_F(ShardedTest, AbsoluteShardName) {
  writeShards();
  json map = goodMap();
  map["b"] = pathOf("model-00002-of-00002.safetensors");
  std::string index = writeIndex(map);
  expectError(dir, index,
              {"(for tensor \"b\") is an absolute path",
               "shards must be inside the model directory"});
}

TEST_F(ShardedTest, SymlinkShardOutsideDirectory) {
  // The model lives in dir/model; the link points at dir/outside.
  write("outside.safetensors",
        buildFile({{"b", "I64", {1}, bytesOf(std::vector<int64_t>{1})}}));
  write("model/model-00001-of-00002.safetensors",
        buildFile({{"a", "F32", {1}, bytesOf(std::vector<float>{1})}}));
  ASSERT_FALSE(llvm::sys::fs::create_link(
      pathOf("outside.safetensors"),
      pathOf("model/model-00002-of-00002.safetensors")));
  std::string index = write("model/model.safetensors.index.json",
                            json{{"weight_map",
                                  {{"a", "model-00001-of-00002.safetensors"},
                                   {"b", "model-00002-of-00002.safetensors"}}}}
                                .dump());
  expectError(pathOf("model"), index,
              {"shard \"model-00002-of-00002.safetensors\" (for tensor \"b\") "
               "resolves to",
               "outside.safetensors\", outside the model directory"});
}

TEST_F(ShardedTest, TensorMissingFromItsShard) {
  writeShards();
  json map = goodMap();
  map["d"] = "model-00002-of-00002.safetensors";
  std::string index = writeIndex(map);
  expectError(dir, index,
              {"tensor \"d\" is listed in weight_map for shard "
               "\"model-00002-of-00002.safetensors\", but "
               "\"model-00002-of-00002.safetensors\" does not contain it"});

  // Listed against the wrong shard is the same error.
  map = goodMap();
  map["b"] = "model-00001-of-00002.safetensors";
  index = writeIndex(map);
  expectError(dir, index,
              {"tensor \"b\" is listed in weight_map for shard "
               "\"model-00001-of-00002.safetensors\""});
}

TEST_F(ShardedTest, TensorInTwoShards) {
  writeShards();
  write("model-00002-of-00002.safetensors",
        buildFile({{"a", "F32", {2}, bytesOf(std::vector<float>{1, 2})},
                   {"b", "I64", {1}, bytesOf(std::vector<int64_t>{42})}}));
  std::string index = writeIndex(goodMap());
  expectError(dir, index,
              {"tensor \"a\" appears in two shards, "
               "\"model-00001-of-00002.safetensors\" and "
               "\"model-00002-of-00002.safetensors\""});
}

TEST_F(ShardedTest, BadShardNamesTheShard) {
  writeShards();
  std::string shard = write("model-00002-of-00002.safetensors", rawFile("[]"));
  writeIndex(goodMap());
  expectError(dir, shard, {"header is an array, expected a JSON object"});
}

TEST_F(ShardedTest, BadIndex) {
  writeShards();
  std::string index =
      write("model.safetensors.index.json", "{\"metadata\": {}}");
  expectError(dir, index, {"missing key \"weight_map\""});
  write(
      "model.safetensors.index.json",
      "{\"weight_map\": {\"a\": \"x.safetensors\", \"a\": \"y.safetensors\"}}");
  expectError(dir, index, {"duplicate key \"a\" in \"weight_map\""});
  write("model.safetensors.index.json", "{\"weight_map\": {\"a\": 3}}");
  expectError(dir, index,
              {"weight_map entry for tensor \"a\" must be a shard file name, "
               "got an integer (3)"});
  write("model.safetensors.index.json", "{\"weight_map\": ");
  expectError(dir, index, {"malformed JSON"});
}

TEST_F(SafetensorsTest, DirectoryWithoutWeights) {
  expectError(dir, dir,
              {"no model.safetensors or model.safetensors.index.json"});
}

TEST_F(SafetensorsTest, MissingFile) {
  std::string path = pathOf("absent.safetensors");
  expectError(path, path, {"cannot read: No such file or directory"});
}

//===----------------------------------------------------------------------===//
// Rejected headers
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, FileTooShort) {
  expectBadFile(std::string("\x02\x00\x00", 3),
                {"file is 3 bytes, too short for the 8-byte "
                 "header length"});
}

TEST_F(SafetensorsTest, HeaderLengthOverLimit) {
  expectBadFile(le64(100'000'001) + "{}",
                {"header length 100000001 exceeds the limit of 100000000 "
                 "bytes"});
}

TEST_F(SafetensorsTest, HeaderLength2To63) {
  expectBadFile(le64(uint64_t(1) << 63),
                {"header length 9223372036854775808 exceeds the limit"});
  expectBadFile(le64(UINT64_MAX) + "{}",
                {"header length 18446744073709551615 exceeds the limit"});
}

TEST_F(SafetensorsTest, HeaderLongerThanFile) {
  expectBadFile(le64(100) + std::string(50, ' '),
                {"header length 100 extends past the end of the file (58 "
                 "bytes)"});
  // At the limit but still past the end.
  expectBadFile(le64(100'000'000) + "{}",
                {"header length 100000000 extends past the end of the file"});
}

TEST_F(SafetensorsTest, TruncatedDataSection) {
  std::string file =
      buildFile({{"a", "F32", {4}, bytesOf(std::vector<float>{1, 2, 3, 4})},
                 {"b", "F32", {4}, bytesOf(std::vector<float>{5, 6, 7, 8})}});
  file.resize(file.size() - 4);
  expectBadFile(file, {"tensor \"b\": data_offsets [16, 32] extend past the "
                       "end of the data section (28 bytes)"});
}

TEST_F(SafetensorsTest, InvalidUTF8) {
  expectBadFile(rawFile("{\"a\xff\": {}}"),
                {"header is not valid UTF-8 (at byte 11)"});
  // An overlong encoding of '/' is invalid too.
  expectBadFile(rawFile("{\"\xc0\xaf\": {}}"),
                {"header is not valid UTF-8 (at byte 10)"});
  // A lone surrogate (U+D800).
  expectBadFile(rawFile("{\"\xed\xa0\x80\": {}}"), {"not valid UTF-8"});
}

TEST_F(SafetensorsTest, MalformedJSON) {
  expectBadFile(rawFile("{\"w\": "), {"malformed JSON at line 1, column 7"});
  expectBadFile(rawFile("{\"w\": {}} trailing"), {"malformed JSON"});
  expectBadFile(rawFile(""), {"malformed JSON"});
}

TEST_F(SafetensorsTest, HeaderNotAnObject) {
  expectBadFile(rawFile("[1, 2]"),
                {"header is an array, expected a JSON object"});
  expectBadFile(rawFile("\"w\""),
                {"header is a string (\"w\"), expected a JSON object"});
}

TEST_F(SafetensorsTest, DuplicateTensorNames) {
  std::string entry = "{\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": ";
  expectBadFile(
      rawFile("{\"w\": " + entry + "[0, 1]}, \"w\": " + entry + "[1, 2]}}",
              "ab"),
      {"duplicate tensor name \"w\""});
  expectBadFile(oneEntry("{\"dtype\": \"U8\", \"dtype\": \"I8\", \"shape\": "
                         "[1], \"data_offsets\": [0, 1]}",
                         1),
                {"duplicate key \"dtype\" in \"w\""});
}

TEST_F(SafetensorsTest, UnknownDtype) {
  expectBadFile(
      oneEntry(
          "{\"dtype\": \"Q4_K\", \"shape\": [1], \"data_offsets\": [0, 1]}", 1),
      {"tensor \"w\": unknown dtype \"Q4_K\" (expected one of F64"});
}

TEST_F(SafetensorsTest, NegativeDimension) {
  expectBadFile(oneEntry("{\"dtype\": \"U8\", \"shape\": [2, -1], "
                         "\"data_offsets\": [0, 0]}",
                         0),
                {"tensor \"w\": shape [2,-1] has a negative dimension -1"});
  expectBadFile(oneEntry("{\"dtype\": \"U8\", \"shape\": "
                         "[18446744073709551615], \"data_offsets\": [0, 0]}",
                         0),
                {"tensor \"w\": shape [18446744073709551615] has an "
                 "out-of-range dimension"});
}

TEST_F(SafetensorsTest, WrongEntryTypes) {
  struct {
    const char *entry;
    const char *problem;
  } cases[] = {
      {"[1]", "tensor \"w\": expected an object with dtype, shape and "
              "data_offsets, got an array"},
      {"{\"shape\": [1], \"data_offsets\": [0, 1]}",
       "tensor \"w\": missing key \"dtype\""},
      {"{\"dtype\": \"U8\", \"data_offsets\": [0, 1]}",
       "tensor \"w\": missing key \"shape\""},
      {"{\"dtype\": \"U8\", \"shape\": [1]}",
       "tensor \"w\": missing key \"data_offsets\""},
      {"{\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1], "
       "\"offsets\": 0}",
       "tensor \"w\": unexpected key \"offsets\""},
      {"{\"dtype\": 8, \"shape\": [1], \"data_offsets\": [0, 1]}",
       "tensor \"w\": dtype must be a string, got an integer (8)"},
      {"{\"dtype\": \"U8\", \"shape\": 1, \"data_offsets\": [0, 1]}",
       "tensor \"w\": shape must be an array of integers, got an integer (1)"},
      {"{\"dtype\": \"U8\", \"shape\": [1.0], \"data_offsets\": [0, 1]}",
       "tensor \"w\": shape [1.0] holds a number (1.0), expected non-negative "
       "integers"},
      {"{\"dtype\": \"U8\", \"shape\": [\"1\"], \"data_offsets\": [0, 1]}",
       "holds a string (\"1\")"},
      {"{\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1]}",
       "tensor \"w\": data_offsets must be an array of two integers, got [1]"},
      {"{\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1, 1]}",
       "data_offsets must be an array of two integers, got [0,1,1]"},
      {"{\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": {}}",
       "data_offsets must be an array of two integers, got an object"},
      {"{\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [-1, 0]}",
       "tensor \"w\": data_offsets must hold non-negative integers, got an "
       "integer (-1)"},
      {"{\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1.5]}",
       "data_offsets must hold non-negative integers, got a number (1.5)"},
  };
  for (const auto &c : cases) {
    SCOPED_TRACE(c.entry);
    expectBadFile(oneEntry(c.entry, 1), {c.problem});
  }
  expectBadFile(
      rawFile("{\"__metadata__\": {\"a\": 1}}"),
      {"__metadata__ key \"a\" must be a string, got an integer (1)"});
  expectBadFile(rawFile("{\"__metadata__\": [\"a\"]}"),
                {"__metadata__ must be an object of strings, got an array"});
}

TEST_F(SafetensorsTest, OffsetsOutOfRange) {
  expectBadFile(oneEntry("{\"dtype\": \"F32\", \"shape\": [16], "
                         "\"data_offsets\": [0, 64]}",
                         16),
                {"tensor \"w\": data_offsets [0, 64] extend past the end of "
                 "the data section (16 bytes)"});
  expectBadFile(oneEntry("{\"dtype\": \"U8\", \"shape\": [0], "
                         "\"data_offsets\": [18446744073709551615, "
                         "18446744073709551615]}",
                         0),
                {"data_offsets [18446744073709551615, 18446744073709551615] "
                 "extend past the end of the data section (0 bytes)"});
}

TEST_F(SafetensorsTest, OverlappingTensors) {
  expectBadFile(
      rawFile("{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": "
              "[0, 16]}, \"b\": {\"dtype\": \"F32\", \"shape\": [4], "
              "\"data_offsets\": [8, 24]}}",
              std::string(24, '\0')),
      {"tensors \"a\" (data_offsets [0, 16]) and \"b\" (data_offsets [8, 24]) "
       "overlap"});
  // The same bytes twice.
  expectBadFile(
      rawFile("{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": "
              "[0, 16]}, \"b\": {\"dtype\": \"I32\", \"shape\": [4], "
              "\"data_offsets\": [0, 16]}}",
              std::string(16, '\0')),
      {"tensors \"a\" (data_offsets [0, 16]) and \"b\" (data_offsets [0, 16]) "
       "overlap"});
}

TEST_F(SafetensorsTest, GapBetweenTensors) {
  expectBadFile(
      rawFile("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": "
              "[0, 8]}, \"b\": {\"dtype\": \"F32\", \"shape\": [2], "
              "\"data_offsets\": [16, 24]}}",
              std::string(24, '\0')),
      {"data section has a gap of 8 bytes between tensor \"a\" (ending at 8) "
       "and tensor \"b\" (starting at 16)"});
  expectBadFile(oneEntry("{\"dtype\": \"F32\", \"shape\": [2], "
                         "\"data_offsets\": [4, 12]}",
                         12),
                {"data section has a gap of 4 bytes before the first tensor "
                 "\"w\" (starting at 4)"});
}

TEST_F(SafetensorsTest, TrailingBytesAfterLastTensor) {
  std::string file =
      buildFile({{"a", "F32", {1}, bytesOf(std::vector<float>{1})}});
  expectBadFile(file + "junk", {"data section has 4 trailing bytes after the "
                                "last tensor \"a\" (ending at 4 of 8)"});
  expectBadFile(rawFile("{}", "xy"),
                {"data section has 2 bytes but the header lists no tensors"});
}

TEST_F(SafetensorsTest, BeginAfterEnd) {
  expectBadFile(oneEntry("{\"dtype\": \"U8\", \"shape\": [4], "
                         "\"data_offsets\": [8, 4]}",
                         8),
                {"tensor \"w\": data_offsets [8, 4] begin after they end"});
}

TEST_F(SafetensorsTest, SizeDisagreesWithShape) {
  expectBadFile(oneEntry("{\"dtype\": \"F32\", \"shape\": [2, 2], "
                         "\"data_offsets\": [0, 12]}",
                         12),
                {"tensor \"w\": data_offsets [0, 12] hold 12 bytes, but shape "
                 "[2, 2] of F32 needs 16"});
  expectBadFile(oneEntry("{\"dtype\": \"BF16\", \"shape\": [], "
                         "\"data_offsets\": [0, 4]}",
                         4),
                {"data_offsets [0, 4] hold 4 bytes, but shape [] of BF16 "
                 "needs 2"});
}

TEST_F(SafetensorsTest, OverflowingShapeProduct) {
  // 2^62 * 2^62 wraps to 0 in 64 bits, which would match empty offsets.
  expectBadFile(oneEntry("{\"dtype\": \"U8\", \"shape\": [4611686018427387904, "
                         "4611686018427387904], \"data_offsets\": [0, 0]}",
                         0),
                {"tensor \"w\": shape [4611686018427387904, "
                 "4611686018427387904] has more elements than fit in 64 "
                 "bits"});
  // 2^62 elements fit, 2^62 * 4 bytes wrap to 0.
  expectBadFile(oneEntry("{\"dtype\": \"F32\", \"shape\": "
                         "[4611686018427387904], \"data_offsets\": [0, 0]}",
                         0),
                {"tensor \"w\": shape [4611686018427387904] of F32 needs more "
                 "bytes than fit in 64 bits"});
}

//===----------------------------------------------------------------------===//
// requireTensor
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, RequireTensor) {
  std::vector<uint16_t> up(64 * 32, 0x3f80);
  write("model.safetensors", buildFile({{"model.layers.0.mlp.up_proj.weight",
                                         "BF16",
                                         {64, 32},
                                         bytesOf(up)}}));
  auto archive = open(dir);
  ASSERT_TRUE(archive);

  auto ok =
      requireTensor(*archive, "model.layers.0.mlp.up_proj.weight", {64, 32});
  ASSERT_TRUE(bool(ok)) << llvm::toString(ok.takeError());
  EXPECT_EQ((*ok)->numElements(), 64u * 32u);

  auto wrong =
      requireTensor(*archive, "model.layers.0.mlp.up_proj.weight", {128, 64});
  ASSERT_FALSE(bool(wrong));
  EXPECT_EQ(llvm::toString(wrong.takeError()),
            dir + ": tensor \"model.layers.0.mlp.up_proj.weight\" has shape "
                  "[64, 32], config.json implies [128, 64]");

  auto missing = requireTensor(*archive, "lm_head.weight", {256, 64},
                               "config.json has tie_word_embeddings = false");
  ASSERT_FALSE(bool(missing));
  EXPECT_EQ(llvm::toString(missing.takeError()),
            dir + ": missing tensor \"lm_head.weight\" (config.json has "
                  "tie_word_embeddings = false)");

  auto bare = requireTensor(*archive, "lm_head.weight", {256, 64});
  ASSERT_FALSE(bool(bare));
  EXPECT_EQ(llvm::toString(bare.takeError()),
            dir + ": missing tensor \"lm_head.weight\"");
}

//===----------------------------------------------------------------------===//
// convertTensor
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, ConvertF32ToBF16RoundsToNearestEven) {
  std::vector<float> in = {
      1.0f,
      1.00390625f,                       // 1 + 2^-8: a tie, down to even
      1.01171875f,                       // 1 + 3 * 2^-8: a tie, up to even
      std::bit_cast<float>(0x3f808001u), // just above the tie: up
      -2.5f,
      -0.0f,
      std::bit_cast<float>(0x7f7fffffu), // FLT_MAX rounds up to infinity
      INFINITY,
      std::bit_cast<float>(0x00000001u), // the smallest subnormal: to 0
      std::bit_cast<float>(0x7f800001u), // a signalling NaN stays a NaN
  };
  std::vector<uint16_t> out = convert<uint16_t>("F32", in, TensorDType::BF16);
  ASSERT_EQ(out.size(), in.size());
  EXPECT_EQ(out[0], 0x3f80);
  EXPECT_EQ(out[1], 0x3f80);
  EXPECT_EQ(out[2], 0x3f82);
  EXPECT_EQ(out[3], 0x3f81);
  EXPECT_EQ(out[4], 0xc020);
  EXPECT_EQ(out[5], 0x8000);
  EXPECT_EQ(out[6], 0x7f80);
  EXPECT_EQ(out[7], 0x7f80);
  EXPECT_EQ(out[8], 0x0000);
  EXPECT_EQ(out[9] & 0x7f80, 0x7f80);
  EXPECT_NE(out[9] & 0x007f, 0);
}

TEST_F(SafetensorsTest, ConvertBF16ToF32IsExact) {
  std::vector<uint16_t> in = {0x3f80, 0xc049, 0x0001, 0x7f80,
                              0xff80, 0x7fc1, 0x8000, 0x7f7f};
  std::vector<uint32_t> out = convert<uint32_t>("BF16", in, TensorDType::F32);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i)
    EXPECT_EQ(out[i], uint32_t(in[i]) << 16) << i;
  EXPECT_EQ(std::bit_cast<float>(out[1]), -3.140625f);
}

TEST_F(SafetensorsTest, ConvertF16ToF32WithSubnormals) {
  std::vector<uint16_t> in = {0x3c00, 0x0001, 0x03ff, 0x0400, 0x8001, 0x7bff,
                              0x7c00, 0xfc00, 0x7e00, 0x8000, 0xc500, 0x3555};
  std::vector<float> out = convert<float>("F16", in, TensorDType::F32);
  ASSERT_EQ(out.size(), in.size());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], std::ldexp(1.0f, -24));
  EXPECT_EQ(out[2], std::ldexp(1023.0f, -24));
  EXPECT_EQ(out[3], std::ldexp(1.0f, -14));
  EXPECT_EQ(out[4], -std::ldexp(1.0f, -24));
  EXPECT_EQ(out[5], 65504.0f);
  EXPECT_EQ(out[6], INFINITY);
  EXPECT_EQ(out[7], -INFINITY);
  EXPECT_TRUE(std::isnan(out[8]));
  EXPECT_EQ(bitsOf(out[9]), 0x80000000u);
  EXPECT_EQ(out[10], -5.0f);
  EXPECT_EQ(out[11], 0.333251953125f);
}

TEST_F(SafetensorsTest, ConvertF32ToF16) {
  std::vector<float> in = {
      1.0f,
      65504.0f,
      65519.0f,              // below the tie: the largest finite
      65520.0f,              // the tie: to even, infinity
      std::ldexp(1.0f, -24), // the smallest subnormal
      std::ldexp(1.0f, -25), // a tie with zero: to zero
      std::ldexp(3.0f, -26), // 0.75 of the smallest: up
      std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25), // tie, up to a normal
      1.0f + std::ldexp(1.0f, -11),                  // tie: down to even
      1.0f + std::ldexp(3.0f, -11),                  // tie: up to even
      -2.0f,
      NAN,
  };
  std::vector<uint16_t> out = convert<uint16_t>("F32", in, TensorDType::F16);
  ASSERT_EQ(out.size(), in.size());
  EXPECT_EQ(out[0], 0x3c00);
  EXPECT_EQ(out[1], 0x7bff);
  EXPECT_EQ(out[2], 0x7bff);
  EXPECT_EQ(out[3], 0x7c00);
  EXPECT_EQ(out[4], 0x0001);
  EXPECT_EQ(out[5], 0x0000);
  EXPECT_EQ(out[6], 0x0001);
  EXPECT_EQ(out[7], 0x0400);
  EXPECT_EQ(out[8], 0x3c00);
  EXPECT_EQ(out[9], 0x3c02);
  EXPECT_EQ(out[10], 0xc000);
  EXPECT_EQ(out[11] & 0x7c00, 0x7c00);
  EXPECT_NE(out[11] & 0x03ff, 0);
}

TEST_F(SafetensorsTest, ConvertF64RoundsOnce) {
  // Through F32 first this would round twice: 1 + 2^-11 + 2^-40 becomes the
  // tie 1 + 2^-11, then 1.0. Rounded once it is above the tie.
  std::vector<double> in = {1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40),
                            1.0 / 3.0, -1e300};
  std::vector<uint16_t> half = convert<uint16_t>("F64", in, TensorDType::F16);
  ASSERT_EQ(half.size(), 3u);
  EXPECT_EQ(half[0], 0x3c01);
  EXPECT_EQ(half[1], 0x3555);
  EXPECT_EQ(half[2], 0xfc00);
  std::vector<float> single = convert<float>("F64", in, TensorDType::F32);
  ASSERT_EQ(single.size(), 3u);
  EXPECT_EQ(single[1], float(1.0 / 3.0));
  EXPECT_EQ(single[2], -INFINITY);
  std::vector<uint16_t> brain = convert<uint16_t>("F64", in, TensorDType::BF16);
  ASSERT_EQ(brain.size(), 3u);
  EXPECT_EQ(brain[0], 0x3f80);
  EXPECT_EQ(brain[1], 0x3eab);
}

TEST_F(SafetensorsTest, ConvertF8E4M3ToF32) {
  std::vector<uint8_t> in = {0x38, 0x7e, 0x01, 0x08, 0xb8, 0x40, 0x7f, 0xfe};
  std::vector<float> out = convert<float>("F8_E4M3", in, TensorDType::F32);
  ASSERT_EQ(out.size(), in.size());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 448.0f);
  EXPECT_EQ(out[2], std::ldexp(1.0f, -9)); // the smallest subnormal
  EXPECT_EQ(out[3], std::ldexp(1.0f, -6)); // the smallest normal
  EXPECT_EQ(out[4], -1.0f);
  EXPECT_EQ(out[5], 2.0f);
  EXPECT_TRUE(std::isnan(out[6])); // e4m3fn: 0x7f is NaN, not infinity
  EXPECT_EQ(out[7], -448.0f);
}

TEST_F(SafetensorsTest, ConvertF8E5M2ToF32AndBF16) {
  std::vector<uint8_t> in = {0x3c, 0x7b, 0x7c, 0x01, 0xc0, 0x7e};
  std::vector<float> out = convert<float>("F8_E5M2", in, TensorDType::F32);
  ASSERT_EQ(out.size(), in.size());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 57344.0f);
  EXPECT_EQ(out[2], INFINITY);
  EXPECT_EQ(out[3], std::ldexp(1.0f, -16));
  EXPECT_EQ(out[4], -2.0f);
  EXPECT_TRUE(std::isnan(out[5]));
  std::vector<uint16_t> brain =
      convert<uint16_t>("F8_E5M2", in, TensorDType::BF16);
  ASSERT_EQ(brain.size(), in.size());
  EXPECT_EQ(brain[0], 0x3f80);
  EXPECT_EQ(brain[1], 0x4760);
  EXPECT_EQ(brain[2], 0x7f80);
  EXPECT_EQ(brain[3], 0x3780);
}

TEST_F(SafetensorsTest, ConvertBetweenHalfFormats) {
  std::vector<uint16_t> half = {0x3c00, 0x0001, 0x7bff, 0xfc00};
  std::vector<uint16_t> brain =
      convert<uint16_t>("F16", half, TensorDType::BF16);
  ASSERT_EQ(brain.size(), half.size());
  EXPECT_EQ(brain[0], 0x3f80);
  EXPECT_EQ(brain[1], 0x3380); // 2^-24 is a BF16 normal
  EXPECT_EQ(brain[2], 0x4780); // 65504 rounds up to 65536
  EXPECT_EQ(brain[3], 0xff80);

  std::vector<uint16_t> fromBrain = {0x3f80, 0x47c3, 0x3380, 0x3300};
  std::vector<uint16_t> back =
      convert<uint16_t>("BF16", fromBrain, TensorDType::F16);
  ASSERT_EQ(back.size(), fromBrain.size());
  EXPECT_EQ(back[0], 0x3c00);
  EXPECT_EQ(back[1], 0x7c00); // 99840 overflows F16
  EXPECT_EQ(back[2], 0x0001);
  EXPECT_EQ(back[3], 0x0000); // 2^-25: a tie, to zero
}

TEST_F(SafetensorsTest, ConvertSameTypeCopies) {
  std::vector<float> in = {1.5f, NAN, -0.0f};
  std::vector<uint32_t> out = convert<uint32_t>("F32", in, TensorDType::F32);
  ASSERT_EQ(out.size(), 3u);
  for (size_t i = 0; i < in.size(); ++i)
    EXPECT_EQ(out[i], bitsOf(in[i]));
}

TEST_F(SafetensorsTest, ConvertRejectsIntegersAndBadTargets) {
  std::string path =
      write("model.safetensors",
            buildFile({{"ids", "I32", {2}, bytesOf(std::vector<int32_t>{1, 2})},
                       {"w", "F32", {2}, bytesOf(std::vector<float>{1, 2})}}));
  auto archive = open(path);
  ASSERT_TRUE(archive);
  std::vector<uint8_t> out(8);

  llvm::Error err = convertTensor(*archive->find("ids"), TensorDType::F32, out);
  ASSERT_TRUE(bool(err));
  std::string message = llvm::toString(std::move(err));
  EXPECT_TRUE(contains(message, path + ": tensor \"ids\" (I32) is not a "
                                       "floating-point tensor"))
      << message;

  err = convertTensor(*archive->find("w"), TensorDType::I8, out);
  ASSERT_TRUE(bool(err));
  message = llvm::toString(std::move(err));
  EXPECT_TRUE(contains(message, "cannot convert tensor \"w\" (F32) to I8"))
      << message;

  err = convertTensor(*archive->find("w"), TensorDType::F16,
                      llvm::MutableArrayRef<uint8_t>(out).take_front(3));
  ASSERT_TRUE(bool(err));
  message = llvm::toString(std::move(err));
  EXPECT_TRUE(contains(message, "needs 2 x 2 bytes, got a buffer of 3"))
      << message;
}

} // namespace
