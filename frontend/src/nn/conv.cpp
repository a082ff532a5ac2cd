#include "kiln/frontend/nn/conv.h"

#include <fmt/format.h>

#include <cmath>

#include "kiln/frontend/nn/init.h"
#include "spatial.h"

namespace kiln::nn {

namespace {
const Conv2dOptions& validated(const Conv2dOptions& o) {
  if (o.in_channels() <= 0 || o.out_channels() <= 0)
    raise(ErrorCode::kInvalidArgument, "Conv2d: in_channels={} and out_channels={} must be positive",
          o.in_channels(), o.out_channels());
  if (o.groups() <= 0 || o.in_channels() % o.groups() != 0 || o.out_channels() % o.groups() != 0)
    raise(ErrorCode::kInvalidArgument,
          "Conv2d: in_channels={} and out_channels={} must both be divisible by groups={}", o.in_channels(),
          o.out_channels(), o.groups());
  for (size_t i = 0; i < 2; ++i) {
    if (o.kernel_size()[i] < 1 || o.stride()[i] < 1 || o.dilation()[i] < 1 || o.padding()[i] < 0)
      raise(ErrorCode::kInvalidArgument,
            "Conv2d: kernel_size {}, stride {} and dilation {} must be >= 1 and padding {} >= 0",
            shape_string(o.kernel_size().values()), shape_string(o.stride().values()),
            shape_string(o.dilation().values()), shape_string(o.padding().values()));
  }
  return o;
}
}  // namespace

Conv2dImpl::Conv2dImpl(const Conv2dOptions& opts)
    : Module("Conv2d"),
      options(validated(opts)),
      weight(
          register_parameter("weight", Tensor::zeros({opts.out_channels(), opts.in_channels() / opts.groups(),
                                                      opts.kernel_size()[0], opts.kernel_size()[1]},
                                                     DType::kF32))),
      bias(register_parameter("bias",
                              opts.bias() ? Tensor::zeros({opts.out_channels()}, DType::kF32) : Tensor())) {
  reset_parameters();
}

void Conv2dImpl::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const int64_t fan_in = init::calculate_fan_in_and_fan_out(weight).first;
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Conv2dImpl::forward(const Tensor& input) {
  Batched4d b("Conv2d", input);
  const Tensor& x = b.x;
  if (x.dim(1) != options.in_channels())
    raise(ErrorCode::kInvalidArgument, "Conv2d: input {} has {} channels (dim 1), expected in_channels={}",
          shape_string(input.shape()), x.dim(1), options.in_channels());
  for (size_t i = 0; i < 2; ++i) {
    const int64_t extent = x.dim(static_cast<int64_t>(2 + i)) + 2 * options.padding()[i];
    const int64_t window = options.dilation()[i] * (options.kernel_size()[i] - 1) + 1;
    if (extent < window)
      raise(ErrorCode::kInvalidArgument,
            "Conv2d: input {} padded to {} in spatial dim {} is smaller than the (dilated) kernel size {}",
            shape_string(input.shape()), extent, i, window);
  }
  Attributes attrs;
  attrs.set("kernel_shape", options.kernel_size().values());
  attrs.set("strides", options.stride().values());
  attrs.set("dilations", options.dilation().values());
  attrs.set("pads", std::vector<int64_t>{options.padding()[0], options.padding()[1], options.padding()[0],
                                         options.padding()[1]});
  attrs.set("group", options.groups());
  std::vector<Tensor> inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  return b.restore(run_op1("Conv", inputs, attrs));
}

std::string Conv2dImpl::extra_repr() const {
  std::string s =
      fmt::format("{}, {}, kernel_size={}, stride={}", options.in_channels(), options.out_channels(),
                  shape_string(options.kernel_size().values()), shape_string(options.stride().values()));
  if (options.padding()[0] || options.padding()[1])
    s += ", padding=" + shape_string(options.padding().values());
  if (options.dilation()[0] != 1 || options.dilation()[1] != 1)
    s += ", dilation=" + shape_string(options.dilation().values());
  if (options.groups() != 1) s += fmt::format(", groups={}", options.groups());
  if (!options.bias()) s += ", bias=false";
  return s;
}

}  // namespace kiln::nn
