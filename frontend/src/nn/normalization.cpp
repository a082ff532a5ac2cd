#include "kiln/frontend/nn/normalization.h"

#include <fmt/format.h>

#include "batch_norm_stats.h"
#include "kiln/frontend/nn/init.h"

namespace kiln::nn {

// ---- LayerNorm ----

namespace {
const LayerNormOptions& validated(const LayerNormOptions& o) {
  if (o.normalized_shape().empty())
    raise(ErrorCode::kInvalidArgument, "LayerNorm: normalized_shape is empty");
  for (int64_t d : o.normalized_shape())
    if (d < 1)
      raise(ErrorCode::kInvalidArgument, "LayerNorm: normalized_shape {} has a size < 1",
            shape_string(o.normalized_shape()));
  return o;
}
}  // namespace

LayerNormImpl::LayerNormImpl(const LayerNormOptions& opts)
    : Module("LayerNorm"),
      options(validated(opts)),
      weight(
          register_parameter("weight", opts.elementwise_affine() ? ones(opts.normalized_shape()) : Tensor())),
      bias(register_parameter("bias",
                              opts.elementwise_affine() ? zeros(opts.normalized_shape()) : Tensor())) {}

void LayerNormImpl::reset_parameters() {
  if (weight.defined()) init::ones_(weight);
  if (bias.defined()) init::zeros_(bias);
}

Tensor LayerNormImpl::forward(const Tensor& x) {
  const auto& ns = options.normalized_shape();
  bool fits = x.rank() >= ns.size();
  for (size_t i = 0; fits && i < ns.size(); ++i) fits = x.shape()[x.rank() - ns.size() + i] == ns[i];
  if (!fits)
    raise(ErrorCode::kInvalidArgument, "LayerNorm: input {} does not end with normalized_shape {}",
          shape_string(x.shape()), shape_string(ns));
  Attributes attrs;
  attrs.set("axis", -static_cast<int64_t>(ns.size()));
  attrs.set("epsilon", static_cast<float>(options.eps()));
  if (weight.defined()) return run_op1("LayerNormalization", {x, weight, bias}, attrs);
  Tensor scale = ones(ns, x.dtype() == DType::kF64 ? DType::kF64 : DType::kF32);
  if (scale.dtype() != x.dtype()) scale = cast(scale, x.dtype());
  return run_op1("LayerNormalization", {x, scale.to(x.device())}, attrs);
}

std::string LayerNormImpl::extra_repr() const {
  return fmt::format("{}, eps={}, elementwise_affine={}", shape_string(options.normalized_shape()),
                     options.eps(), options.elementwise_affine());
}

// ---- BatchNorm ----

namespace {
const BatchNormOptions& validated(const char* name, const BatchNormOptions& o) {
  if (o.num_features() < 1)
    raise(ErrorCode::kInvalidArgument, "{}: num_features={} must be >= 1", name, o.num_features());
  if (o.momentum() && !(*o.momentum() >= 0.0 && *o.momentum() <= 1.0))
    raise(ErrorCode::kInvalidArgument, "{}: momentum={} is outside [0, 1]", name, *o.momentum());
  return o;
}
}  // namespace

BatchNormImplBase::BatchNormImplBase(const char* type_name, const BatchNormOptions& opts)
    : Module(type_name),
      options(validated(type_name, opts)),
      weight(register_parameter("weight", opts.affine() ? ones({opts.num_features()}) : Tensor())),
      bias(register_parameter("bias", opts.affine() ? zeros({opts.num_features()}) : Tensor())),
      running_mean(register_buffer("running_mean",
                                   opts.track_running_stats() ? zeros({opts.num_features()}) : Tensor())),
      running_var(register_buffer("running_var",
                                  opts.track_running_stats() ? ones({opts.num_features()}) : Tensor())),
      num_batches_tracked(register_buffer(
          "num_batches_tracked", opts.track_running_stats() ? Tensor::scalar<int64_t>(0) : Tensor())) {}

void BatchNormImplBase::reset_running_stats() {
  if (!options.track_running_stats()) return;
  init::zeros_(running_mean);
  init::ones_(running_var);
  num_batches_tracked.copy_from(Tensor::scalar<int64_t>(0));
}

void BatchNormImplBase::reset_parameters() {
  reset_running_stats();
  if (weight.defined()) init::ones_(weight);
  if (bias.defined()) init::zeros_(bias);
}

Tensor BatchNormImplBase::forward(const Tensor& x) {
  check_input(x);
  const int64_t c = options.num_features();
  if (x.dim(1) != c)
    raise(ErrorCode::kInvalidArgument, "{}: input {} has {} channels (dim 1), expected num_features={}",
          name(), shape_string(x.shape()), x.dim(1), c);
  if (!is_floating(x.dtype()))
    raise(ErrorCode::kInvalidArgument, "{}: input has dtype {}, expected a floating dtype", name(),
          kiln::to_string(x.dtype()));
  const int64_t count = x.numel() / c;
  const bool tracking = options.track_running_stats();
  const bool batch_stats = is_training() || !tracking;
  auto as_input = [&](const Tensor& t, double fill) {
    Tensor v = t.defined() ? t : full({c}, fill, x.dtype() == DType::kF64 ? DType::kF64 : DType::kF32);
    if (v.dtype() != x.dtype()) v = cast(v, x.dtype());
    return v.device() == x.device() ? v : v.to(x.device());
  };
  const Tensor scale = as_input(weight, 1.0), shift = as_input(bias, 0.0);
  Attributes attrs;
  attrs.set("epsilon", static_cast<float>(options.eps()));
  if (!batch_stats) {
    attrs.set("training_mode", int64_t{0});
    return run_op1("BatchNormalization",
                   {x, scale, shift, as_input(running_mean, 0.0), as_input(running_var, 1.0)}, attrs);
  }
  if (is_training() && count <= 1)
    raise(ErrorCode::kInvalidArgument,
          "{}: expected more than 1 value per channel when training, got input {}", name(),
          shape_string(x.shape()));
  const bool update = is_training() && tracking;
  double factor = 0.0;  // PyTorch's momentum for this step
  const int64_t batches = update ? num_batches_tracked.item<int64_t>() + 1 : 0;
  if (update) factor = options.momentum() ? *options.momentum() : 1.0 / static_cast<double>(batches);
  const float onnx_momentum = static_cast<float>(1.0 - factor);
  attrs.set("training_mode", int64_t{1});
  attrs.set("momentum", onnx_momentum);  // ONNX: running = momentum * running + (1 - momentum) * batch
  const Tensor input_var = as_input(running_var, 1.0);
  std::vector<Tensor> outs =
      run_op("BatchNormalization", {x, scale, shift, as_input(running_mean, 0.0), input_var}, attrs, 3);
  if (update) {
    // The op's running statistics; its running_var, updated with the biased batch variance as
    // ONNX defines, is turned into PyTorch's (unbiased variance).
    NoGradGuard no_grad;
    running_mean.copy_from(cast(outs[1].detach(), running_mean.dtype()));
    running_var.copy_from(
        cast(pytorch_running_var(outs[2].detach(), input_var, onnx_momentum, count), running_var.dtype()));
    num_batches_tracked.copy_from(Tensor::scalar<int64_t>(batches));
  }
  return outs[0];
}

std::string BatchNormImplBase::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", options.num_features(),
                     options.eps(), options.momentum() ? fmt::format("{}", *options.momentum()) : "None",
                     options.affine(), options.track_running_stats());
}

void BatchNorm1dImpl::check_input(const Tensor& x) const {
  if (x.rank() != 2 && x.rank() != 3)
    raise(ErrorCode::kInvalidArgument, "BatchNorm1d: input {} has rank {}, expected 2 ([N,C]) or 3 ([N,C,L])",
          shape_string(x.shape()), x.rank());
}

void BatchNorm2dImpl::check_input(const Tensor& x) const {
  if (x.rank() != 4)
    raise(ErrorCode::kInvalidArgument, "BatchNorm2d: input {} has rank {}, expected 4 ([N,C,H,W])",
          shape_string(x.shape()), x.rank());
}

}  // namespace kiln::nn
