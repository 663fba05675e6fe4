//===- Checked.h - overflow-checked arithmetic on file-read sizes -*- C++
//-*-===//
//
// Every size, offset and shape product read from a plan goes through these
// (STYLE.md rule 11): they return false instead of wrapping around.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_CHECKED_H
#define LLMC_RUNTIME_SRC_CHECKED_H

#include <cstdint>
#include <initializer_list>

namespace llmc::runtime {

/// out = a + b; false on overflow.
[[nodiscard]] inline bool checkedAdd(uint64_t a, uint64_t b, uint64_t &out) {
  return !__builtin_add_overflow(a, b, &out);
}

/// out = a * b; false on overflow.
[[nodiscard]] inline bool checkedMul(uint64_t a, uint64_t b, uint64_t &out) {
  return !__builtin_mul_overflow(a, b, &out);
}

/// out = the product of `factors`; false on overflow.
[[nodiscard]] inline bool
checkedProduct(std::initializer_list<uint64_t> factors, uint64_t &out) {
  uint64_t product = 1;
  for (uint64_t factor : factors)
    if (!checkedMul(product, factor, product))
      return false;
  out = product;
  return true;
}

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_SRC_CHECKED_H
