// Add/Sub/Mul/Div with numpy broadcasting, Where, and the comparisons Equal/Less/Greater.

#include <cmath>

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

}  // namespace kiln::test
