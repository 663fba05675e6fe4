//===- Options.h - option structs that carry their size ---------*- C++ -*-===//
//
// llmc.h's option structs start with struct_size, which their inline
// _default() functions set to the caller's sizeof: the fields a caller's
// struct covers are taken from it, the rest keep this library's defaults.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_OPTIONS_H
#define LLMC_RUNTIME_SRC_OPTIONS_H

#include "runtime/src/Status.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace llmc::runtime {

/// `out`: `defaults` overwritten by the first given->struct_size bytes of
/// `given` (at most sizeof(T)). Fails, naming `function` and the struct
/// `name`, when struct_size is below `minSize` (not from _default()).
template <typename T>
Status readOptions(const char *function, const char *name, const T &given,
                   const T &defaults, size_t minSize, T &out) {
  if (given.struct_size < minSize)
    return invalidArgument(std::string(function) + ": " + name +
                           ".struct_size " + std::to_string(given.struct_size) +
                           " is below " + std::to_string(minSize) +
                           ": start from " + name + "_default()");
  out = defaults;
  std::memcpy(&out, &given, std::min<size_t>(given.struct_size, sizeof(T)));
  out.struct_size = uint32_t(sizeof(T));
  return Status::success();
}

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_SRC_OPTIONS_H
