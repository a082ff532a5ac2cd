// MatMul (numpy semantics: 1-D operands promoted then squeezed, batch dims broadcast) and Gemm
// (transA, transB, alpha, beta, C broadcast to [M, N]), both on oneDNN's matmul primitive.
// FusedMatMul and FusedGemm (fused.cpp) are these kernels with a bias and an activation post-op.

#include <cstring>

#include "compute_broadcast.h"
#include "dnnl_exec.h"
#include "kernel_families.h"
#include "post_ops.h"

namespace kiln::cpu {
namespace {

// ---- MatMul ----

struct MatMulShapes {
  Dims a, b, dst;  // equal rank >= 2: operands promoted and batch-padded, dst unsqueezed
  int64_t k = 0;
};

// Shapes as oneDNN sees them, or a reason why the node is not a valid matmul.
std::string matmul_shapes(const NodeView& v, MatMulShapes& s) {
  Dims a = v.input_shape(0), b = v.input_shape(1);
  if (a.empty() || b.empty()) return "MatMul operands must have rank >= 1";
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  size_t rank = std::max(a.size(), b.size());
  s.a = pad_rank(a, rank);
  s.b = pad_rank(b, rank);
  s.k = s.a[rank - 1];
  if (s.b[rank - 2] != s.k)
    return "inner dims differ: " + std::to_string(s.k) + " vs " + std::to_string(s.b[rank - 2]);
  s.dst.assign(rank, 0);
  for (size_t d = 0; d + 2 < rank; ++d) {
    if (s.a[d] != s.b[d] && s.a[d] != 1 && s.b[d] != 1) return "batch dims do not broadcast";
    s.dst[d] = s.a[d] == 1 ? s.b[d] : s.a[d];
  }
  s.dst[rank - 2] = s.a[rank - 2];
  s.dst[rank - 1] = s.b[rank - 1];
  if (numel(s.dst) != numel(v.output_shape(0))) return "output shape does not match the operands";
  if (v.has_input(2)) {  // FusedMatMul's bias: one value per output column
    if (v.input_shape(1).size() < 2) return "a bias needs B of rank >= 2";
    if (v.input_shape(2) != Dims{s.dst.back()}) return "bias must have shape [N]";
  }
  return "";
}

class MatMulKernel : public Kernel {
 public:
  MatMulKernel(const NodeView& v, const Activation& act) : act_(act) {
    MatMulShapes s;
    std::string why = matmul_shapes(v, s);
    if (!why.empty()) fail(v, why);
    out_numel_ = numel(s.dst);
    n_ = s.dst.back();
    has_bias_ = v.has_input(2);
    if (out_numel_ == 0 || s.k == 0) return;  // empty output, or all zeros: no primitive
    auto a_md = plain_desc(s.a, KILN_DTYPE_F32), b_md = plain_desc(s.b, KILN_DTYPE_F32);
    auto d_md = plain_desc(s.dst, KILN_DTYPE_F32);
    Dims bias_dims(s.dst.size(), 1);
    bias_dims.back() = n_;
    auto bias_md = has_bias_ ? plain_desc(bias_dims, KILN_DTYPE_F32) : dnnl::memory::desc();
    dnnl::primitive_attr attr;
    dnnl::post_ops po;
    act_.append_to(po);
    attr.set_post_ops(po);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, bias_md, d_md), attr, engine());
    call_.set_primitive(dnnl::matmul(pd));
    call_.bind(DNNL_ARG_SRC, a_md);
    call_.bind(DNNL_ARG_WEIGHTS, b_md);
    if (has_bias_) call_.bind(DNNL_ARG_BIAS, bias_md);
    call_.bind(DNNL_ARG_DST, d_md);
    ready_ = true;
  }
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    if (ready_) {
      if (has_bias_) call_.run({in[0].data, in[1].data, in[2].data, out[0].data});
      else call_.run({in[0].data, in[1].data, out[0].data});
      return;
    }
    if (out_numel_ == 0) return;
    // K = 0: the product is zero, leaving the bias and the activation.
    auto* y = static_cast<float*>(out[0].data);
    if (has_bias_) {
      const auto* b = static_cast<const float*>(in[2].data);
      for (int64_t i = 0; i < out_numel_; ++i) y[i] = b[i % n_];
    } else {
      std::memset(y, 0, static_cast<size_t>(out_numel_) * sizeof(float));
    }
    act_.apply(y, out_numel_);
  }

 private:
  Activation act_;
  int64_t out_numel_ = 0, n_ = 0;
  bool has_bias_ = false, ready_ = false;
  DnnlCall call_;
};

// ---- Gemm ----

struct GemmShapes {
  int64_t m = 0, k = 0, n = 0;
};

std::string gemm_shapes(const NodeView& v, GemmShapes& s) {
  Dims a = v.input_shape(0), b = v.input_shape(1);
  if (a.size() != 2 || b.size() != 2) return "Gemm operands must have rank 2";
  bool ta = v.attr_int("transA", 0) != 0, tb = v.attr_int("transB", 0) != 0;
  s.m = ta ? a[1] : a[0];
  s.k = ta ? a[0] : a[1];
  s.n = tb ? b[0] : b[1];
  int64_t kb = tb ? b[1] : b[0];
  if (kb != s.k) return "inner dims differ: " + std::to_string(s.k) + " vs " + std::to_string(kb);
  if (v.has_input(2) && !broadcastable(v.input_shape(2), {s.m, s.n})) return "C does not broadcast to [M, N]";
  if (v.output_shape(0) != Dims{s.m, s.n}) return "output shape is not [M, N]";
  return "";
}

// Y = alpha * A' B' + beta * C: C is first broadcast into Y, then the matmul adds onto it with
// a sum post-op scaled by beta, then the activation's post-op; alpha is the output scale. A C
// that is a bias row (alpha = beta = 1) goes in as the primitive's bias instead.
// Transposes are strides.
class GemmKernel : public Kernel {
 public:
  GemmKernel(const NodeView& v, const Activation& act) : act_(act) {
    GemmShapes s;
    std::string why = gemm_shapes(v, s);
    if (!why.empty()) fail(v, why);
    m_ = s.m;
    n_ = s.n;
    float alpha = v.attr_float("alpha", 1.f);
    beta_ = v.attr_float("beta", 1.f);
    use_c_ = v.has_input(2) && beta_ != 0.f;
    if (use_c_) c_shape_ = v.input_shape(2);
    if (m_ * n_ == 0 || s.k == 0) return;
    bool ta = v.attr_int("transA", 0) != 0, tb = v.attr_int("transB", 0) != 0;
    auto a_md = strided_desc({s.m, s.k}, ta ? Dims{1, s.m} : Dims{s.k, 1}, KILN_DTYPE_F32);
    auto b_md = strided_desc({s.k, s.n}, tb ? Dims{1, s.k} : Dims{s.n, 1}, KILN_DTYPE_F32);
    auto y_md = plain_desc({s.m, s.n}, KILN_DTYPE_F32);
    // A Linear layer's C (one row of N, alpha = beta = 1) is the primitive's bias argument,
    // which saves broadcasting C into Y before every run.
    c_is_bias_ = use_c_ && alpha == 1.f && beta_ == 1.f && numel(c_shape_) == n_ &&
                 (c_shape_.size() < 2 || c_shape_[0] == 1);
    auto bias_md = c_is_bias_ ? plain_desc({1, s.n}, KILN_DTYPE_F32) : dnnl::memory::desc();
    dnnl::primitive_attr attr;
    if (alpha != 1.f) attr.set_output_scales(0, {alpha});
    dnnl::post_ops po;
    if (use_c_ && !c_is_bias_) po.append_sum(beta_);
    act_.append_to(po);
    attr.set_post_ops(po);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, bias_md, y_md), attr, engine());
    call_.set_primitive(dnnl::matmul(pd));
    call_.bind(DNNL_ARG_SRC, a_md);
    call_.bind(DNNL_ARG_WEIGHTS, b_md);
    if (c_is_bias_) call_.bind(DNNL_ARG_BIAS, bias_md);
    call_.bind(DNNL_ARG_DST, y_md);
    ready_ = true;
  }
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    int64_t total = m_ * n_;
    if (total == 0) return;
    auto* y = static_cast<float*>(out[0].data);
    if (c_is_bias_) {
      call_.run({in[0].data, in[1].data, in[2].data, y});
      return;
    }
    if (use_c_) expand_into(static_cast<const float*>(in[2].data), c_shape_, y, {m_, n_});
    if (ready_) {
      call_.run({in[0].data, in[1].data, y});
    } else if (use_c_) {  // K = 0: the product is zero
      for (int64_t i = 0; i < total; ++i) y[i] *= beta_;
    } else {
      std::memset(y, 0, static_cast<size_t>(total) * sizeof(float));
    }
    if (!ready_) act_.apply(y, total);
  }

 private:
  Activation act_;
  int64_t m_ = 0, n_ = 0;
  float beta_ = 1.f;
  bool use_c_ = false, c_is_bias_ = false, ready_ = false;
  Dims c_shape_;
  DnnlCall call_;
};

}  // namespace

std::string supports_matmul(const NodeView& v) {
  std::string why = check_dtypes(v, {KILN_DTYPE_F32});
  if (!why.empty()) return why;
  MatMulShapes s;
  return matmul_shapes(v, s);
}

std::unique_ptr<Kernel> make_matmul_kernel(const NodeView& v, const Activation& act) {
  return std::make_unique<MatMulKernel>(v, act);
}

std::string supports_gemm(const NodeView& v) {
  std::string why = check_dtypes(v, {KILN_DTYPE_F32});
  if (!why.empty()) return why;
  GemmShapes s;
  return gemm_shapes(v, s);
}

std::unique_ptr<Kernel> make_gemm_kernel(const NodeView& v, const Activation& act) {
  return std::make_unique<GemmKernel>(v, act);
}

void register_matmul_kernels(KernelTable& table) {
  table.add("MatMul", supports_matmul, [](const NodeView& v) { return make_matmul_kernel(v, Activation{}); });
  table.add("Gemm", supports_gemm, [](const NodeView& v) { return make_gemm_kernel(v, Activation{}); });
}

}  // namespace kiln::cpu
