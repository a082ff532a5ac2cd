// BatchNormalization with training_mode=1 (opset 14+), f32 and f64: Y is normalized with the
// batch's per-channel mean and biased variance, and the optional outputs running_mean and
// running_var follow ONNX's momentum rule, running = input * momentum + batch * (1 - momentum),
// with the biased batch variance for running_var, as ONNX defines it. One plain loop per
// channel, accumulating in double. Inference nodes keep the entries registered before.

#include <cmath>

#include "kernel_families.h"
#include "plain_util.h"
#include "window_taps.h"

namespace kiln::cpu {
namespace {

bool training(const NodeView& v) { return v.attr_int("training_mode", 0) != 0; }
bool output_wanted(const NodeView& v, size_t i) {
  return i < v.num_outputs() && v.output_dtype(i) != KILN_DTYPE_UNDEFINED;
}

std::string supports_training(const NodeView& v) {
  std::string why = same_float_dtypes(v);
  if (!why.empty()) return why;
  if (v.attr_int("spatial", 1) != 1) return "spatial=0 is not supported";
  for (size_t i = 1; i < 5; ++i)
    if (!v.has_input(i)) return "needs X, scale, B, mean and var";
  Dims x = v.input_shape(0);
  if (x.size() < 2) return "X must have rank >= 2 (N, C, ...)";
  for (size_t i = 1; i < 5; ++i)
    if (v.input_shape(i) != Dims{x[1]}) return "scale, B, mean and var must have shape [C]";
  if (v.output_shape(0) != x) return "output shape differs from X";
  if (v.num_outputs() > 3) return "training mode has at most 3 outputs (Y, running_mean, running_var)";
  for (size_t i = 1; i < v.num_outputs(); ++i)
    if (output_wanted(v, i) && v.output_shape(i) != Dims{x[1]})
      return "running_mean and running_var must have shape [C]";
  return "";
}

template <class T>
class BatchNormTraining : public Kernel {
 public:
  explicit BatchNormTraining(const NodeView& v)
      : eps_(v.attr_float("epsilon", 1e-5f)),
        momentum_(v.attr_float("momentum", 0.9f)),
        want_mean_(output_wanted(v, 1)),
        want_var_(output_wanted(v, 2)) {
    Dims x = v.input_shape(0);
    batch_ = x[0];
    channels_ = x[1];
    spatial_ = numel(x) / std::max<int64_t>(batch_ * channels_, 1);
    if (batch_ * spatial_ < 1 && channels_ > 0)
      fail(v, "training needs at least one value per channel, got X " + plain::dims_str(x));
  }

  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    const T* x = static_cast<const T*>(in[0].data);
    const T *scale = static_cast<const T*>(in[1].data), *shift = static_cast<const T*>(in[2].data);
    const T *in_mean = static_cast<const T*>(in[3].data), *in_var = static_cast<const T*>(in[4].data);
    T* y = static_cast<T*>(out[0].data);
    T* running_mean = want_mean_ ? static_cast<T*>(out[1].data) : nullptr;
    T* running_var = want_var_ ? static_cast<T*>(out[2].data) : nullptr;
    const double count = static_cast<double>(batch_ * spatial_), m = momentum_;
    plain::parallel_range(channels_, batch_ * channels_ * spatial_ * static_cast<int64_t>(sizeof(T)) * 3,
                          [&](int64_t begin, int64_t end) {
                            for (int64_t c = begin; c < end; ++c) {
                              double sum = 0, squares = 0;
                              for (int64_t n = 0; n < batch_; ++n) {
                                const T* xp = x + (n * channels_ + c) * spatial_;
#pragma omp simd reduction(+ : sum)
                                for (int64_t i = 0; i < spatial_; ++i) sum += xp[i];
                              }
                              const double mean = sum / count;
                              for (int64_t n = 0; n < batch_; ++n) {
                                const T* xp = x + (n * channels_ + c) * spatial_;
#pragma omp simd reduction(+ : squares)
                                for (int64_t i = 0; i < spatial_; ++i)
                                  squares += (xp[i] - mean) * (xp[i] - mean);
                              }
                              const double a = scale[c] / std::sqrt(squares / count + eps_), b = shift[c];
                              for (int64_t n = 0; n < batch_; ++n) {
                                const int64_t base = (n * channels_ + c) * spatial_;
#pragma omp simd
                                for (int64_t i = 0; i < spatial_; ++i)
                                  y[base + i] = static_cast<T>((x[base + i] - mean) * a + b);
                              }
                              if (running_mean)
                                running_mean[c] = static_cast<T>(in_mean[c] * m + mean * (1 - m));
                              if (running_var)
                                running_var[c] = static_cast<T>(in_var[c] * m + squares / count * (1 - m));
                            }
                          });
  }

 private:
  double eps_, momentum_;
  bool want_mean_, want_var_;
  int64_t batch_ = 0, channels_ = 0, spatial_ = 1;
};

}  // namespace

void register_batchnorm_training_kernels(KernelTable& table) {
  const KernelEntry* inference = table.find("BatchNormalization");
  if (!inference)
    throw KernelError(KILN_ERR_INTERNAL, "BatchNormalization training: no inference entry to extend");
  KernelEntry previous = *inference;
  table.add(
      "BatchNormalization",
      [previous](const NodeView& v) { return training(v) ? supports_training(v) : previous.supports(v); },
      [previous](const NodeView& v) -> std::unique_ptr<Kernel> {
        if (!training(v)) return previous.prepare(v);
        if (v.input_dtype(0) == KILN_DTYPE_F64) return std::make_unique<BatchNormTraining<double>>(v);
        return std::make_unique<BatchNormTraining<float>>(v);
      });
}

}  // namespace kiln::cpu
