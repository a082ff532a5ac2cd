#include "kiln/frontend/nn/init.h"

#include <cmath>

namespace kiln::nn::init {
namespace {

void check_floating(const Tensor& t, const char* fn) {
  if (!t.defined()) raise(ErrorCode::kInvalidArgument, "nn::init::{}: the tensor is undefined", fn);
  if (!is_floating(t.dtype()))
    raise(ErrorCode::kInvalidArgument, "nn::init::{}: dtype {} is not floating", fn,
          kiln::to_string(t.dtype()));
}

// Writes values (a host tensor of t's shape) into t's storage.
Tensor write(Tensor t, const Tensor& values) {
  NoGradGuard no_grad;
  t.copy_from(values.dtype() == t.dtype() ? values : cast(values, t.dtype()));
  return t;
}

int64_t fan(const Tensor& t, FanMode mode) {
  auto [in, out] = calculate_fan_in_and_fan_out(t);
  return mode == FanMode::kFanIn ? in : out;
}

}  // namespace

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor) {
  if (!tensor.defined() || tensor.rank() < 2)
    raise(ErrorCode::kInvalidArgument,
          "nn::init: fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions");
  int64_t receptive = 1;
  for (size_t i = 2; i < tensor.rank(); ++i) receptive *= tensor.shape()[i];
  return {tensor.shape()[1] * receptive, tensor.shape()[0] * receptive};
}

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "conv1d" || nonlinearity == "conv2d" ||
      nonlinearity == "conv3d" || nonlinearity == "conv_transpose1d" || nonlinearity == "conv_transpose2d" ||
      nonlinearity == "conv_transpose3d" || nonlinearity == "sigmoid")
    return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4.0;
  raise(ErrorCode::kInvalidArgument, "nn::init::calculate_gain: unsupported nonlinearity '{}'", nonlinearity);
}

Tensor uniform_(Tensor tensor, double low, double high, Generator& gen) {
  check_floating(tensor, "uniform_");
  DType d = tensor.dtype() == DType::kF64 ? DType::kF64 : DType::kF32;
  return write(tensor, uniform(tensor.shape(), low, high, gen, d));
}

Tensor normal_(Tensor tensor, double mean, double std, Generator& gen) {
  check_floating(tensor, "normal_");
  if (std < 0) raise(ErrorCode::kInvalidArgument, "nn::init::normal_: std {} is negative", std);
  DType d = tensor.dtype() == DType::kF64 ? DType::kF64 : DType::kF32;
  NoGradGuard no_grad;
  Tensor z = randn(tensor.shape(), gen, DType::kF64);
  return write(tensor, cast(z * std + mean, d));
}

Tensor constant_(Tensor tensor, double value) {
  check_floating(tensor, "constant_");
  return write(tensor,
               full(tensor.shape(), value, tensor.dtype() == DType::kF64 ? DType::kF64 : DType::kF32));
}

Tensor zeros_(Tensor tensor) { return constant_(std::move(tensor), 0.0); }
Tensor ones_(Tensor tensor) { return constant_(std::move(tensor), 1.0); }

Tensor kaiming_uniform_(Tensor tensor, double a, FanMode mode, const std::string& nonlinearity,
                        Generator& gen) {
  check_floating(tensor, "kaiming_uniform_");
  const double gain = calculate_gain(nonlinearity, a);
  const double bound = std::sqrt(3.0) * gain / std::sqrt(static_cast<double>(fan(tensor, mode)));
  return uniform_(tensor, -bound, bound, gen);
}

Tensor kaiming_normal_(Tensor tensor, double a, FanMode mode, const std::string& nonlinearity,
                       Generator& gen) {
  check_floating(tensor, "kaiming_normal_");
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan(tensor, mode)));
  return normal_(tensor, 0.0, std, gen);
}

Tensor xavier_uniform_(Tensor tensor, double gain, Generator& gen) {
  check_floating(tensor, "xavier_uniform_");
  auto [in, out] = calculate_fan_in_and_fan_out(tensor);
  const double a = gain * std::sqrt(6.0 / static_cast<double>(in + out));
  return uniform_(tensor, -a, a, gen);
}

Tensor xavier_normal_(Tensor tensor, double gain, Generator& gen) {
  check_floating(tensor, "xavier_normal_");
  auto [in, out] = calculate_fan_in_and_fan_out(tensor);
  return normal_(tensor, 0.0, gain * std::sqrt(2.0 / static_cast<double>(in + out)), gen);
}

}  // namespace kiln::nn::init
