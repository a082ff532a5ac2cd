// MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool.
#include "grad_util.h"
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

Shape pooled_shape(InferContext& c, bool has_dilations) {
  const Shape& x = c.input_shape(0);
  require_rank(c, 0, x, 3);
  size_t n = c.attr_ints("kernel_shape").size();
  if (x.has_rank() && x.rank() - 2 != n)
    c.fail("kernel_shape has {} values, but input X {} has {} spatial dims", n, x.to_string(), x.rank() - 2);
  Window w = read_window(c, n, std::nullopt, has_dilations);
  w.ceil_mode = c.attr_int("ceil_mode") != 0;
  if (!x.has_rank()) return unknown_dims(n + 2);
  std::vector<Dim> out{x[0], x[1]};
  for (size_t i = 0; i < n; ++i) out.push_back(window_output(c, w, i, x[i + 2]));
  return Shape(std::move(out));
}

void infer_max_pool(InferContext& c) {
  require_numeric(c, 0);
  if (c.opset() < 8 && c.num_outputs() > 1) c.fail("output Indices needs opset >= 8");
  int64_t storage_order = c.attr_int("storage_order");
  if (storage_order != 0 && storage_order != 1) c.fail("storage_order is {}, expected 0 or 1", storage_order);
  Shape out = pooled_shape(c, true);
  c.set_output(0, c.input_dtype(0), out);
  c.set_output(1, DType::kI64, out);  // Indices, when the node asks for them
}

// AveragePool takes dilations from opset 19.
void infer_average_pool(InferContext& c) {
  require_floating(c, 0);
  forbid_attr_before(c, "dilations", 19);
  c.set_output(0, c.input_dtype(0), pooled_shape(c, c.opset() >= 19));
}

void infer_global_pool(InferContext& c) {
  require_floating(c, 0);
  const Shape& x = c.input_shape(0);
  require_rank(c, 0, x, 3);
  if (!x.has_rank()) return c.set_output(0, c.input_dtype(0), Shape::unknown_rank());
  std::vector<Dim> out{x[0], x[1]};
  out.resize(x.rank(), Dim(int64_t{1}));
  c.set_output(0, c.input_dtype(0), Shape(std::move(out)));
}

OpDef pool_common(const char* name) {
  return OpDef(name)
      .opsets(1)
      .inputs(1, 1)
      .attr("auto_pad", AttrType::kString, string_attr("NOTSET"))
      .attr("ceil_mode", AttrType::kInt, int_attr(0))  // since opset 10
      .required_attr("kernel_shape", AttrType::kInts)
      .optional_attr("pads", AttrType::kInts)
      .optional_attr("strides", AttrType::kInts);
}

// ---- Gradients: the window ops run kiln.MaxPoolGrad / AveragePoolGrad (backward.cpp) with the
// forward's attributes; GlobalMaxPool is a MaxPool over the whole plane.

void grad_max_pool(GradContext& g) {
  g.set_input_grad(0, run_op1("MaxPoolGrad", {g.output_grad(0), g.input(0)}, g.attrs(), "kiln"));
}

void grad_average_pool(GradContext& g) {
  g.set_input_grad(0, run_op1("AveragePoolGrad", {g.output_grad(0), g.input(0)}, g.attrs(), "kiln"));
}

void grad_global_average_pool(GradContext& g) {
  const Tensor& x = g.input(0);
  g.set_input_grad(0, g.output_grad(0).expand(x.shape()).contiguous() / static_cast<double>(x.numel() / (x.dim(0) * x.dim(1))));
}

void grad_global_max_pool(GradContext& g) {
  const Tensor& x = g.input(0);
  Attributes attrs;
  attrs.set("kernel_shape", Dims(x.shape().begin() + 2, x.shape().end()));
  g.set_input_grad(0, run_op1("MaxPoolGrad", {g.output_grad(0), x}, attrs, "kiln"));
}

}  // namespace

void register_pool_ops(OpRegistry& registry) {
  registry.add(pool_common("MaxPool")
                   .outputs(1, 2)
                   .optional_attr("dilations", AttrType::kInts)         // since opset 10
                   .attr("storage_order", AttrType::kInt, int_attr(0))  // since opset 8
                   .infer(infer_max_pool)
                   .grad(grad_max_pool));
  // MaxPool-22 and AveragePool-22 add bf16 and say that a ceil_mode window starting in the end
  // padding is dropped, which window_output already did.
  registry.add(pool_common("AveragePool")
                   .attr("count_include_pad", AttrType::kInt, int_attr(0))  // since opset 7
                   .optional_attr("dilations", AttrType::kInts)             // since opset 19
                   .infer(infer_average_pool)
                   .grad(grad_average_pool));
  registry.add(OpDef("GlobalAveragePool").opsets(1).infer(infer_global_pool).grad(grad_global_average_pool));
  registry.add(OpDef("GlobalMaxPool").opsets(1).infer(infer_global_pool).grad(grad_global_max_pool));
}

}  // namespace kiln::ops
