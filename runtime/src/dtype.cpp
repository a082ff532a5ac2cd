#include "kiln/runtime/dtype.h"

#include <array>
#include <string>

#include "kiln/runtime/error.h"

namespace kiln {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};

constexpr std::array<DTypeInfo, 10> kDTypes = {{
    {DType::kUndefined, "undefined", 0},
    {DType::kF32, "f32", 4},
    {DType::kF64, "f64", 8},
    {DType::kF16, "f16", 2},
    {DType::kBF16, "bf16", 2},
    {DType::kI64, "i64", 8},
    {DType::kI32, "i32", 4},
    {DType::kI8, "i8", 1},
    {DType::kU8, "u8", 1},
    {DType::kBool, "bool", 1},
}};

const DTypeInfo* info(DType dtype) {
  for (const DTypeInfo& i : kDTypes) {
    if (i.dtype == dtype) return &i;
  }
  return nullptr;
}

}  // namespace

size_t size_of(DType dtype) {
  const DTypeInfo* i = info(dtype);
  return i ? i->size : 0;
}

std::string_view to_string(DType dtype) {
  const DTypeInfo* i = info(dtype);
  return i ? i->name : "invalid";
}

DType dtype_from_string(std::string_view name) {
  for (const DTypeInfo& i : kDTypes) {
    if (i.name == name) return i.dtype;
  }
  std::string known;
  for (const DTypeInfo& i : kDTypes) {
    if (i.dtype == DType::kUndefined) continue;
    if (!known.empty()) known += ", ";
    known += i.name;
  }
  raise(ErrorCode::kInvalidArgument, "unknown dtype '{}' (expected one of: {})", name, known);
}

bool is_floating(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF64 || dtype == DType::kF16 || dtype == DType::kBF16;
}

bool is_integral(DType dtype) {
  return dtype == DType::kI64 || dtype == DType::kI32 || dtype == DType::kI8 || dtype == DType::kU8;
}

std::optional<DType> dtype_from_onnx(int64_t code) {
  // TensorProto.DataType codes.
  switch (code) {
    case 1:
      return DType::kF32;
    case 2:
      return DType::kU8;
    case 3:
      return DType::kI8;
    case 6:
      return DType::kI32;
    case 7:
      return DType::kI64;
    case 9:
      return DType::kBool;
    case 10:
      return DType::kF16;
    case 11:
      return DType::kF64;
    case 16:
      return DType::kBF16;
    default:
      return std::nullopt;
  }
}

int64_t onnx_code(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 1;
    case DType::kU8:
      return 2;
    case DType::kI8:
      return 3;
    case DType::kI32:
      return 6;
    case DType::kI64:
      return 7;
    case DType::kBool:
      return 9;
    case DType::kF16:
      return 10;
    case DType::kF64:
      return 11;
    case DType::kBF16:
      return 16;
    case DType::kUndefined:
      return 0;
  }
  return 0;
}

}  // namespace kiln
