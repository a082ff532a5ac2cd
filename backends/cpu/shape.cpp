// Shape kernels: Reshape, Flatten, Squeeze, Unsqueeze and Identity copy the bytes (the
// runtime already inferred the output shape); Shape writes the input's dims as i64.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "kernel.h"
#include "kernel_families.h"
#include "plain_util.h"

namespace kiln::cpu {
namespace {

using plain::all_dtypes;
using plain::is_index_dtype;

// Row-major data is unchanged by a reshape: the output is the input's bytes.
class CopyKernel : public Kernel {
 public:
  CopyKernel(std::string prefix, int64_t bytes) : prefix_(std::move(prefix)), bytes_(bytes) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 1, n_out, 1);
    plain::copy_bytes(out[0].data, in[0].data, bytes_);
  }

 private:
  std::string prefix_;
  int64_t bytes_;
};

class ShapeKernel : public Kernel {
 public:
  ShapeKernel(std::string prefix, std::vector<int64_t> dims) : prefix_(std::move(prefix)), dims_(std::move(dims)) {}
  void run(const kiln_tensor*, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 1, n_out, 1);
    plain::copy_bytes(out[0].data, dims_.data(), static_cast<int64_t>(dims_.size() * sizeof(int64_t)));
  }

 private:
  std::string prefix_;
  std::vector<int64_t> dims_;
};

// Data input 0 of any dtype; the other inputs (shape, axes) are integer lists.
std::string supports_copy(const NodeView& v) {
  std::string why = dtypes_in(all_dtypes())(v);
  if (!why.empty()) return why;
  if (v.num_outputs() != 1 || !v.has_input(0)) return "expects a data input and one output";
  for (size_t i = 1; i < v.num_inputs(); ++i)
    if (v.has_input(i) && !is_index_dtype(v.input_dtype(i)))
      return "input " + std::to_string(i) + " must be i32 or i64, not " + dtype_name(v.input_dtype(i));
  return "";
}

std::unique_ptr<Kernel> prepare_copy(const NodeView& v) {
  plain::check_same_dtype(v, 0, 0);
  plain::check_same_numel(v, 0, 0);
  return std::make_unique<CopyKernel>(plain::node_prefix(v),
                                      numel(v.output_shape(0)) * static_cast<int64_t>(dtype_size(v.output_dtype(0))));
}

// Reshape also checks the runtime's output shape against the requested one when it is known.
std::unique_ptr<Kernel> prepare_reshape(const NodeView& v) {
  if (v.input_value(1)) {
    Dims in = v.input_shape(0), want = v.input_ints(1), out = v.output_shape(0);
    bool allowzero = v.opset() >= 14 && v.attr_int("allowzero", 0) != 0;
    bool ok = want.size() == out.size();
    for (size_t d = 0; ok && d < want.size(); ++d) {
      int64_t w = want[d] == 0 && !allowzero ? (d < in.size() ? in[d] : -2) : want[d];
      ok = w == -1 || w == out[d];
    }
    if (!ok) fail(v, "output shape " + plain::dims_str(out) + " does not match the requested shape " + plain::dims_str(want));
  }
  return prepare_copy(v);
}

std::string supports_shape(const NodeView& v) {
  if (v.num_outputs() != 1 || !v.has_input(0)) return "expects one input and one output";
  if (v.output_dtype(0) != KILN_DTYPE_I64) return std::string("output dtype ") + dtype_name(v.output_dtype(0)) + " is not i64";
  return "";  // the input's dtype does not matter: its data is never read
}

std::unique_ptr<Kernel> prepare_shape(const NodeView& v) {
  Dims in = v.input_shape(0);
  int64_t rank = static_cast<int64_t>(in.size());
  int64_t start = 0, end = rank;
  if (v.opset() >= 15) {  // start/end slice the dims, negative from the back, clamped
    start = v.attr_int("start", 0);
    end = v.attr_int("end", rank);
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, 0, rank);
  }
  std::vector<int64_t> dims(in.begin() + start, in.begin() + std::max(start, end));
  if (v.output_shape(0) != Dims{static_cast<int64_t>(dims.size())})
    fail(v, "output shape " + plain::dims_str(v.output_shape(0)) + " should be [" + std::to_string(dims.size()) + "]");
  return std::make_unique<ShapeKernel>(plain::node_prefix(v), std::move(dims));
}

std::unique_ptr<Kernel> prepare_size(const NodeView& v) {
  if (!v.output_shape(0).empty())
    fail(v, "output shape " + plain::dims_str(v.output_shape(0)) + " should be [] (a scalar)");
  return std::make_unique<ShapeKernel>(plain::node_prefix(v), std::vector<int64_t>{numel(v.input_shape(0))});
}

}  // namespace

void register_shape_kernels(KernelTable& table) {
  table.add("Reshape", supports_copy, prepare_reshape);
  table.add("Flatten", supports_copy, prepare_copy);
  table.add("Squeeze", supports_copy, prepare_copy);
  table.add("Unsqueeze", supports_copy, prepare_copy);
  table.add("Identity", supports_copy, prepare_copy);
  table.add("Shape", supports_shape, prepare_shape);
  table.add("Size", supports_shape, prepare_size);
}

}  // namespace kiln::cpu
