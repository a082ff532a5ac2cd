#include "grad_util.h"

#include <algorithm>

namespace kiln::ops {

std::optional<std::vector<int64_t>> attr_or_input_ints(const GradContext& g, std::string_view attr, size_t index) {
  if (g.attrs().has(attr)) return g.attrs().get_ints(attr, {});
  if (index < g.num_inputs() && g.input(index).defined()) return g.input_ints(index);
  return std::nullopt;
}

std::vector<int64_t> normalized_axes(std::vector<int64_t> axes, int64_t rank) {
  for (int64_t& a : axes) a = a < 0 ? a + rank : a;
  std::sort(axes.begin(), axes.end());
  return axes;
}

GradFn elementwise_grad(std::function<Tensor(const GradContext&)> derivative) {
  return [derivative = std::move(derivative)](GradContext& g) {
    if (g.needs_input_grad(0)) g.set_input_grad(0, g.output_grad(0) * derivative(g));
  };
}

Tensor mask_like(const Tensor& cond, const Tensor& like) { return cast(cond, like.dtype()); }

Tensor unreduce(const Tensor& grad, const Dims& shape, const std::vector<int64_t>& axes, bool keepdims) {
  Dims kept = shape;
  for (int64_t a : axes) kept[static_cast<size_t>(a)] = 1;
  const Tensor g = keepdims ? grad : grad.reshape(kept);
  return g.expand(shape).contiguous();
}

}  // namespace kiln::ops
