//===- JsonDescribe.h - a JSON value as words, for error messages
//----------===//
//
// Shared by the config.json and safetensors readers, whose messages say what
// was found where something else was expected: "got a string ("abc")".
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_FRONTENDS_HF_JSONDESCRIBE_H
#define LLMC_FRONTENDS_HF_JSONDESCRIBE_H

#include <nlohmann/json.hpp>

#include <string>

namespace llmc::hf {

/// "null", "a boolean (true)", "a string ("x")", "a number (1.5)",
/// "an integer (3)", "an array", "an object".
inline std::string describeJsonValue(const nlohmann::json &v) {
  using nlohmann::json;
  switch (v.type()) {
  case json::value_t::null:
    return "null";
  case json::value_t::boolean:
    return std::string("a boolean (") + (v.get<bool>() ? "true" : "false") +
           ")";
  case json::value_t::string:
    return "a string (" + v.dump() + ")";
  case json::value_t::number_float:
    return "a number (" + v.dump() + ")";
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
    return "an integer (" + v.dump() + ")";
  case json::value_t::array:
    return "an array";
  case json::value_t::object:
    return "an object";
  default:
    return "an unexpected value";
  }
}

} // namespace llmc::hf

#endif // LLMC_FRONTENDS_HF_JSONDESCRIBE_H
