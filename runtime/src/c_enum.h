//===- c_enum.h - read enums that come from C callers -----------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// C lets a caller pass any int as a C enum; in C++ a value outside the
// enum's range is undefined behaviour the moment it is loaded as that type
// (UBSan's -fsanitize=enum flags it). Read such parameters through their
// bytes and validate the integer.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_SRC_C_ENUM_H
#define DYNASPA_RUNTIME_SRC_C_ENUM_H

#include <cstring>
#include <type_traits>

namespace dynaspa::runtime {

template <typename E> long long cEnumValue(const E &value) {
  std::underlying_type_t<E> raw;
  std::memcpy(&raw, &value, sizeof(raw));
  return static_cast<long long>(raw);
}

} // namespace dynaspa::runtime

#endif // DYNASPA_RUNTIME_SRC_C_ENUM_H
