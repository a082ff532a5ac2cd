// Softmax, LogSoftmax and Hardmax. Before opset 13 the input is coerced to 2-D at `axis` (default 1)
// and normalized over the trailing block; from 13 on it is normalized over one axis
// (default -1). The output shape is the input's either way.
#include "grad_util.h"
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

void infer_softmax(InferContext& c) {
  require_floating(c, 0);
  const Shape& x = c.input_shape(0);
  require_rank(c, 0, x, 1);
  if (x.has_rank()) {
    int64_t axis = c.has_attr("axis") ? c.attr_int("axis") : (c.opset() < 13 ? 1 : -1);
    c.normalize_axis(axis, static_cast<int64_t>(x.rank()));
  }
  c.set_output(0, c.input_dtype(0), x);
}

OpDef softmax_def(const char* name) {
  // `axis` has no schema default because it depends on the opset (see infer_softmax).
  return OpDef(name).opsets(1).optional_attr("axis", AttrType::kInt).infer(infer_softmax);
}

// The gradients work on the input viewed as `dims`, normalized over `axis` of that view: the
// input itself from opset 13, its 2-D coercion at `axis` before.
struct SoftmaxFrame {
  Dims dims;
  int64_t axis;
};

SoftmaxFrame softmax_frame(const GradContext& g) {
  const Dims& shape = g.input(0).shape();
  const auto rank = static_cast<int64_t>(shape.size());
  const bool coerce = g.opset() < 13;
  int64_t axis = g.attrs().has("axis") ? g.attr_int("axis") : (coerce ? 1 : -1);
  if (axis < 0) axis += rank;
  if (!coerce) return {shape, axis};
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < rank; ++d) (d < axis ? outer : inner) *= shape[static_cast<size_t>(d)];
  return {{outer, inner}, 1};
}

// Softmax: dx = y * (dy - sum(dy * y)) over the axis.
void grad_softmax(GradContext& g) {
  const SoftmaxFrame f = softmax_frame(g);
  const Tensor y = g.output(0).reshape(f.dims), dy = g.output_grad(0).reshape(f.dims);
  g.set_input_grad(0, (y * (dy - sum(dy * y, {f.axis}, true))).reshape(g.input(0).shape()));
}

// LogSoftmax: dx = dy - softmax(x) * sum(dy) over the axis, with softmax(x) = e^y.
void grad_log_softmax(GradContext& g) {
  const SoftmaxFrame f = softmax_frame(g);
  const Tensor y = g.output(0).reshape(f.dims), dy = g.output_grad(0).reshape(f.dims);
  g.set_input_grad(0, (dy - exp(y) * sum(dy, {f.axis}, true)).reshape(g.input(0).shape()));
}

}  // namespace

void register_softmax_ops(OpRegistry& registry) {
  registry.add(softmax_def("Softmax").grad(grad_softmax));
  registry.add(softmax_def("LogSoftmax").grad(grad_log_softmax));
  registry.add(softmax_def("Hardmax"));  // same axis rules and shape
}

}  // namespace kiln::ops
