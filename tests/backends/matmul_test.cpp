// MatMul and Gemm cases.

#include "op_case.h"

namespace kiln::test {
namespace {

OpCase matmul_case(const std::string& name, Gen& gen, const Dims& a, const Dims& b) {
  return OpCase(name, "MatMul").input(gen.uniform(a)).input(gen.uniform(b)).expect([](const Refs& in) {
    return Refs{matmul(in[0], in[1])};
  });
}

struct GemmParams {
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f, beta = 1.0f;
};

// Y = alpha * A' B' + beta * C, with C broadcast to [M, N] (or absent).
OpCase gemm_case(const std::string& name, Gen& gen, const Dims& a, const Dims& b, const Dims* c, GemmParams p) {
  OpCase oc(name, "Gemm");
  oc.input(gen.uniform(a)).input(gen.uniform(b));
  if (c != nullptr) oc.input(gen.uniform(*c));
  if (p.trans_a) oc.attr("transA", 1);
  if (p.trans_b) oc.attr("transB", 1);
  if (p.alpha != 1.0f) oc.attr("alpha", p.alpha);
  if (p.beta != 1.0f) oc.attr("beta", p.beta);
  return oc.expect([p](const Refs& in) {
    const Ref a2 = p.trans_a ? transpose(in[0], {1, 0}) : in[0];
    const Ref b2 = p.trans_b ? transpose(in[1], {1, 0}) : in[1];
    Ref y = matmul(a2, b2);
    for (double& v : y.v) v *= p.alpha;
    if (in.size() > 2) {
      y = map_binary(y, in[2], [&](double ab, double cv) { return ab + p.beta * cv; },
                     DType::kF32);
    }
    return Refs{y};
  });
}

std::vector<OpCase> cases() {
  Gen gen(1);
  const Dims c_row{5}, c_col{3, 1}, c_full{3, 5}, c_scalar{}, c_one{1}, c_three{3}, c_seventeen{17};
  return {
      matmul_case("MatMul2d", gen, {3, 4}, {4, 5}),
      matmul_case("MatMulBatched", gen, {2, 3, 4}, {2, 4, 5}),
      matmul_case("MatMulBroadcastBatch", gen, {2, 1, 3, 4}, {3, 4, 2}),
      matmul_case("MatMulBroadcastOneSide", gen, {2, 3, 4}, {4, 6}),
      matmul_case("MatMulVectorLeft", gen, {4}, {2, 4, 3}),
      matmul_case("MatMulVectorRight", gen, {2, 3, 4}, {4}),
      matmul_case("MatMulVectorVector", gen, {7}, {7}),
      matmul_case("MatMulEmptyRows", gen, {0, 4}, {4, 3}),
      matmul_case("MatMulEmptyInner", gen, {2, 0}, {0, 3}),
      matmul_case("MatMulRank6", gen, {2, 1, 2, 1, 3, 4}, {1, 2, 1, 2, 4, 2}),
      matmul_case("MatMulOddSizes", gen, {67, 33}, {33, 70}),
      matmul_case("MatMulBatchedOddSizes", gen, {3, 17, 40}, {40, 19}),
      gemm_case("GemmBiasRow", gen, {3, 4}, {4, 5}, &c_row, {}),
      gemm_case("GemmTransA", gen, {4, 3}, {4, 5}, &c_full, {true, false, 1.0f, 1.0f}),
      gemm_case("GemmTransB", gen, {3, 4}, {5, 4}, &c_col, {false, true, 1.0f, 1.0f}),
      gemm_case("GemmTransBoth", gen, {4, 3}, {5, 4}, &c_row, {true, true, 1.0f, 1.0f}),
      gemm_case("GemmAlphaBeta", gen, {3, 4}, {4, 5}, &c_full, {false, false, 0.5f, -2.0f}),
      gemm_case("GemmScalarC", gen, {3, 4}, {4, 5}, &c_scalar, {false, false, 1.0f, 0.25f}),
      gemm_case("GemmOneElementC", gen, {3, 4}, {5, 4}, &c_one, {false, true, 2.0f, 1.0f}),
      gemm_case("GemmEmptyRows", gen, {0, 4}, {4, 3}, &c_three, {}),
      gemm_case("GemmOddSizes", gen, {33, 65}, {17, 65}, &c_seventeen, {false, true, 1.0f, 1.0f}),
      gemm_case("GemmNoC", gen, {3, 4}, {4, 5}, nullptr, {false, false, 1.5f, 1.0f}),
  };
}

}  // namespace

KILN_OP_CASES(MatMul, cases());

}  // namespace kiln::test
