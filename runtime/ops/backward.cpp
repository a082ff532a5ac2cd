// kiln's backward ops (domain "kiln"): the parts of gradients that no forward op expresses.
// Backends run them with their own backward kernels (oneDNN's backward primitives on the CPU).
//   ConvGradWeight(X, dY) -> dW [, dB]: the weight gradient of Conv(X, W) -> Y, W [M, C/group, k...]
//     (kernel_shape is required), and optionally the bias gradient [M] in the same pass; ConvTranspose's weight gradient is the same op with its
//     operands swapped (runtime/ops/conv.cpp).
//   MaxPoolGrad(dY, X) -> dX: dY routed to each window's (first) maximum.
//   AveragePoolGrad(dY, X) -> dX: dY spread over each window (X gives only the shape).
// Each takes its forward op's attributes.
#include <memory>

#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

constexpr const char* kDomain = "kiln";

// A backward op with its forward op's attribute schema.
OpDef backward_def(const std::string& name, const OpRegistry& registry, const char* forward) {
  const OpDef* base = registry.find(forward);
  if (!base) raise(ErrorCode::kInternal, "backward ops: {} must be registered before them", forward);
  OpDef def(name, kDomain);
  def.opsets(1).inputs(2, 2);
  def.attrs_of(*base);
  return def;
}

void infer_conv_grad_weight(InferContext& c) {
  require_floating(c, 0);
  require_same_dtype(c, 0, 1);
  if (!c.has_attr("kernel_shape")) c.fail("attribute 'kernel_shape' is required");
  const std::vector<int64_t> kernel = c.attr_ints("kernel_shape");
  const Shape &x = c.input_shape(0), &dy = c.input_shape(1);
  require_rank(c, 0, x, kernel.size() + 2, kernel.size() + 2);
  require_rank(c, 1, dy, kernel.size() + 2, kernel.size() + 2);
  const int64_t group = c.attr_int("group");
  if (group < 1) c.fail("group is {}, expected >= 1", group);
  std::vector<Dim> out{dy.has_rank() ? dy[1] : Dim(), Dim()};
  if (x.has_rank() && x[1].is_static()) {
    if (x[1].value() % group != 0)
      c.fail("X has {} channels, not divisible by group {}", x[1].value(), group);
    out[1] = Dim(x[1].value() / group);
  }
  for (int64_t k : kernel) out.emplace_back(k);
  if (c.num_outputs() > 1) c.set_output(1, c.input_dtype(0), Shape({out[0]}));
  c.set_output(0, c.input_dtype(0), Shape(std::move(out)));
}

// dX has X's type.
void infer_pool_grad(InferContext& c) {
  require_floating(c, 0);
  require_same_dtype(c, 0, 1);
  c.set_output(0, c.input_dtype(1), c.input_shape(1));
}

}  // namespace

void register_backward_ops(OpRegistry& registry) {
  registry.add(backward_def("ConvGradWeight", registry, "Conv").outputs(1, 2).infer(infer_conv_grad_weight));
  registry.add(backward_def("MaxPoolGrad", registry, "MaxPool").infer(infer_pool_grad));
  registry.add(backward_def("AveragePoolGrad", registry, "AveragePool").infer(infer_pool_grad));
}

}  // namespace kiln::ops
