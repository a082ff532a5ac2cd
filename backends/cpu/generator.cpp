// Generator kernels: Constant (bytes captured at prepare time), ConstantOfShape (one element
// repeated) and Range (start + i * delta in the output's dtype).

#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernel.h"
#include "kernel_families.h"
#include "plain_convert.h"
#include "plain_util.h"

namespace kiln::cpu {
namespace {

using plain::dims_str;

// Writes bytes captured at prepare time.
class BytesKernel : public Kernel {
 public:
  BytesKernel(std::string prefix, std::vector<unsigned char> bytes) : prefix_(std::move(prefix)), bytes_(std::move(bytes)) {}
  void run(const kiln_tensor*, size_t, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, 0, 0, n_out, 1);
    plain::copy_bytes(out[0].data, bytes_.data(), static_cast<int64_t>(bytes_.size()));
  }

 private:
  std::string prefix_;
  std::vector<unsigned char> bytes_;
};

// ---- Constant ----

const char* const kConstantAttrs[] = {"value", "value_float", "value_floats", "value_int", "value_ints"};

std::string supports_constant(const NodeView& v) {
  if (v.num_outputs() != 1) return "expects one output";
  for (const char* name : kConstantAttrs)
    if (v.attr(name)) return dtype_size(v.output_dtype(0)) ? "" : "output dtype not supported";
  if (v.attr("value_string") || v.attr("value_strings")) return "string constants not supported";
  if (v.attr("sparse_value")) return "sparse constants not supported";
  return "no value attribute";
}

std::unique_ptr<Kernel> prepare_constant(const NodeView& v) {
  std::vector<unsigned char> bytes;
  int32_t dtype = KILN_DTYPE_UNDEFINED;
  int64_t count = 0;
  auto take = [&](const void* data, size_t size, int32_t type, int64_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    bytes.assign(p, p + size);
    dtype = type;
    count = n;
  };
  if (const kiln_attr* a = v.attr("value")) {
    if (a->type != KILN_ATTR_TENSOR || !a->t) fail(v, "attribute 'value' is not a tensor");
    int64_t n = numel(shape_of(*a->t));
    take(a->t->data, static_cast<size_t>(n) * dtype_size(a->t->dtype), a->t->dtype, n);
  } else if (v.attr("value_float")) {
    float f = v.attr_float("value_float", 0);
    take(&f, sizeof f, KILN_DTYPE_F32, 1);
  } else if (v.attr("value_floats")) {
    std::vector<float> fs = v.attr_floats("value_floats", {});
    take(fs.data(), fs.size() * sizeof(float), KILN_DTYPE_F32, static_cast<int64_t>(fs.size()));
  } else if (v.attr("value_int")) {
    int64_t i = v.attr_int("value_int", 0);
    take(&i, sizeof i, KILN_DTYPE_I64, 1);
  } else if (v.attr("value_ints")) {
    std::vector<int64_t> is = v.attr_ints("value_ints", {});
    take(is.data(), is.size() * sizeof(int64_t), KILN_DTYPE_I64, static_cast<int64_t>(is.size()));
  } else {
    fail(v, "no value attribute");
  }
  if (dtype != v.output_dtype(0))
    fail(v, std::string("value has dtype ") + dtype_name(dtype) + ", output has " + dtype_name(v.output_dtype(0)));
  if (count != numel(v.output_shape(0)))
    fail(v, "value has " + std::to_string(count) + " elements, output shape is " + dims_str(v.output_shape(0)));
  return std::make_unique<BytesKernel>(plain::node_prefix(v), std::move(bytes));
}

// ---- ConstantOfShape ----

class FillKernel : public Kernel {
 public:
  FillKernel(std::string prefix, std::array<unsigned char, 8> value, size_t esize, int64_t count)
      : prefix_(std::move(prefix)), value_(value), esize_(esize), count_(count) {}
  void run(const kiln_tensor*, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 1, n_out, 1);
    plain::fill_elements(out[0].data, value_.data(), esize_, count_);
  }

 private:
  std::string prefix_;
  std::array<unsigned char, 8> value_;
  size_t esize_;
  int64_t count_;
};

std::string supports_constant_of_shape(const NodeView& v) {
  if (v.num_outputs() != 1 || !v.has_input(0)) return "expects a shape input and one output";
  if (!plain::is_index_dtype(v.input_dtype(0))) return std::string("shape dtype ") + dtype_name(v.input_dtype(0)) + " is not i64";
  if (!dtype_size(v.output_dtype(0))) return "output dtype not supported";
  return "";
}

std::unique_ptr<Kernel> prepare_constant_of_shape(const NodeView& v) {
  std::array<unsigned char, 8> value{};  // the default is f32 zero, and zero bytes in any dtype
  if (const kiln_attr* a = v.attr("value")) {
    if (a->type != KILN_ATTR_TENSOR || !a->t) fail(v, "attribute 'value' is not a tensor");
    if (numel(shape_of(*a->t)) != 1) fail(v, "attribute 'value' must hold one element");
    if (a->t->dtype != v.output_dtype(0))
      fail(v, std::string("value has dtype ") + dtype_name(a->t->dtype) + ", output has " + dtype_name(v.output_dtype(0)));
    std::memcpy(value.data(), a->t->data, dtype_size(a->t->dtype));
  } else if (v.output_dtype(0) != KILN_DTYPE_F32) {
    fail(v, std::string("without a value attribute the output is f32, not ") + dtype_name(v.output_dtype(0)));
  }
  return std::make_unique<FillKernel>(plain::node_prefix(v), value, dtype_size(v.output_dtype(0)),
                                      numel(v.output_shape(0)));
}

// ---- Range ----

class RangeKernel : public Kernel {
 public:
  RangeKernel(std::string prefix, int32_t dtype, int64_t count) : prefix_(std::move(prefix)), dtype_(dtype), count_(count) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 3, n_out, 1);
    switch (dtype_) {
      case KILN_DTYPE_F32: fill<float>(in, out[0]); break;
      case KILN_DTYPE_F64: fill<double>(in, out[0]); break;
      case KILN_DTYPE_I64: fill<int64_t>(in, out[0]); break;
      case KILN_DTYPE_I32: fill<int32_t>(in, out[0]); break;
      default: throw KernelError(KILN_ERR_INTERNAL, prefix_ + "unexpected dtype");
    }
  }

 private:
  // ONNX defines output[i] = start + i * delta, computed in T.
  template <class T>
  void fill(const kiln_tensor* in, kiln_tensor& out) const {
    T start = *static_cast<const T*>(in[0].data), delta = *static_cast<const T*>(in[2].data);
    T* dst = static_cast<T*>(out.data);
    for (int64_t i = 0; i < count_; ++i) dst[i] = static_cast<T>(start + static_cast<T>(i) * delta);
  }

  std::string prefix_;
  int32_t dtype_;
  int64_t count_;
};

std::string supports_range(const NodeView& v) {
  std::string why = dtypes_in({KILN_DTYPE_F32, KILN_DTYPE_F64, KILN_DTYPE_I64, KILN_DTYPE_I32})(v);
  if (!why.empty()) return why;
  if (v.num_inputs() != 3 || v.num_outputs() != 1) return "expects start, limit, delta and one output";
  for (size_t i = 0; i < 3; ++i)
    if (!v.has_input(i) || v.input_dtype(i) != v.output_dtype(0)) return "start, limit and delta must have the output's dtype";
  return "";
}

std::unique_ptr<Kernel> prepare_range(const NodeView& v) {
  for (size_t i = 0; i < 3; ++i)
    if (numel(v.input_shape(i)) != 1) fail(v, "input " + std::to_string(i) + " must be a scalar");
  Dims out = v.output_shape(0);
  if (out.size() != 1) fail(v, "output shape " + dims_str(out) + " is not 1-D");
  if (v.input_value(0) && v.input_value(1) && v.input_value(2)) {
    // Integers are counted exactly; floats may round differently in the runtime's inference,
    // so they only need to agree within one element.
    int64_t n = 0, slack = 0;
    if (plain::is_index_dtype(v.output_dtype(0))) {
      int64_t start = v.input_ints(0)[0], limit = v.input_ints(1)[0], delta = v.input_ints(2)[0];
      if (delta == 0) fail(v, "delta is 0");
      int64_t span = 0;
      if (__builtin_sub_overflow(limit, start, &span)) fail(v, "limit - start overflows i64");
      n = span / delta + ((span % delta != 0) && ((span < 0) == (delta < 0)) ? 1 : 0);
    } else {
      double start = v.input_scalar(0), limit = v.input_scalar(1), delta = v.input_scalar(2);
      if (delta == 0) fail(v, "delta is 0");
      double q = std::ceil((limit - start) / delta);
      if (!(q < 9e18)) fail(v, "start, limit and delta give too many elements");
      n = static_cast<int64_t>(std::max(q, -1.0));
      slack = 1;
    }
    n = std::max<int64_t>(n, 0);
    if (out[0] < n - slack || out[0] > n + slack)
      fail(v, "output shape " + dims_str(out) + " should be [" + std::to_string(n) + "]");
  }
  return std::make_unique<RangeKernel>(plain::node_prefix(v), v.output_dtype(0), out[0]);
}

}  // namespace

void register_generator_kernels(KernelTable& table) {
  table.add("Constant", supports_constant, prepare_constant);
  table.add("ConstantOfShape", supports_constant_of_shape, prepare_constant_of_shape);
  table.add("Range", supports_range, prepare_range);
}

}  // namespace kiln::cpu
