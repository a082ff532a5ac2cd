#pragma once
// nn::init: in-place initializers with PyTorch's formulas (torch.nn.init), drawing from a kiln
// Generator. Each writes into the tensor's storage (any device) without recording autograd and
// returns the tensor. The numbers differ from torch's RNG; the distributions are the same.

#include <string>

#include "kiln/frontend/tensor.h"

namespace kiln::nn::init {

/// How fan is counted for the kaiming initializers.
enum class FanMode { kFanIn, kFanOut };

/// fan_in = size(1) * receptive field, fan_out = size(0) * receptive field. Throws
/// Error(kInvalidArgument) for a tensor with fewer than 2 dims.
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);
/// torch.nn.init.calculate_gain: "linear", "conv1d/2d/3d", "sigmoid" -> 1; "tanh" -> 5/3;
/// "relu" -> sqrt(2); "leaky_relu" -> sqrt(2 / (1 + param^2)) (param: negative slope, default
/// 0.01); "selu" -> 3/4. Throws Error(kInvalidArgument) for another name.
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

// Each throws Error(kInvalidArgument) for an undefined or non-floating tensor.
Tensor uniform_(Tensor tensor, double low = 0.0, double high = 1.0, Generator& gen = default_generator());
Tensor normal_(Tensor tensor, double mean = 0.0, double std = 1.0, Generator& gen = default_generator());
Tensor constant_(Tensor tensor, double value);
Tensor zeros_(Tensor tensor);
Tensor ones_(Tensor tensor);
/// U(-bound, bound), bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).
/// kaiming_uniform_(w, sqrt(5)) is Linear's and Conv's default: bound = 1 / sqrt(fan_in).
Tensor kaiming_uniform_(Tensor tensor, double a = 0.0, FanMode mode = FanMode::kFanIn,
                        const std::string& nonlinearity = "leaky_relu", Generator& gen = default_generator());
/// N(0, std^2), std = gain / sqrt(fan).
Tensor kaiming_normal_(Tensor tensor, double a = 0.0, FanMode mode = FanMode::kFanIn,
                       const std::string& nonlinearity = "leaky_relu", Generator& gen = default_generator());
/// U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(Tensor tensor, double gain = 1.0, Generator& gen = default_generator());
/// N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(Tensor tensor, double gain = 1.0, Generator& gen = default_generator());

}  // namespace kiln::nn::init
