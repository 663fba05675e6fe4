//===- llmc-compare-logits.cpp - compare logits against golden data -------===//
//
// Compares two float32 .npy arrays under a tolerance relative to the golden
// array's largest magnitude, and prints fields of a golden.json so that the
// golden test script needs no Python:
//
//   llmc-compare-logits <golden.npy> <actual.npy> --rel-tol X
//       exit 0: same shape, all finite, max|delta| <= X * max|golden|
//       exit 1: otherwise
//   llmc-compare-logits --print-field <file.json> <key>
//       prints the top-level value: arrays of numbers comma-separated,
//       strings unquoted, numbers as written
//
// Exit status 2 means bad usage or unreadable/malformed input.
//
// Standard library only: this must build without MLIR/LLVM.
//===----------------------------------------------------------------------===//

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

/// Thrown for usage and input errors; main turns it into exit status 2.
struct InputError {
  std::string message;
};

[[noreturn]] void fail(const std::string &message) {
  throw InputError{message};
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(path + ": cannot open");
  std::string data((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  if (in.bad())
    fail(path + ": read error");
  return data;
}

//===----------------------------------------------------------------------===//
// .npy reading
//===----------------------------------------------------------------------===//

struct Array {
  std::vector<uint64_t> shape;
  std::vector<float> values;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

/// Returns the text after `'key':` up to the next top-level comma or '}'
/// (a tuple counts as one value) in a header dict like
/// {'descr': '<f4', 'fortran_order': False, 'shape': (36, 512), }.
std::optional<std::string_view> headerValue(std::string_view dict,
                                            std::string_view key) {
  std::string quoted = "'" + std::string(key) + "'";
  size_t at = dict.find(quoted);
  if (at == std::string_view::npos)
    return std::nullopt;
  size_t colon = dict.find(':', at + quoted.size());
  if (colon == std::string_view::npos)
    return std::nullopt;
  size_t begin = colon + 1, end = begin;
  int depth = 0;
  for (; end < dict.size(); ++end) {
    char c = dict[end];
    if (c == '(')
      ++depth;
    else if (c == ')')
      --depth;
    else if ((c == ',' || c == '}') && depth == 0)
      break;
  }
  return trim(dict.substr(begin, end - begin));
}

std::vector<uint64_t> parseShape(const std::string &path,
                                 std::string_view text) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')')
    fail(path + ": malformed shape " + std::string(text));
  std::vector<uint64_t> shape;
  std::string_view rest = text.substr(1, text.size() - 2);
  while (!trim(rest).empty()) {
    size_t comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    if (item.empty() || item.size() > 18 ||
        item.find_first_not_of("0123456789") != std::string_view::npos)
      fail(path + ": malformed shape " + std::string(text));
    shape.push_back(std::stoull(std::string(item)));
    if (comma == std::string_view::npos)
      break;
    rest.remove_prefix(comma + 1);
  }
  return shape;
}

Array readNpy(const std::string &path) {
  const std::string data = readFile(path);
  static constexpr char kMagic[] = "\x93NUMPY";
  if (data.size() < 10 || data.compare(0, 6, kMagic, 6) != 0)
    fail(path + ": not a .npy file (bad magic)");
  const unsigned major = static_cast<unsigned char>(data[6]);
  size_t headerLen, headerStart;
  auto byte = [&](size_t i) {
    return static_cast<uint64_t>(static_cast<unsigned char>(data[i]));
  };
  if (major == 1) {
    headerLen = byte(8) | byte(9) << 8;
    headerStart = 10;
  } else if (major == 2) {
    if (data.size() < 12)
      fail(path + ": truncated header");
    headerLen = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
    headerStart = 12;
  } else {
    fail(path + ": unsupported .npy format version " + std::to_string(major) +
         " (supported: 1.0, 2.0)");
  }
  if (headerLen > data.size() - headerStart)
    fail(path + ": truncated header");
  // numpy writes single quotes; accept writers that use JSON-style double
  // quotes too.
  std::string headerText(data.data() + headerStart, headerLen);
  for (char &c : headerText)
    if (c == '"')
      c = '\'';
  std::string_view header(headerText);
  if (trim(header).empty() || trim(header).front() != '{' ||
      trim(header).back() != '}')
    fail(path + ": malformed header (expected a Python dict literal)");

  auto descr = headerValue(header, "descr");
  auto fortran = headerValue(header, "fortran_order");
  auto shapeText = headerValue(header, "shape");
  if (!descr || !fortran || !shapeText)
    fail(path + ": malformed header (needs descr, fortran_order, shape): " +
         std::string(trim(header)));
  // Little-endian float32 only; '=' is native, which is little-endian on
  // every host we build for.
  if (*descr != "'<f4'" && *descr != "'=f4'")
    fail(path + ": unsupported dtype " + std::string(*descr) +
         " (expected float32, '<f4')");
  if (*fortran != "False")
    fail(path + ": Fortran-order arrays are not supported");
  Array array;
  array.shape = parseShape(path, *shapeText);

  // Checked product: the shape comes from the file.
  uint64_t count = 1;
  for (uint64_t dim : array.shape) {
    if (dim != 0 && count > std::numeric_limits<uint64_t>::max() / 4 / dim)
      fail(path + ": shape " + std::string(*shapeText) + " is too large");
    count *= dim;
  }
  const size_t payload = data.size() - headerStart - headerLen;
  if (payload != count * 4)
    fail(path + ": expected " + std::to_string(count * 4) +
         " bytes of float32 data for shape " + std::string(*shapeText) +
         ", found " + std::to_string(payload) +
         (payload < count * 4 ? " (truncated file)" : " (trailing bytes)"));
  array.values.resize(count);
  std::memcpy(array.values.data(), data.data() + headerStart + headerLen,
              count * 4);
  return array;
}

std::string shapeString(const std::vector<uint64_t> &shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

//===----------------------------------------------------------------------===//
// Minimal JSON: enough to pull one top-level field out of golden.json
//===----------------------------------------------------------------------===//

class JsonScanner {
public:
  JsonScanner(std::string path, std::string_view text)
      : path(std::move(path)), text(text) {}

  /// Returns the printed form of top-level `key`, or nullopt if absent.
  std::optional<std::string> field(std::string_view key) {
    skipSpace();
    expect('{');
    std::optional<std::string> found;
    skipSpace();
    if (peek() == '}') {
      ++pos;
    } else {
      while (true) {
        skipSpace();
        std::string name = string();
        skipSpace();
        expect(':');
        skipSpace();
        std::string value = printedValue();
        if (name == key && !found)
          found = value;
        skipSpace();
        if (peek() == ',') {
          ++pos;
          continue;
        }
        expect('}');
        break;
      }
    }
    skipSpace();
    if (pos != text.size())
      error("trailing characters after the top-level object");
    return found;
  }

private:
  [[noreturn]] void error(const std::string &what) {
    fail(path + ": malformed JSON at byte " + std::to_string(pos) + ": " +
         what);
  }
  char peek() const { return pos < text.size() ? text[pos] : '\0'; }
  void expect(char c) {
    if (peek() != c)
      error(std::string("expected '") + c + "'");
    ++pos;
  }
  void skipSpace() {
    while (pos < text.size() && std::strchr(" \t\r\n", text[pos]))
      ++pos;
  }

  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (pos >= text.size())
        error("unterminated string");
      char c = text[pos++];
      if (c == '"')
        return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos >= text.size())
        error("unterminated string");
      char e = text[pos++];
      switch (e) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u':
        // Golden files are ASCII; keep escapes verbatim rather than decode.
        if (pos + 4 > text.size())
          error("bad \\u escape");
        out += "\\u" + std::string(text.substr(pos, 4));
        pos += 4;
        break;
      default:
        out += e;
        break;
      }
    }
  }

  std::string number() {
    size_t begin = pos;
    while (pos < text.size() && std::strchr("+-0123456789.eE", text[pos]))
      ++pos;
    if (begin == pos)
      error("expected a value");
    return std::string(text.substr(begin, pos - begin));
  }

  std::string literal() {
    for (const char *word : {"true", "false", "null"})
      if (text.substr(pos, std::strlen(word)) == word) {
        pos += std::strlen(word);
        return word;
      }
    return number();
  }

  /// Scalars print as themselves; arrays as their elements joined by ','
  /// (nested containers are parsed but print as "[...]"/"{...}").
  std::string printedValue(int depth = 0) {
    if (depth > 64)
      error("nesting too deep");
    char c = peek();
    if (c == '"')
      return string();
    if (c == '[' || c == '{') {
      const char close = c == '[' ? ']' : '}';
      ++pos;
      std::string out;
      skipSpace();
      if (peek() == close) {
        ++pos;
        return depth ? std::string(1, c) + close : "";
      }
      for (bool first = true;; first = false) {
        skipSpace();
        if (c == '{') {
          string();
          skipSpace();
          expect(':');
          skipSpace();
        }
        std::string item = printedValue(depth + 1);
        if (!first)
          out += ',';
        out += item;
        skipSpace();
        if (peek() == ',') {
          ++pos;
          continue;
        }
        expect(close);
        break;
      }
      return depth || c == '{' ? std::string(1, c) + "..." + close : out;
    }
    return literal();
  }

  std::string path;
  std::string_view text;
  size_t pos = 0;
};

int printField(const std::string &path, const std::string &key) {
  const std::string text = readFile(path);
  std::optional<std::string> value = JsonScanner(path, text).field(key);
  if (!value)
    fail(path + ": no top-level key \"" + key + "\"");
  std::cout << *value << "\n";
  return 0;
}

//===----------------------------------------------------------------------===//
// Comparison
//===----------------------------------------------------------------------===//

int compare(const std::string &goldenPath, const std::string &actualPath,
            double relTol) {
  const Array golden = readNpy(goldenPath);
  const Array actual = readNpy(actualPath);
  if (golden.shape != actual.shape) {
    std::cout << "shape mismatch: golden " << shapeString(golden.shape)
              << ", actual " << shapeString(actual.shape) << "\n";
    return 1;
  }
  const uint64_t cols = golden.shape.empty() || golden.shape.back() == 0
                            ? 1
                            : golden.shape.back();

  double maxGolden = 0, maxDelta = -1;
  size_t worst = 0, nonFinite = 0;
  std::optional<size_t> firstNonFinite;
  for (size_t i = 0; i < golden.values.size(); ++i) {
    const double g = golden.values[i], a = actual.values[i];
    if (!std::isfinite(g) || !std::isfinite(a)) {
      ++nonFinite;
      if (!firstNonFinite)
        firstNonFinite = i;
      continue;
    }
    maxGolden = std::max(maxGolden, std::abs(g));
    if (std::abs(a - g) > maxDelta) {
      maxDelta = std::abs(a - g);
      worst = i;
    }
  }
  const double limit = relTol * maxGolden;
  char line[256];
  if (golden.values.empty()) {
    std::cout << "empty arrays of shape " << shapeString(golden.shape) << "\n";
    return 0;
  }
  if (maxDelta >= 0) {
    std::snprintf(line, sizeof line,
                  "max |delta| = %.6g (%.6g x max|golden| = %.6g), worst at "
                  "row %llu col %llu: golden %.8g, actual %.8g\n",
                  maxDelta, relTol, limit,
                  static_cast<unsigned long long>(worst / cols),
                  static_cast<unsigned long long>(worst % cols),
                  double(golden.values[worst]), double(actual.values[worst]));
    std::cout << line;
  }
  if (nonFinite) {
    std::snprintf(line, sizeof line,
                  "%zu non-finite values, first at row %llu col %llu\n",
                  nonFinite,
                  static_cast<unsigned long long>(*firstNonFinite / cols),
                  static_cast<unsigned long long>(*firstNonFinite % cols));
    std::cout << line;
    return 1;
  }
  const bool ok = maxDelta <= limit;
  std::cout << (ok ? "PASS" : "FAIL") << "\n";
  return ok ? 0 : 1;
}

void usage(const char *argv0) {
  std::cerr << "usage: " << argv0 << " <golden.npy> <actual.npy> --rel-tol X\n"
            << "       " << argv0 << " --print-field <file.json> <key>\n";
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 3 && args[0] == "--print-field")
      return printField(args[1], args[2]);

    std::vector<std::string> files;
    std::optional<double> relTol;
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--rel-tol") {
        if (i + 1 == args.size())
          fail("--rel-tol needs a value");
        const std::string &v = args[++i];
        char *end = nullptr;
        double x = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || !std::isfinite(x) || x < 0)
          fail("--rel-tol: expected a non-negative number, got \"" + v + "\"");
        relTol = x;
      } else if (args[i].rfind("--", 0) == 0) {
        fail("unknown option " + args[i]);
      } else {
        files.push_back(args[i]);
      }
    }
    if (files.size() != 2 || !relTol) {
      usage(argv[0]);
      return 2;
    }
    return compare(files[0], files[1], *relTol);
  } catch (const InputError &e) {
    std::cerr << "llmc-compare-logits: error: " << e.message << "\n";
    return 2;
  } catch (const std::exception &e) {
    std::cerr << "llmc-compare-logits: error: " << e.what() << "\n";
    return 2;
  }
}
