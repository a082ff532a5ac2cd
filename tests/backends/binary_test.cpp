// Add/Sub/Mul/Div with numpy broadcasting, Where, the comparisons Equal/Less/Greater/
// LessOrEqual/GreaterOrEqual, the logical And/Or/Xor/Not, BitShift, CastLike, Mod and the
// variadic Max/Min/Sum/Mean.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "op_case.h"

namespace kiln::test {
namespace {

using BinaryFn = std::function<double(double, double)>;

OpCase binary_case(const std::string& name, const std::string& op, const Tensor& a, const Tensor& b, BinaryFn f,
                   DType out) {
  return OpCase(name, op).input(a).input(b).expect([f, out](const Refs& in) {
    return Refs{map_binary(in[0], in[1], f, out)};
  });
}

double add(double a, double b) { return a + b; }
double sub(double a, double b) { return a - b; }
double mul(double a, double b) { return a * b; }
double div(double a, double b) { return a / b; }
// ONNX integer Div truncates toward zero (as C does).
double int_div(double a, double b) { return std::trunc(a / b); }

// One arithmetic case per op over the same shapes.
void add_arith(std::vector<OpCase>& out, const std::string& suffix, Gen& gen, const Dims& a, const Dims& b) {
  out.push_back(binary_case("Add" + suffix, "Add", gen.uniform(a), gen.uniform(b), add, DType::kF32));
  out.push_back(binary_case("Sub" + suffix, "Sub", gen.uniform(a), gen.uniform(b), sub, DType::kF32));
  out.push_back(binary_case("Mul" + suffix, "Mul", gen.uniform(a), gen.uniform(b), mul, DType::kF32));
  out.push_back(binary_case("Div" + suffix, "Div", gen.uniform(a), gen.uniform(b, 0.5, 2.0), div, DType::kF32));
}

OpCase where_case(const std::string& name, const Tensor& cond, const Tensor& x, const Tensor& y) {
  return OpCase(name, "Where").input(cond).input(x).input(y).expect([](const Refs& in) {
    return Refs{map_broadcast(in, [](const std::vector<double>& v) { return v[0] != 0 ? v[1] : v[2]; }, in[1].dtype)};
  });
}

Tensor u8(const Dims& shape, const std::vector<uint8_t>& values) {
  Tensor t = Tensor::empty(shape, DType::kU8);
  std::memcpy(t.raw_data(), values.data(), values.size());
  return t;
}

Tensor i8(const Dims& shape, const std::vector<int8_t>& values) {
  return Tensor::from_vector<int8_t>(shape, values);
}

// BitShift-28 from its spec, in exact integer arithmetic: a right shift is floor(x / 2^s), a left
// shift x * 2^s wrapped to the width; a shift below 0 or by the width or more leaves -1 (right
// shift of a negative x) or 0.
double bit_shift_reference(double x, double s, int bits, bool is_signed, bool left) {
  if (s < 0 || s >= bits) return !left && x < 0 ? -1.0 : 0.0;
  const auto v = static_cast<int64_t>(x);
  const auto k = static_cast<int>(s);
  if (!left) return std::floor(x / std::ldexp(1.0, k));
  const unsigned __int128 modulus = static_cast<unsigned __int128>(1) << bits;
  unsigned __int128 w = static_cast<unsigned __int128>(static_cast<__int128>(v) << k) % modulus;
  auto r = static_cast<__int128>(w);
  if (is_signed && w >= modulus / 2) r -= static_cast<__int128>(modulus);
  return static_cast<double>(r);
}

OpCase bit_shift_case(const std::string& name, const Tensor& x, const Tensor& y, const char* direction,
                      int bits, bool is_signed) {
  const bool left = std::string(direction) == "LEFT";
  return OpCase(name, "BitShift")
      .at_opset(28)
      .input(x)
      .input(y)
      .attr("direction", direction)
      .expect([bits, is_signed, left](const Refs& in) {
        return Refs{map_binary(
            in[0], in[1],
            [=](double a, double b) { return bit_shift_reference(a, b, bits, is_signed, left); },
            in[0].dtype)};
      });
}

std::vector<OpCase> bit_shift_28_cases() {
  return {
      bit_shift_case("BitShiftRightI8Opset28", i8({6}, {-128, -7, -1, 7, 127, -100}),
                     i8({6}, {1, 1, 3, 1, 6, 2}), "RIGHT", 8, true),
      bit_shift_case("BitShiftLeftI8PastSignOpset28", i8({5}, {1, 64, -1, 100, -128}),
                     i8({5}, {7, 1, 7, 2, 1}), "LEFT", 8, true),
      bit_shift_case("BitShiftRightI32OutOfRangeOpset28", i32({6}, {-5, 5, -5, 5, -2147483647, 1000}),
                     i32({6}, {32, 32, -1, -3, 31, 40}), "RIGHT", 32, true),
      bit_shift_case("BitShiftLeftI32OutOfRangeOpset28", i32({4}, {-5, 5, 3, -3}), i32({4}, {32, -1, 30, 31}),
                     "LEFT", 32, true),
      bit_shift_case("BitShiftRightI64BroadcastOpset28",
                     i64({2, 3}, {-9, 9, -1, 1024, -1024, int64_t{1} << 62}), i64({3}, {2, 63, 64}), "RIGHT",
                     64, true),
      bit_shift_case("BitShiftLeftI64Opset28", i64({4}, {3, -3, 1, -1}), i64({4}, {61, 62, 63, 64}), "LEFT",
                     64, true),
      bit_shift_case("BitShiftU8Opset28", u8({4}, {255, 1, 128, 3}), u8({4}, {8, 7, 200, 1}), "RIGHT", 8,
                     false),
  };
}

std::vector<OpCase> logic_cases() {
  Gen gen(16);
  std::vector<OpCase> all;
  auto le = [](double a, double b) { return a <= b ? 1.0 : 0.0; };
  auto ge = [](double a, double b) { return a >= b ? 1.0 : 0.0; };
  all.push_back(binary_case("LessOrEqualF32Broadcast", "LessOrEqual", f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({3}, {1, 5, 2}),
                            le, DType::kBool));
  all.push_back(binary_case("LessOrEqualI64Rank0", "LessOrEqual", i64({5}, {-2, -1, 0, 1, 2}), i64_scalar(0), le,
                            DType::kBool));
  all.push_back(binary_case("GreaterOrEqualF32", "GreaterOrEqual", gen.uniform({4, 1}), gen.uniform({5}), ge, DType::kBool));
  all.push_back(binary_case("GreaterOrEqualI32", "GreaterOrEqual", i32({4}, {3, 4, 5, -1}), i32({4}, {4, 4, 4, -2}), ge,
                            DType::kBool));
  auto land = [](double a, double b) { return a != 0 && b != 0 ? 1.0 : 0.0; };
  auto lor = [](double a, double b) { return a != 0 || b != 0 ? 1.0 : 0.0; };
  auto lxor = [](double a, double b) { return (a != 0) != (b != 0) ? 1.0 : 0.0; };
  const Tensor p = boolean({2, 4}, {0, 1, 0, 1, 1, 1, 0, 0});
  const Tensor q = boolean({4}, {0, 0, 1, 1});
  all.push_back(binary_case("AndBroadcast", "And", p, q, land, DType::kBool));
  all.push_back(binary_case("OrBroadcast", "Or", p, q, lor, DType::kBool));
  all.push_back(binary_case("XorBroadcast", "Xor", p, q, lxor, DType::kBool));
  all.push_back(binary_case("AndRank0", "And", boolean({}, {1}), boolean({3}, {1, 0, 1}), land, DType::kBool));
  all.push_back(binary_case("OrBothWays", "Or", boolean({2, 1}, {0, 1}), boolean({1, 3}, {0, 1, 0}), lor, DType::kBool));
  all.push_back(binary_case("XorRank0", "Xor", boolean({}, {1}), boolean({}, {1}), lxor, DType::kBool));
  for (const auto& [name, x] : {std::pair<std::string, Tensor>{"NotMatrix", boolean({2, 3}, {1, 0, 0, 1, 1, 0})},
                                {"NotRank0", boolean({}, {0})}})
    all.push_back(OpCase(name, "Not").input(x).expect([](const Refs& in) {
      return Refs{map_unary(in[0], [](double v) { return v != 0 ? 0.0 : 1.0; }, DType::kBool)};
    }));
  auto shl = [](double a, double b) { return b >= 8 ? 0.0 : static_cast<double>((static_cast<unsigned>(a) << static_cast<unsigned>(b)) & 0xffu); };
  auto shr = [](double a, double b) { return b >= 8 ? 0.0 : static_cast<double>(static_cast<unsigned>(a) >> static_cast<unsigned>(b)); };
  all.push_back(OpCase("BitShiftLeftU8", "BitShift").input(u8({4}, {16, 4, 1, 255})).input(u8({4}, {1, 2, 3, 1}))
                    .attr("direction", "LEFT").expect([shl](const Refs& in) { return Refs{map_binary(in[0], in[1], shl, DType::kU8)}; }));
  all.push_back(OpCase("BitShiftRightU8Broadcast", "BitShift").input(u8({2, 3}, {16, 4, 1, 255, 128, 7})).input(u8({}, {2}))
                    .attr("direction", "RIGHT").expect([shr](const Refs& in) { return Refs{map_binary(in[0], in[1], shr, DType::kU8)}; }));
  for (const auto& c : bit_shift_28_cases()) all.push_back(c);
  all.push_back(OpCase("CastLikeF32ToI64", "CastLike").input(f32({4}, {1.5f, -2.7f, 0.0f, 9.0f})).input(i64({1}, {0}))
                    .expect([](const Refs& in) { return Refs{map_unary(in[0], [](double v) { return std::trunc(v); }, DType::kI64)}; }));
  all.push_back(OpCase("CastLikeI64ToF32Rank0", "CastLike").input(i64_scalar(-7)).input(f32({}, {0.0f}))
                    .expect([](const Refs& in) { return Refs{map_unary(in[0], [](double v) { return v; }, DType::kF32)}; }));
  all.push_back(OpCase("CastLikeToBool", "CastLike").input(f32({2, 2}, {0.0f, 1.0f, -3.0f, 0.0f})).input(boolean({}, {1}))
                    .expect([](const Refs& in) { return Refs{map_unary(in[0], [](double v) { return v != 0 ? 1.0 : 0.0; }, DType::kBool)}; }));
  return all;
}

// Max/Min/Sum/Mean over any number of broadcast inputs.
OpCase variadic_case(const std::string& name, const std::string& op, const std::vector<Tensor>& xs) {
  OpCase oc(name, op);
  for (const Tensor& x : xs) oc.input(x);
  return oc.expect([op](const Refs& in) {
    return Refs{map_broadcast(in, [op](const std::vector<double>& v) {
      double r = v[0];
      for (size_t i = 1; i < v.size(); ++i) {
        if (op == "Max") r = std::max(r, v[i]);
        else if (op == "Min") r = std::min(r, v[i]);
        else r += v[i];
      }
      return op == "Mean" ? r / static_cast<double>(v.size()) : r;
    }, in[0].dtype)};
  });
}

OpCase mod_case(const std::string& name, const Tensor& a, const Tensor& b, bool fmod, int opset = 17) {
  OpCase oc(name, "Mod");
  oc.at_opset(opset).input(a).input(b);
  if (fmod) oc.attr("fmod", 1);
  return oc.expect([fmod](const Refs& in) {
    return Refs{map_binary(in[0], in[1], [fmod](double x, double y) {
      double r = std::fmod(x, y);
      if (!fmod && r != 0 && ((r < 0) != (y < 0))) r += y;
      return r;
    }, in[0].dtype)};
  });
}

// Mod-28 with fmod=0 on floats, written from the spec: a - floor(a/b)*b and its special cases.
double floor_mod_reference(double x, double y) {
  if (std::isnan(x) || std::isnan(y) || std::isinf(x) || y == 0) return std::nan("");
  if (std::isinf(y)) return x == 0 ? 0.0 : ((x < 0) == (y < 0) ? x : y);
  return x - std::floor(x / y) * y;
}

OpCase floor_mod_case(const std::string& name, const Tensor& a, const Tensor& b) {
  return OpCase(name, "Mod").at_opset(28).input(a).input(b).expect([](const Refs& in) {
    return Refs{map_binary(in[0], in[1], floor_mod_reference, in[0].dtype)};
  });
}

std::vector<OpCase> variadic_mod_cases() {
  Gen gen(26);
  std::vector<OpCase> all;
  for (const char* op : {"Max", "Min", "Sum", "Mean"}) {
    const std::string o = op;
    all.push_back(variadic_case(o + "One", o, {gen.uniform({2, 3})}));
    all.push_back(variadic_case(o + "TwoSameShape", o, {gen.uniform({3, 4}), gen.uniform({3, 4})}));
    all.push_back(variadic_case(o + "ThreeBroadcast", o, {gen.uniform({2, 1, 4}), gen.uniform({3, 1}), gen.uniform({4})}));
    all.push_back(variadic_case(o + "Rank0", o, {f32_scalar(1.5f), gen.uniform({2, 2})}));
  }
  all.push_back(variadic_case("MaxI64", "Max", {i64({3}, {1, -5, 7}), i64({3}, {2, -6, 7}), i64_scalar(0)}));
  all.push_back(variadic_case("MinI32", "Min", {i32({2, 2}, {1, -5, 7, 3}), i32({2}, {2, -6})}));
  auto wrap_u8 = [](double v) { return std::fmod(std::fmod(v, 256.0) + 256.0, 256.0); };
  all.push_back(binary_case("AddU8Wraps", "Add", u8({4}, {1, 200, 255, 0}), u8({4}, {2, 100, 1, 0}),
                            [wrap_u8](double a, double b) { return wrap_u8(a + b); }, DType::kU8));
  all.push_back(binary_case("SubU8WrapsBroadcast", "Sub", u8({2, 2}, {1, 200, 5, 0}), u8({}, {3}),
                            [wrap_u8](double a, double b) { return wrap_u8(a - b); }, DType::kU8));
  all.push_back(binary_case("MulU8Wraps", "Mul", u8({3}, {16, 3, 255}), u8({3}, {16, 5, 2}),
                            [wrap_u8](double a, double b) { return wrap_u8(a * b); }, DType::kU8));
  all.push_back(binary_case("DivU8", "Div", u8({3}, {200, 7, 9}), u8({3}, {3, 2, 10}),
                            [](double a, double b) { return std::trunc(a / b); }, DType::kU8));
  all.push_back(variadic_case("MaxU8", "Max", {u8({3}, {1, 200, 7}), u8({3}, {2, 100, 7})}));
  all.push_back(variadic_case("SumI64Broadcast", "Sum", {i64({2, 1}, {10, 20}), i64({1, 3}, {1, 2, 3})}));
  all.push_back(mod_case("ModI64SignOfDivisor", i64({6}, {-7, 7, -7, 7, 0, 9}), i64({6}, {3, -3, -3, 3, 5, 4}), false));
  all.push_back(mod_case("ModI64Fmod", i64({6}, {-7, 7, -7, 7, 0, 9}), i64({6}, {3, -3, -3, 3, 5, 4}), true));
  all.push_back(mod_case("ModI32Broadcast", i32({2, 3}, {-4, 5, -6, 7, -8, 9}), i32({3}, {3, -2, 4}), false));
  all.push_back(mod_case("ModI64Rank0", i64({4}, {-5, -1, 1, 5}), i64_scalar(-3), false));
  all.push_back(mod_case("ModF32Fmod", f32({2, 3}, {-4.5f, 5.25f, -6.f, 7.f, -8.f, 9.5f}), f32({3}, {2.f, -2.5f, 4.f}), true));
  all.push_back(mod_case("ModF32FmodBroadcast", gen.uniform({2, 3, 4}, -5.0, 5.0), gen.uniform({3, 1}, 0.5, 2.0), true));
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  all.push_back(floor_mod_case(
      "ModF32FloorOpset28", f32({12}, {-4.5f, 5.25f, -6.f, 7.f, -8.f, 9.5f, 4.f, -3.f, 0.f, 1.f, -1.f, 2.f}),
      f32({12}, {2.f, -2.5f, 4.f, -3.f, 3.f, -2.f, -2.f, -3.f, 5.f, 0.25f, 0.75f, 3.f})));
  all.push_back(floor_mod_case("ModF32FloorSpecialValuesOpset28",
                               f32({9}, {inf, -inf, 3.f, nan, 2.f, -2.f, 2.f, -2.f, 0.f}),
                               f32({9}, {2.f, 3.f, 0.f, 1.f, inf, inf, -inf, -inf, -inf})));
  all.push_back(floor_mod_case("ModF32FloorBroadcastOpset28", gen.uniform({2, 3, 4}, -5.0, 5.0),
                               gen.uniform({3, 1}, -2.0, -0.5)));
  all.push_back(mod_case("ModF32FmodOpset28", f32({4}, {-4.5f, 5.25f, -6.f, 7.f}),
                         f32({4}, {2.f, -2.5f, 4.f, -3.f}), true, 28));
  all.push_back(
      mod_case("ModI64Opset28", i64({6}, {-7, 7, -7, 7, 0, 9}), i64({6}, {3, -3, -3, 3, 5, 4}), false, 28));
  return all;
}

std::vector<OpCase> cases() {
  Gen gen(6);
  std::vector<OpCase> all;
  add_arith(all, "SameShape", gen, {3, 4}, {3, 4});
  add_arith(all, "BroadcastTrailing", gen, {2, 3, 4}, {4});
  add_arith(all, "BroadcastBothWays", gen, {2, 1, 4}, {3, 1});
  add_arith(all, "BroadcastLeftSmaller", gen, {1, 5}, {2, 3, 1});
  add_arith(all, "Rank0", gen, {}, {});
  add_arith(all, "Rank0WithMatrix", gen, {}, {2, 3});
  add_arith(all, "Empty", gen, {0, 3}, {3});
  add_arith(all, "EmptyBroadcast", gen, {2, 0, 3}, {1, 1, 3});
  add_arith(all, "Rank6", gen, {2, 1, 3, 1, 2, 2}, {1, 2, 1, 2, 1, 2});
  add_arith(all, "PerChannel", gen, {4, 16, 5, 5}, {1, 16, 1, 1});
  add_arith(all, "MiddleBroadcast", gen, {3, 17, 6}, {3, 1, 6});
  // IEEE results, not errors, for floats.
  all.push_back(binary_case("DivF32ByZero", "Div", f32({3}, {1.0f, -1.0f, 0.0f}), f32({3}, {0.0f, 0.0f, 0.0f}), div,
                            DType::kF32));
  all.push_back(binary_case("AddI64", "Add", i64({2, 3}, {1, -2, 3, 40, 5, -6}), i64({3}, {10, 20, -30}), add, DType::kI64));
  all.push_back(binary_case("SubI64Rank0", "Sub", i64({4}, {5, 0, -5, 100}), i64_scalar(7), sub, DType::kI64));
  all.push_back(binary_case("MulI64", "Mul", i64({2, 2}, {3, -4, 5, 0}), i64({2, 1}, {-2, 6}), mul, DType::kI64));
  all.push_back(binary_case("DivI64Truncates", "Div", i64({6}, {-7, 7, -7, 7, 0, 9}), i64({6}, {2, -2, -2, 2, 3, 4}),
                            int_div, DType::kI64));
  all.push_back(binary_case("DivI64Broadcast", "Div", i64({2, 3}, {10, -11, 12, 13, 14, -15}), i64({1}, {4}), int_div,
                            DType::kI64));
  all.push_back(binary_case("AddI32", "Add", i32({3}, {1, -2, 3}), i32({3}, {100, 200, -300}), add, DType::kI32));
  all.push_back(binary_case("MulI64Large", "Mul", i64({2}, {int64_t{1} << 40, -(int64_t{1} << 33)}), i64({2}, {1000, 3}),
                            mul, DType::kI64));

  all.push_back(where_case("WhereBroadcast", boolean({1, 3}, {1, 0, 1}), gen.uniform({2, 3}), f32_scalar(-9.0f)));
  all.push_back(where_case("WhereAllBroadcast", boolean({2, 1, 1}, {0, 1}), gen.uniform({3, 1}), gen.uniform({1, 4})));
  all.push_back(where_case("WhereRank6", boolean({1, 2, 1, 1, 1, 2}, {1, 0, 0, 1}), gen.uniform({2, 1, 3, 1, 2, 1}),
                           gen.uniform({1, 1, 1, 2, 1, 1})));
  all.push_back(where_case("WhereScalarCondition", boolean({}, {0}), gen.uniform({2, 2}), gen.uniform({2, 2})));
  all.push_back(where_case("WhereI64", boolean({2, 2}, {1, 0, 0, 1}), i64({2, 2}, {1, 2, 3, 4}), i64({2}, {-1, -2})));

  auto eq = [](double a, double b) { return a == b ? 1.0 : 0.0; };
  auto lt = [](double a, double b) { return a < b ? 1.0 : 0.0; };
  auto gt = [](double a, double b) { return a > b ? 1.0 : 0.0; };
  all.push_back(binary_case("EqualF32", "Equal", f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({3}, {1, 5, 6}), eq, DType::kBool));
  all.push_back(binary_case("EqualI64Broadcast", "Equal", i64({3, 1}, {1, 2, 3}), i64({1, 4}, {3, 2, 1, 0}), eq,
                            DType::kBool));
  all.push_back(binary_case("EqualBool", "Equal", boolean({4}, {0, 1, 0, 1}), boolean({4}, {0, 0, 1, 1}), eq, DType::kBool));
  all.push_back(binary_case("LessF32", "Less", gen.uniform({2, 3, 4}), gen.uniform({3, 1}), lt, DType::kBool));
  all.push_back(binary_case("LessI64Rank0", "Less", i64({5}, {-2, -1, 0, 1, 2}), i64_scalar(0), lt, DType::kBool));
  all.push_back(binary_case("GreaterF32", "Greater", gen.uniform({4, 1}), gen.uniform({5}), gt, DType::kBool));
  all.push_back(binary_case("GreaterI64", "Greater", i64({2, 2}, {5, -5, 0, 7}), i64({2, 2}, {5, -6, 1, 3}), gt,
                            DType::kBool));
  all.push_back(binary_case("GreaterEmpty", "Greater", gen.uniform({0, 2}), gen.uniform({2}), gt, DType::kBool));
  return all;
}

}  // namespace

KILN_OP_CASES(Binary, cases());
KILN_OP_CASES(Logic, logic_cases());
KILN_OP_CASES(VariadicMod, variadic_mod_cases());

}  // namespace kiln::test
