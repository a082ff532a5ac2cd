// Softmax, LogSoftmax and Hardmax. Before opset 13 the input is coerced to 2-D at `axis` (default 1)
// and normalized over the trailing block; from 13 on it is normalized over one axis
// (default -1). The output shape is the input's either way.
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

}  // namespace

void register_softmax_ops(OpRegistry& registry) {
  registry.add(softmax_def("Softmax"));
  registry.add(softmax_def("LogSoftmax"));
  registry.add(softmax_def("Hardmax"));  // same axis rules and shape
}

}  // namespace kiln::ops
