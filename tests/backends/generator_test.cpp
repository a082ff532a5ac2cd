// Value generators and conversions: Range, Constant, ConstantOfShape, Cast and Identity.

#include <algorithm>
#include <cmath>

#include "op_case.h"

namespace kiln::test {
namespace {

// ONNX TensorProto.DataType codes used by Cast's `to`.
constexpr int kOnnxFloat = 1, kOnnxInt32 = 6, kOnnxInt64 = 7, kOnnxBool = 9, kOnnxDouble = 11;

OpCase range_case(const std::string& name, const Tensor& start, const Tensor& limit, const Tensor& delta,
                  bool constant) {
  OpCase oc(name, "Range");
  for (const Tensor& t : {start, limit, delta}) {
    if (constant) oc.constant(t); else oc.input(t);
  }
  return oc.expect([](const Refs& in) {
    const double s = in[0].v[0], l = in[1].v[0], d = in[2].v[0];
    const auto n = static_cast<int64_t>(std::max(0.0, std::ceil((l - s) / d)));
    Ref y(in[0].dtype, {n});
    for (int64_t i = 0; i < n; ++i) y.v[static_cast<size_t>(i)] = s + static_cast<double>(i) * d;
    return Refs{y};
  });
}

// A node with no inputs whose output is the given reference.
OpCase constant_case(const std::string& name, const std::string& key, Attribute value, Ref want) {
  OpCase oc(name, "Constant");
  oc.attrs.set(key, std::move(value));
  return oc.expect([want](const Refs&) { return Refs{want}; });
}

OpCase constant_of_shape_case(const std::string& name, const Dims& shape, const Tensor* value, bool constant) {
  OpCase oc(name, "ConstantOfShape");
  const Tensor s = i64({static_cast<int64_t>(shape.size())}, shape);
  if (constant) oc.constant(s); else oc.input(s);
  if (value != nullptr) oc.attr("value", *value);
  const Ref fill = value != nullptr ? to_ref(*value) : Ref(DType::kF32, {1}, {0.0});
  return oc.expect([shape, fill](const Refs&) {
    Ref y(fill.dtype, shape);
    std::fill(y.v.begin(), y.v.end(), fill.v[0]);
    return Refs{y};
  });
}

OpCase cast_case(const std::string& name, const Tensor& x, int to, DType out) {
  return OpCase(name, "Cast").input(x).attr("to", to).expect([out](const Refs& in) {
    return Refs{map_unary(in[0], [out](double v) {
      if (out == DType::kBool) return v != 0.0 ? 1.0 : 0.0;
      if (is_integral(out)) return std::trunc(v);  // float -> int truncates toward zero
      if (out == DType::kF32) return static_cast<double>(static_cast<float>(v));  // rounds to nearest
      return v;
    }, out)};
  });
}

OpCase identity_case(const std::string& name, const Tensor& x) {
  return OpCase(name, "Identity").input(x).expect([](const Refs& in) { return Refs{in[0]}; });
}

std::vector<OpCase> cases() {
  Gen gen(10);
  const Tensor f32_fill = f32({1}, {2.5f}), i64_fill = i64({1}, {7}), f64_fill = f64({1}, {0.1});
  const Tensor table = f32({2, 3}, {1.0f, -2.0f, 3.5f, 0.0f, 0.25f, -8.0f});
  return {
      range_case("RangeF32", f32_scalar(0.0f), f32_scalar(1.0f), f32_scalar(0.25f), false),
      range_case("RangeF32NegativeDelta", f32_scalar(1.0f), f32_scalar(-2.0f), f32_scalar(-0.5f), true),
      range_case("RangeF32Fractional", f32_scalar(0.5f), f32_scalar(2.0f), f32_scalar(0.75f), false),
      range_case("RangeI64", i64_scalar(0), i64_scalar(5), i64_scalar(1), true),
      range_case("RangeI64NegativeDelta", i64_scalar(10), i64_scalar(3), i64_scalar(-3), false),
      range_case("RangeI64Empty", i64_scalar(5), i64_scalar(0), i64_scalar(1), true),
      constant_case("ConstantTensor", "value", table, to_ref(table)),
      constant_case("ConstantValueFloat", "value_float", 2.5f, Ref(DType::kF32, {}, {2.5})),
      constant_case("ConstantValueInts", "value_ints", Dims{1, -2, 3}, Ref(DType::kI64, {3}, {1, -2, 3})),
      constant_case("ConstantValueInt", "value_int", int64_t{-7}, Ref(DType::kI64, {}, {-7})),
      constant_case("ConstantValueFloats", "value_floats", std::vector<float>{0.5f, 1.5f},
                    Ref(DType::kF32, {2}, {0.5, 1.5})),
      constant_case("ConstantI64Tensor", "value", i64({2}, {4, 5}), Ref(DType::kI64, {2}, {4, 5})),
      constant_case("ConstantF64Tensor", "value", f64({2}, {0.1, -1e-300}), Ref(DType::kF64, {2}, {0.1, -1e-300})),
      constant_of_shape_case("ConstantOfShapeF32", {2, 3}, &f32_fill, false),
      constant_of_shape_case("ConstantOfShapeDefaultZero", {3, 1, 2}, nullptr, true),
      constant_of_shape_case("ConstantOfShapeI64", {4}, &i64_fill, true),
      constant_of_shape_case("ConstantOfShapeF64", {2, 2}, &f64_fill, false),
      constant_of_shape_case("ConstantOfShapeRank0", {}, &f32_fill, true),
      constant_of_shape_case("ConstantOfShapeEmpty", {2, 0}, &i64_fill, false),
      cast_case("CastF32ToI64", f32({6}, {-1.75f, -0.5f, 0.0f, 0.5f, 2.875f, 100.25f}), kOnnxInt64, DType::kI64),
      cast_case("CastI64ToF32", i64({2, 2}, {-3, 0, 7, 1 << 20}), kOnnxFloat, DType::kF32),
      cast_case("CastF32ToF64", gen.uniform({2, 3}), kOnnxDouble, DType::kF64),
      cast_case("CastF64ToF32", f64({4}, {0.1, -1e-3, 3.5, 1e30}), kOnnxFloat, DType::kF32),
      cast_case("CastI64ToF64", i64({3}, {-3, 0, (int64_t{1} << 53) + 1}), kOnnxDouble, DType::kF64),
      cast_case("CastF64ToBool", f64({3}, {0.0, 1e-300, -2.0}), kOnnxBool, DType::kBool),
      cast_case("CastF32ToBool", f32({5}, {0.0f, -0.0f, 1.5f, -2.0f, 0.25f}), kOnnxBool, DType::kBool),
      cast_case("CastBoolToF32", boolean({2, 2}, {1, 0, 0, 1}), kOnnxFloat, DType::kF32),
      cast_case("CastI64ToBool", i64({3}, {0, 5, -1}), kOnnxBool, DType::kBool),
      cast_case("CastI64ToI32", i64({3}, {-4, 0, 123456}), kOnnxInt32, DType::kI32),
      cast_case("CastI32ToI64", i32({3}, {-4, 0, 123456}), kOnnxInt64, DType::kI64),
      cast_case("CastEmpty", gen.uniform({0, 2}), kOnnxInt64, DType::kI64),
      cast_case("CastRank6", gen.uniform({2, 1, 2, 1, 2, 2}, -3.0, 3.0), kOnnxInt64, DType::kI64),
      cast_case("CastRank0", f32_scalar(-3.5f), kOnnxInt64, DType::kI64),
      identity_case("IdentityF32", gen.uniform({2, 3})),
      identity_case("IdentityRank6", gen.uniform({1, 2, 1, 2, 1, 2})),
      identity_case("IdentityI64", gen.integers({4}, -100, 100)),
      identity_case("IdentityBool", boolean({3}, {1, 0, 1})),
      identity_case("IdentityRank0", f32_scalar(0.75f)),
  };
}

}  // namespace

KILN_OP_CASES(Generator, cases());

}  // namespace kiln::test
