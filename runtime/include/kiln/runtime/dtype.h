#pragma once
// Element types shared by tensors, the graph IR and the backend ABI.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "kiln/backend_abi.h"

namespace kiln {

// Values equal the ABI's kiln_dtype so conversion is a cast.
enum class DType : int32_t {
  kUndefined = KILN_DTYPE_UNDEFINED,
  kF32 = KILN_DTYPE_F32,
  kF64 = KILN_DTYPE_F64,
  kF16 = KILN_DTYPE_F16,
  kBF16 = KILN_DTYPE_BF16,
  kI64 = KILN_DTYPE_I64,
  kI32 = KILN_DTYPE_I32,
  kI8 = KILN_DTYPE_I8,
  kU8 = KILN_DTYPE_U8,
  kBool = KILN_DTYPE_BOOL,
};

/// Bytes per element; 0 for kUndefined.
size_t size_of(DType dtype);
/// Short name: "f32", "i64", "bool"... "undefined" for kUndefined.
std::string_view to_string(DType dtype);
/// Inverse of to_string. Throws Error(kInvalidArgument) on an unknown name.
DType dtype_from_string(std::string_view name);
bool is_floating(DType dtype);
bool is_integral(DType dtype);  // signed/unsigned integers, not bool
/// The DType of an ONNX TensorProto.DataType code (Cast's `to`); std::nullopt when kiln has none.
std::optional<DType> dtype_from_onnx(int64_t code);
/// The ONNX TensorProto.DataType code of a dtype (0 for kUndefined).
int64_t onnx_code(DType dtype);

/// The DType of a C++ element type: dtype_of<float>() == DType::kF32.
template <class T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kF32; }
template <> constexpr DType dtype_of<double>() { return DType::kF64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kI64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::kI32; }
template <> constexpr DType dtype_of<int8_t>() { return DType::kI8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::kU8; }
template <> constexpr DType dtype_of<bool>() { return DType::kBool; }

}  // namespace kiln
