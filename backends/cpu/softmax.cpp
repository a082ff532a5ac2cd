// Softmax and LogSoftmax on oneDNN. Before opset 13 the input is coerced to 2-D at `axis`
// (default 1) and normalized over the second dim; from 13 on, along `axis` (default -1).
// Either way the tensor is viewed as [outer, n, inner] and normalized over n.

#include "dnnl_exec.h"
#include "kernel_families.h"

namespace kiln::cpu {
namespace {

class SoftmaxKernel : public Kernel {
 public:
  explicit SoftmaxKernel(const NodeView& v) {
    Dims x = v.input_shape(0);
    int64_t rank = static_cast<int64_t>(x.size());
    bool legacy = v.opset() < 13;
    int64_t axis = normalize_axis(v, v.attr_int("axis", legacy ? 1 : -1), rank);
    int64_t outer = 1, n = 1, inner = 1;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t extent = x[static_cast<size_t>(d)];
      if (d < axis) outer *= extent;
      else if (d == axis || legacy) n *= extent;
      else inner *= extent;
    }
    numel_ = outer * n * inner;
    if (numel_ == 0) return;  // oneDNN rejects empty tensors
    auto md = plain_desc({outer, n, inner}, KILN_DTYPE_F32);
    if (v.op_type() == "LogSoftmax") {
      dnnl::logsoftmax_forward::primitive_desc pd(
          dnnl::logsoftmax_forward::desc(dnnl::prop_kind::forward_inference, md, 1), engine());
      call_.set_primitive(dnnl::logsoftmax_forward(pd));
    } else {
      dnnl::softmax_forward::primitive_desc pd(
          dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, md, 1), engine());
      call_.set_primitive(dnnl::softmax_forward(pd));
    }
    call_.bind(DNNL_ARG_SRC, md);
    call_.bind(DNNL_ARG_DST, md);
  }
  void run(const kiln_tensor* in, size_t, kiln_tensor* out, size_t) override {
    if (numel_ > 0) call_.run({in[0].data, out[0].data});
  }

 private:
  int64_t numel_ = 0;
  DnnlCall call_;
};

std::string supports_softmax(const NodeView& v) {
  std::string why = check_dtypes(v, {KILN_DTYPE_F32});
  if (!why.empty()) return why;
  if (v.output_shape(0) != v.input_shape(0)) return "output shape differs from the input's";
  int64_t rank = static_cast<int64_t>(v.input_shape(0).size());
  int64_t axis = v.attr_int("axis", v.opset() < 13 ? 1 : -1);
  int64_t r = std::max<int64_t>(rank, 1);
  if (axis < -r || axis >= r) return "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank);
  return "";
}

}  // namespace

void register_softmax_kernels(KernelTable& table) {
  auto prepare = [](const NodeView& v) -> std::unique_ptr<Kernel> { return std::make_unique<SoftmaxKernel>(v); };
  table.add("Softmax", supports_softmax, prepare);
  table.add("LogSoftmax", supports_softmax, prepare);
}

}  // namespace kiln::cpu
