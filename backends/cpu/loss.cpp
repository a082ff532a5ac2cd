// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss in plain C++ (f32 and f64). The
// input is viewed as [N, C, D] (D the product of d1..dk) and the target as [N, D]:
//   loss[n, d] = -w[t] * x[n, t, d] with t = target[n, d] and w[t] = 1 without weights;
// a target equal to ignore_index gives loss 0 and weight 0. "sum" adds the losses, "mean"
// divides that sum by the sum of the weights of the non-ignored targets (0/0 is NaN, as in
// ONNX's reference). SoftmaxCrossEntropyLoss first takes a numerically stable log-softmax
// over dim 1 (its optional output log_prob) and applies the same loss to it. Sums accumulate
// in double. A target outside [0, C) that is not ignore_index fails naming the node.

#include <cmath>
#include <limits>
#include <optional>

#include "kernel_families.h"
#include "plain_util.h"

namespace kiln::cpu {
namespace {

enum class Reduction { kNone, kSum, kMean };

class LossKernel : public Kernel {
 public:
  explicit LossKernel(const NodeView& v)
      : prefix_(plain::node_prefix(v)), softmax_(v.op_type() == "SoftmaxCrossEntropyLoss") {
    Dims x = v.input_shape(0);
    n_ = x[0];
    c_ = x[1];
    d_ = 1;
    for (size_t i = 2; i < x.size(); ++i) d_ *= x[i];
    dtype_ = v.input_dtype(0);
    target_dtype_ = v.input_dtype(1);
    has_weight_ = v.has_input(2);
    std::string r = v.attr_string("reduction", "mean");
    reduction_ = r == "none" ? Reduction::kNone : r == "sum" ? Reduction::kSum : Reduction::kMean;
    if (v.attr("ignore_index") != nullptr) ignore_index_ = v.attr_int("ignore_index", 0);
    want_log_prob_ = softmax_ && v.num_outputs() > 1 && v.output_dtype(1) != KILN_DTYPE_UNDEFINED;
  }

  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, has_weight_ ? 3 : 2, n_out, want_log_prob_ ? 2 : 1);
    if (dtype_ == KILN_DTYPE_F64) run_typed<double>(in, out);
    else run_typed<float>(in, out);
  }

 private:
  int64_t target_at(const kiln_tensor& t, int64_t i) const {
    return target_dtype_ == KILN_DTYPE_I64 ? static_cast<const int64_t*>(t.data)[i]
                                           : static_cast<const int32_t*>(t.data)[i];
  }

  template <class T>
  void run_typed(const kiln_tensor* in, kiln_tensor* out) {
    const int64_t count = n_ * d_;
    // Every target is checked before any arithmetic.
    std::vector<int64_t> targets(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      int64_t t = target_at(in[1], i);
      if (ignore_index_ && t == *ignore_index_) {
        t = -1;
      } else if (t < 0 || t >= c_) {
        throw KernelError(KILN_ERR_INVALID_ARGUMENT, prefix_ + "target " + std::to_string(t) + " at flat index " +
                                                         std::to_string(i) + " is out of range for " +
                                                         std::to_string(c_) + " classes");
      }
      targets[static_cast<size_t>(i)] = t;
    }
    const T* x = static_cast<const T*>(in[0].data);
    const T* w = has_weight_ ? static_cast<const T*>(in[2].data) : nullptr;
    std::vector<T> scratch;
    if (softmax_) {
      T* lp = nullptr;
      if (want_log_prob_) {
        lp = static_cast<T*>(out[1].data);
      } else {
        scratch.resize(static_cast<size_t>(n_ * c_ * d_));
        lp = scratch.data();
      }
      log_softmax(x, lp);
      x = lp;
    }
    T* y = static_cast<T*>(out[0].data);
    double sum = 0.0, weight_sum = 0.0;
    for (int64_t n = 0; n < n_; ++n) {
      for (int64_t d = 0; d < d_; ++d) {
        const int64_t i = n * d_ + d;
        const int64_t t = targets[static_cast<size_t>(i)];
        double loss = 0.0, weight = 0.0;
        if (t >= 0) {
          weight = w ? static_cast<double>(w[t]) : 1.0;
          loss = -static_cast<double>(x[(n * c_ + t) * d_ + d]) * weight;
        }
        if (reduction_ == Reduction::kNone) y[i] = static_cast<T>(loss);
        sum += loss;
        weight_sum += weight;
      }
    }
    if (reduction_ == Reduction::kSum) y[0] = static_cast<T>(sum);
    if (reduction_ == Reduction::kMean) y[0] = static_cast<T>(sum / weight_sum);
  }

  // lp[n, :, d] = x[n, :, d] - max - log(sum(exp(x[n, :, d] - max))).
  template <class T>
  void log_softmax(const T* x, T* lp) const {
    const int64_t cd = c_ * d_;
    for (int64_t n = 0; n < n_; ++n) {
      for (int64_t d = 0; d < d_; ++d) {
        const T* xs = x + n * cd + d;
        T* ls = lp + n * cd + d;
        double max = -std::numeric_limits<double>::infinity();
        for (int64_t k = 0; k < c_; ++k) max = std::max(max, static_cast<double>(xs[k * d_]));
        double s = 0.0;
        for (int64_t k = 0; k < c_; ++k) s += std::exp(static_cast<double>(xs[k * d_]) - max);
        const double log_sum = std::log(s);
        for (int64_t k = 0; k < c_; ++k) ls[k * d_] = static_cast<T>(static_cast<double>(xs[k * d_]) - max - log_sum);
      }
    }
  }

  std::string prefix_;
  bool softmax_;
  int64_t n_ = 0, c_ = 0, d_ = 1;
  int32_t dtype_ = KILN_DTYPE_F32, target_dtype_ = KILN_DTYPE_I64;
  bool has_weight_ = false, want_log_prob_ = false;
  Reduction reduction_ = Reduction::kMean;
  std::optional<int64_t> ignore_index_;
};

std::string supports_loss(const NodeView& v) {
  const int32_t x = v.input_dtype(0);
  if (x != KILN_DTYPE_F32 && x != KILN_DTYPE_F64) return std::string("input dtype ") + dtype_name(x) + " not supported";
  if (!plain::is_index_dtype(v.input_dtype(1)))
    return std::string("target dtype ") + dtype_name(v.input_dtype(1)) + " not supported";
  if (v.has_input(2) && v.input_dtype(2) != x) return "weight dtype differs from the input's";
  for (size_t i = 0; i < v.num_outputs(); ++i)
    if (v.output_dtype(i) != KILN_DTYPE_UNDEFINED && v.output_dtype(i) != x) return "output dtype differs from the input's";
  Dims xs = v.input_shape(0), ts = v.input_shape(1);
  if (xs.size() < 2) return "input has rank " + std::to_string(xs.size()) + ", expected at least 2";
  Dims expect{xs[0]};
  expect.insert(expect.end(), xs.begin() + 2, xs.end());
  if (ts != expect) return "target shape " + plain::dims_str(ts) + " does not match input " + plain::dims_str(xs);
  if (v.has_input(2) && v.input_shape(2) != Dims{xs[1]}) return "weight shape " + plain::dims_str(v.input_shape(2)) + " is not [C]";
  std::string r = v.attr_string("reduction", "mean");
  if (r != "none" && r != "sum" && r != "mean") return "reduction '" + r + "' not supported";
  if (v.output_shape(0) != (r == "none" ? expect : Dims{})) return "output shape " + plain::dims_str(v.output_shape(0)) + " unexpected";
  if (v.num_outputs() > 1 && v.output_dtype(1) != KILN_DTYPE_UNDEFINED && v.output_shape(1) != xs)
    return "log_prob shape differs from the scores'";
  return "";
}

}  // namespace

void register_loss_kernels(KernelTable& table) {
  auto prepare = [](const NodeView& v) -> std::unique_ptr<Kernel> { return std::make_unique<LossKernel>(v); };
  table.add("NegativeLogLikelihoodLoss", supports_loss, prepare);
  table.add("SoftmaxCrossEntropyLoss", supports_loss, prepare);
}

}  // namespace kiln::cpu
