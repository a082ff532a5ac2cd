#include "kiln/frontend/nn/pooling.h"

#include <fmt/format.h>

#include "spatial.h"

namespace kiln::nn {

namespace {

void check_pool_options(const char* module, const ExpandingArray<2>& kernel, const ExpandingArray<2>& stride,
                        const ExpandingArray<2>& padding, const ExpandingArray<2>& dilation) {
  for (size_t i = 0; i < 2; ++i) {
    if (kernel[i] < 1 || stride[i] < 1 || dilation[i] < 1 || padding[i] < 0)
      raise(ErrorCode::kInvalidArgument,
            "{}: kernel_size {}, stride {}, dilation {} must be >= 1 and padding {} >= 0", module,
            shape_string(kernel.values()), shape_string(stride.values()), shape_string(dilation.values()),
            shape_string(padding.values()));
    if (padding[i] > kernel[i] / 2)
      raise(ErrorCode::kInvalidArgument, "{}: padding {} should be at most half of kernel_size {}", module,
            shape_string(padding.values()), shape_string(kernel.values()));
  }
}

// Runs a pooling op with PyTorch's output size: ONNX's ceil_mode may give one more window at
// the end (one that would start in the right padding), which is cut off.
Tensor pool(const char* module, const char* op, const Tensor& input, const ExpandingArray<2>& kernel,
            const ExpandingArray<2>& stride, const ExpandingArray<2>& padding,
            const ExpandingArray<2>& dilation, bool ceil_mode, Attributes attrs) {
  Batched4d b(module, input);
  int64_t out[2];
  for (size_t i = 0; i < 2; ++i)
    out[i] = pool_output_size(module, input.shape(), b.x.dim(static_cast<int64_t>(2 + i)), kernel[i],
                              stride[i], padding[i], dilation[i], ceil_mode);
  attrs.set("kernel_shape", kernel.values());
  attrs.set("strides", stride.values());
  attrs.set("pads", std::vector<int64_t>{padding[0], padding[1], padding[0], padding[1]});
  attrs.set("ceil_mode", int64_t{ceil_mode ? 1 : 0});
  Tensor y = run_op1(op, {b.x}, attrs);
  if (y.dim(2) > out[0]) y = slice(y, 2, 0, out[0]);
  if (y.dim(3) > out[1]) y = slice(y, 3, 0, out[1]);
  if (y.dim(2) != out[0] || y.dim(3) != out[1])
    raise(ErrorCode::kInternal, "{}: {} gave {} for input {}, expected spatial size [{},{}]", module, op,
          shape_string(y.shape()), shape_string(input.shape()), out[0], out[1]);
  return b.restore(y);
}

std::string pool_repr(const ExpandingArray<2>& kernel, const ExpandingArray<2>& stride,
                      const ExpandingArray<2>& padding) {
  return fmt::format("kernel_size={}, stride={}, padding={}", shape_string(kernel.values()),
                     shape_string(stride.values()), shape_string(padding.values()));
}

}  // namespace

MaxPool2dImpl::MaxPool2dImpl(const MaxPool2dOptions& opts) : Module("MaxPool2d"), options(opts) {
  check_pool_options("MaxPool2d", opts.kernel_size(), opts.stride(), opts.padding(), opts.dilation());
}

Tensor MaxPool2dImpl::forward(const Tensor& x) {
  Attributes attrs;
  attrs.set("dilations", options.dilation().values());
  return pool("MaxPool2d", "MaxPool", x, options.kernel_size(), options.stride(), options.padding(),
              options.dilation(), options.ceil_mode(), attrs);
}

std::string MaxPool2dImpl::extra_repr() const {
  return pool_repr(options.kernel_size(), options.stride(), options.padding()) +
         fmt::format(", dilation={}, ceil_mode={}", shape_string(options.dilation().values()),
                     options.ceil_mode());
}

AvgPool2dImpl::AvgPool2dImpl(const AvgPool2dOptions& opts) : Module("AvgPool2d"), options(opts) {
  check_pool_options("AvgPool2d", opts.kernel_size(), opts.stride(), opts.padding(), 1);
}

Tensor AvgPool2dImpl::forward(const Tensor& x) {
  Attributes attrs;
  attrs.set("count_include_pad", int64_t{options.count_include_pad() ? 1 : 0});
  return pool("AvgPool2d", "AveragePool", x, options.kernel_size(), options.stride(), options.padding(), 1,
              options.ceil_mode(), attrs);
}

std::string AvgPool2dImpl::extra_repr() const {
  return pool_repr(options.kernel_size(), options.stride(), options.padding()) +
         fmt::format(", ceil_mode={}, count_include_pad={}", options.ceil_mode(),
                     options.count_include_pad());
}

Tensor AdaptiveAvgPool2dImpl::forward(const Tensor& input) {
  Batched4d b("AdaptiveAvgPool2d", input);
  const int64_t oh = options.output_size()[0], ow = options.output_size()[1];
  const int64_t h = b.x.dim(2), w = b.x.dim(3);
  if (oh < 1 || ow < 1)
    raise(ErrorCode::kInvalidArgument, "AdaptiveAvgPool2d: output_size {} must be positive",
          shape_string(options.output_size().values()));
  if (oh == 1 && ow == 1) return b.restore(run_op1("GlobalAveragePool", {b.x}));
  if (h % oh != 0 || w % ow != 0)
    raise(ErrorCode::kUnsupported,
          "AdaptiveAvgPool2d: input {} has spatial size {}x{}, which is not a multiple of output_size {}x{}; "
          "kiln "
          "supports output 1x1 or output sizes that divide the input sizes",
          shape_string(input.shape()), h, w, oh, ow);
  Attributes attrs;
  attrs.set("kernel_shape", std::vector<int64_t>{h / oh, w / ow});
  attrs.set("strides", std::vector<int64_t>{h / oh, w / ow});
  return b.restore(run_op1("AveragePool", {b.x}, attrs));
}

std::string AdaptiveAvgPool2dImpl::extra_repr() const {
  return "output_size=" + shape_string(options.output_size().values());
}

}  // namespace kiln::nn
