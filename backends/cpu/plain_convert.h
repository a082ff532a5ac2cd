#pragma once
// Element types of the plain kernels and conversions between them: f16 and bf16 encoded and
// decoded by hand (round to nearest even), float -> integer truncating toward zero, and bool
// as 0/1. Used by Cast, the comparisons and Pad's float `value` attribute.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernel.h"

namespace kiln::cpu::plain {

struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};
struct Bool {
  uint8_t byte;
};

inline float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: man * 2^-24
    float f = std::ldexp(static_cast<float>(man), -24);
    return sign ? -f : f;
  }
  uint32_t bits = exp == 31 ? sign | 0x7f800000u | (man << 13) : sign | ((exp + 112) << 23) | (man << 13);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline float bf16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

/// Rounds x to nearest even in a binary format with exp_bits exponent and man_bits mantissa
/// bits (f16: 5/10, bf16: 8/7). Taking a double means f32 and f64 both round only once.
inline uint16_t encode_small_float(double x, int exp_bits, int man_bits) {
  const uint32_t sign = std::signbit(x) ? 1u << (exp_bits + man_bits) : 0u;
  const int bias = (1 << (exp_bits - 1)) - 1;
  const uint32_t inf = ((1u << exp_bits) - 1u) << man_bits;
  if (std::isnan(x)) return static_cast<uint16_t>(sign | inf | (1u << (man_bits - 1)));
  double a = std::fabs(x);
  if (std::isinf(a)) return static_cast<uint16_t>(sign | inf);
  if (a == 0) return static_cast<uint16_t>(sign);
  int e = 0;
  double m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  int exponent = e - 1;          // a = (2m) * 2^exponent
  const int min_exp = 1 - bias;
  if (exponent < min_exp) {  // subnormal; a carry into 2^man_bits yields the smallest normal
    double q = std::nearbyint(std::ldexp(a, man_bits - min_exp));
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(q));
  }
  double q = std::nearbyint(std::ldexp(2 * m, man_bits));  // in [2^man_bits, 2^(man_bits+1)]
  if (q == std::ldexp(1.0, man_bits + 1)) {
    q /= 2;
    ++exponent;
  }
  if (exponent > bias) return static_cast<uint16_t>(sign | inf);
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exponent + bias) << man_bits) |
                               (static_cast<uint32_t>(q) - (1u << man_bits)));
}

/// An element as an arithmetic value: f16/bf16 as float, bool as 0/1.
template <class T>
auto widen(T v) {
  if constexpr (std::is_same_v<T, Half>) return half_to_float(v.bits);
  else if constexpr (std::is_same_v<T, BFloat16>) return bf16_to_float(v.bits);
  else if constexpr (std::is_same_v<T, Bool>) return static_cast<int>(v.byte != 0);
  else return v;
}

/// Converts an arithmetic value to element type D with ONNX Cast semantics: to bool is
/// v != 0; float to integer truncates toward zero (NaN gives 0, values beyond i64 saturate,
/// then narrower integers wrap as integer casts do).
template <class D, class V>
D narrow(V v) {
  if constexpr (std::is_same_v<D, Bool>) {
    return Bool{static_cast<uint8_t>(v != 0)};
  } else if constexpr (std::is_same_v<D, Half>) {
    return Half{encode_small_float(static_cast<double>(v), 5, 10)};
  } else if constexpr (std::is_same_v<D, BFloat16>) {
    return BFloat16{encode_small_float(static_cast<double>(v), 8, 7)};
  } else if constexpr (std::is_floating_point_v<D>) {
    return static_cast<D>(v);
  } else if constexpr (std::is_floating_point_v<V>) {
    if (std::isnan(v)) return D{0};
    double t = std::trunc(static_cast<double>(v));
    if (t >= 9223372036854775808.0) return static_cast<D>(INT64_MAX);
    if (t < -9223372036854775808.0) return static_cast<D>(INT64_MIN);
    return static_cast<D>(static_cast<int64_t>(t));
  } else {
    return static_cast<D>(v);
  }
}

/// Calls f.template operator()<T>() with T the element type of dtype; false when unknown.
template <class F>
bool visit_dtype(int32_t dtype, F&& f) {
  switch (dtype) {
    case KILN_DTYPE_F32: f.template operator()<float>(); return true;
    case KILN_DTYPE_F64: f.template operator()<double>(); return true;
    case KILN_DTYPE_F16: f.template operator()<Half>(); return true;
    case KILN_DTYPE_BF16: f.template operator()<BFloat16>(); return true;
    case KILN_DTYPE_I64: f.template operator()<int64_t>(); return true;
    case KILN_DTYPE_I32: f.template operator()<int32_t>(); return true;
    case KILN_DTYPE_I8: f.template operator()<int8_t>(); return true;
    case KILN_DTYPE_U8: f.template operator()<uint8_t>(); return true;
    case KILN_DTYPE_BOOL: f.template operator()<Bool>(); return true;
    default: return false;
  }
}

/// Writes v converted to dtype at dst (one element).
inline void store_as(int32_t dtype, double v, void* dst) {
  visit_dtype(dtype, [&]<class T>() {
    T e = narrow<T>(v);
    std::memcpy(dst, &e, sizeof(T));
  });
}

}  // namespace kiln::cpu::plain
