// MatMul and Gemm.
#include "grad_util.h"
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

// numpy.matmul: rank-1 operands get a dim added and removed again; batch dims broadcast.
void infer_matmul(InferContext& c) {
  require_same_dtype(c, 0, 1);
  require_numeric(c, 0);
  const Shape& a = c.input_shape(0);
  const Shape& b = c.input_shape(1);
  DType dtype = c.input_dtype(0);
  if (!a.has_rank() || !b.has_rank()) return c.set_output(0, dtype, Shape::unknown_rank());
  if (a.rank() == 0 || b.rank() == 0)
    c.fail("operands must have rank >= 1, got {} x {}", a.to_string(), b.to_string());
  std::vector<Dim> ad = a.dims(), bd = b.dims();
  bool a_vec = ad.size() == 1, b_vec = bd.size() == 1;
  if (a_vec) ad.insert(ad.begin(), Dim(int64_t{1}));
  if (b_vec) bd.push_back(Dim(int64_t{1}));
  const Dim& k_a = ad.back();
  const Dim& k_b = bd[bd.size() - 2];
  if (!merge_dim(k_a, k_b)) c.fail("inner dims differ: {} x {}", a.to_string(), b.to_string());
  Shape batch_a(std::vector<Dim>(ad.begin(), ad.end() - 2));
  Shape batch_b(std::vector<Dim>(bd.begin(), bd.end() - 2));
  std::vector<Dim> out;
  if (batch_a.rank() > 0 || batch_b.rank() > 0) {
    try {
      out = broadcast_shapes(c, {batch_a, batch_b}).dims();
    } catch (const Error&) {
      c.fail("batch dims do not broadcast: {} x {}", a.to_string(), b.to_string());
    }
  }
  if (!a_vec) out.push_back(ad[ad.size() - 2]);
  if (!b_vec) out.push_back(bd.back());
  c.set_output(0, dtype, Shape(std::move(out)));
}

// Y = alpha * A' * B' + beta * C, with A' and B' optionally transposed and C broadcast to [M, N].
void infer_gemm(InferContext& c) {
  require_same_dtype(c, 0, 1);
  require_numeric(c, 0);
  if (c.opset() < 11 && !c.has_input(2)) c.fail("input C is required before opset 11");
  const Shape& a = c.input_shape(0);
  const Shape& b = c.input_shape(1);
  require_rank(c, 0, a, 2, 2);
  require_rank(c, 1, b, 2, 2);
  DType dtype = c.input_dtype(0);
  Dim m, n, k_a, k_b;
  if (a.has_rank()) {
    bool t = c.attr_int("transA") != 0;
    m = a[t ? 1 : 0];
    k_a = a[t ? 0 : 1];
  }
  if (b.has_rank()) {
    bool t = c.attr_int("transB") != 0;
    k_b = b[t ? 1 : 0];
    n = b[t ? 0 : 1];
  }
  if (!merge_dim(k_a, k_b))
    c.fail("inner dims differ: A {} (transA={}) x B {} (transB={})", a.to_string(), c.attr_int("transA"),
           b.to_string(), c.attr_int("transB"));
  Shape out{m, n};
  if (c.has_input(2)) {
    require_same_dtype(c, 0, 2);
    check_unidirectional(c, c.input_shape(2), out, "input C");
  }
  c.set_output(0, dtype, out);
}

// numpy matmul's gradient: 1-D operands become [1,k] and [k,1], and broadcast batch axes are
// summed back to each operand's shape.
void grad_matmul(GradContext& g) {
  const Tensor& a = g.input(0);
  const Tensor& b = g.input(1);
  const Tensor a2 = a.rank() == 1 ? a.reshape({1, a.dim(0)}) : a;
  const Tensor b2 = b.rank() == 1 ? b.reshape({b.dim(0), 1}) : b;
  Dims dy_shape = g.output_grad(0).shape();
  if (a.rank() == 1) dy_shape.insert(dy_shape.end() - (b.rank() == 1 ? 0 : 1), 1);
  if (b.rank() == 1) dy_shape.push_back(1);
  const Tensor dy = g.output_grad(0).reshape(dy_shape);
  if (g.needs_input_grad(0)) g.set_input_grad(0, sum_to(matmul(dy, b2.transpose(-1, -2)), a2.shape()).reshape(a.shape()));
  if (g.needs_input_grad(1)) g.set_input_grad(1, sum_to(matmul(a2.transpose(-1, -2), dy), b2.shape()).reshape(b.shape()));
}

// Y = alpha * A' B' + beta * C. Each operand's gradient is one more Gemm: for A' = A,
// dA = alpha dY B'^T; for A' = A^T, dA = alpha B' dY^T (and likewise for B).
void grad_gemm(GradContext& g) {
  const bool ta = g.attr_int("transA") != 0, tb = g.attr_int("transB") != 0;
  const float alpha = g.attr_float("alpha");
  const Tensor dy = g.output_grad(0);
  auto gemm = [&](const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
    Attributes attrs;
    attrs.set("alpha", alpha);
    attrs.set("transA", int64_t{trans_a});
    attrs.set("transB", int64_t{trans_b});
    return run_op1("Gemm", {a, b}, attrs);
  };
  if (g.needs_input_grad(0)) g.set_input_grad(0, ta ? gemm(g.input(1), dy, tb, true) : gemm(dy, g.input(1), false, !tb));
  if (g.needs_input_grad(1)) g.set_input_grad(1, tb ? gemm(dy, g.input(0), true, ta) : gemm(g.input(0), dy, !ta, false));
  if (g.num_inputs() > 2 && g.needs_input_grad(2))
    g.set_input_grad(2, sum_to(dy, g.input(2).shape()) * static_cast<double>(g.attr_float("beta")));
}

}  // namespace

void register_matmul_ops(OpRegistry& registry) {
  registry.add(OpDef("MatMul").opsets(1).inputs(2, 2).infer(infer_matmul).grad(grad_matmul));
  // Gemm-6 had a `broadcast` attribute; opset 7 made C's broadcasting unidirectional.
  registry.add(OpDef("Gemm")
                   .opsets(7)
                   .inputs(2, 3)
                   .attr("alpha", AttrType::kFloat, float_attr(1.0f))
                   .attr("beta", AttrType::kFloat, float_attr(1.0f))
                   .attr("transA", AttrType::kInt, int_attr(0))
                   .attr("transB", AttrType::kInt, int_attr(0))
                   .infer(infer_gemm)
                   .grad(grad_gemm));
}

}  // namespace kiln::ops
