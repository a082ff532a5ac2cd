#include "infer_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace kiln::ops {

void fail_unsupported(const InferContext& c, const std::string& message) {
  throw Error(ErrorCode::kUnsupported, c.node().describe() + ": " + message);
}

void forbid_attr_since(const InferContext& c, const char* name, int since, const char* instead) {
  if (c.opset() >= since && c.attrs().has(name))
    c.fail("attribute '{}' is not valid at opset {} (since opset {}: {})", name, c.opset(), since, instead);
}

void forbid_attr_before(const InferContext& c, const char* name, int since) {
  if (c.opset() < since && c.attrs().has(name))
    c.fail("attribute '{}' needs opset >= {}, the model has opset {}", name, since, c.opset());
}

void limit_inputs(const InferContext& c, size_t max_inputs) {
  for (size_t i = max_inputs; i < c.node().inputs().size(); ++i)
    if (c.node().input(i))
      c.fail("has input {}, but opset {} allows at most {} inputs", i, c.opset(), max_inputs);
}

// ---------------------------------------------------------------------------------------------
// Dims and shapes

std::optional<Dim> broadcast_dim(const Dim& a, const Dim& b) {
  if (a.is_static() && a.value() == 1) return b;
  if (b.is_static() && b.value() == 1) return a;
  if (a.is_static() && b.is_static()) return a.value() == b.value() ? std::optional<Dim>(a) : std::nullopt;
  // A static dim other than 1 wins: the other side must be equal or 1 at run time.
  if (a.is_static()) return a;
  if (b.is_static()) return b;
  if (a.is_symbolic() && a == b) return a;
  return Dim();
}

Shape broadcast_shapes(const InferContext& c, const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (const Shape& s : shapes) {
    if (!s.has_rank()) return Shape::unknown_rank();
    rank = std::max(rank, s.rank());
  }
  std::vector<Dim> out(rank, Dim(int64_t{1}));
  for (const Shape& s : shapes) {
    size_t offset = rank - s.rank();
    for (size_t i = 0; i < s.rank(); ++i) {
      std::optional<Dim> d = broadcast_dim(out[offset + i], s[i]);
      if (!d) {
        std::vector<std::string> names;
        for (const Shape& x : shapes) names.push_back(x.to_string());
        c.fail("shapes {} are not broadcastable (dim {} from the end: {} vs {})", fmt::join(names, " and "),
               s.rank() - i, out[offset + i].to_string(), s[i].to_string());
      }
      out[offset + i] = *d;
    }
  }
  return Shape(std::move(out));
}

void check_unidirectional(const InferContext& c, const Shape& from, const Shape& to,
                          const std::string& what) {
  if (!from.has_rank() || !to.has_rank()) return;
  if (from.rank() > to.rank())
    c.fail("{} has shape {}, which does not broadcast to {}", what, from.to_string(), to.to_string());
  size_t offset = to.rank() - from.rank();
  for (size_t i = 0; i < from.rank(); ++i) {
    const Dim& f = from[i];
    const Dim& t = to[offset + i];
    if (f.is_static() && t.is_static() && f.value() != 1 && f.value() != t.value())
      c.fail("{} has shape {}, which does not broadcast to {}", what, from.to_string(), to.to_string());
  }
}

std::optional<Dim> merge_dim(const Dim& a, const Dim& b) {
  if (a.is_static() && b.is_static()) return a.value() == b.value() ? std::optional<Dim>(a) : std::nullopt;
  if (a.is_static()) return a;
  if (b.is_static()) return b;
  if (a.is_symbolic()) return a;
  return b;
}

int64_t checked_add(const InferContext& c, int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) c.fail("size arithmetic overflows int64 ({} + {})", a, b);
  return r;
}

int64_t checked_mul(const InferContext& c, int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) c.fail("size arithmetic overflows int64 ({} * {})", a, b);
  return r;
}

Dim dim_product(const InferContext& c, const Shape& shape, size_t begin, size_t end) {
  int64_t product = 1;
  std::optional<Dim> single;
  size_t non_static = 0;
  for (size_t i = begin; i < end; ++i) {
    if (shape[i].is_static()) {
      product = checked_mul(c, product, shape[i].value());
    } else {
      ++non_static;
      single = shape[i];
    }
  }
  if (non_static == 0) return product;
  if (product == 0) return int64_t{0};
  if (non_static == 1 && product == 1) return *single;
  return Dim();
}

Dim dim_scale(const InferContext& c, const Dim& a, int64_t factor) {
  if (a.is_static()) return checked_mul(c, a.value(), factor);
  if (factor == 1) return a;
  if (factor == 0) return int64_t{0};
  return Dim();
}

Dim dim_add(const InferContext& c, const Dim& a, int64_t delta) {
  if (a.is_static()) return checked_add(c, a.value(), delta);
  return delta == 0 ? a : Dim();
}

Shape unknown_dims(size_t rank) { return Shape(std::vector<Dim>(rank)); }

void require_rank(const InferContext& c, size_t input, const Shape& shape, size_t min_rank, size_t max_rank) {
  if (!shape.has_rank()) return;
  if (shape.rank() < min_rank || shape.rank() > max_rank) {
    if (min_rank == max_rank)
      c.fail("input {} has rank {} (shape {}), expected rank {}", input, shape.rank(), shape.to_string(),
             min_rank);
    if (max_rank == std::numeric_limits<size_t>::max())
      c.fail("input {} has rank {} (shape {}), expected rank >= {}", input, shape.rank(), shape.to_string(),
             min_rank);
    c.fail("input {} has rank {} (shape {}), expected rank {}..{}", input, shape.rank(), shape.to_string(),
           min_rank, max_rank);
  }
}

// ---------------------------------------------------------------------------------------------
// Axes and dtypes

std::vector<int64_t> normalize_axes(const InferContext& c, const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<int64_t> out;
  std::set<int64_t> seen;
  for (int64_t axis : axes) {
    if (axis < -rank || axis >= rank) c.fail("axis {} is out of range for rank {}", axis, rank);
    int64_t a = axis < 0 ? axis + rank : axis;
    if (!seen.insert(a).second) c.fail("axis {} is repeated in axes [{}]", axis, fmt::join(axes, ","));
    out.push_back(a);
  }
  return out;
}

void require_same_dtype(const InferContext& c, size_t a, size_t b) {
  DType x = c.input_dtype(a), y = c.input_dtype(b);
  if (x != DType::kUndefined && y != DType::kUndefined && x != y)
    c.fail("input {} is {} but input {} is {}; they must have the same dtype", a, to_string(x), b,
           to_string(y));
}

void require_floating(const InferContext& c, size_t i) {
  DType t = c.input_dtype(i);
  if (t != DType::kUndefined && !is_floating(t))
    c.fail("input {} has dtype {}, expected a floating-point dtype", i, to_string(t));
}

void require_numeric(const InferContext& c, size_t i) {
  if (c.input_dtype(i) == DType::kBool) c.fail("input {} has dtype bool, expected a numeric dtype", i);
}

void require_index(const InferContext& c, size_t i, bool allow_i32) {
  DType t = c.input_dtype(i);
  if (t == DType::kUndefined || t == DType::kI64 || (allow_i32 && t == DType::kI32)) return;
  c.fail("input {} has dtype {}, expected {}", i, to_string(t), allow_i32 ? "i64 or i32" : "i64");
}

void require_bool(const InferContext& c, size_t i) {
  DType t = c.input_dtype(i);
  if (t != DType::kUndefined && t != DType::kBool)
    c.fail("input {} has dtype {}, expected bool", i, to_string(t));
}


// ---------------------------------------------------------------------------------------------
// Shape inputs

std::optional<int64_t> shape_input_length(const InferContext& c, size_t i) {
  const Shape& s = c.input_shape(i);
  if (!s.has_rank()) return std::nullopt;
  if (s.rank() != 1) c.fail("input {} must be 1-D, got shape {}", i, s.to_string());
  if (!s[0].is_static()) return std::nullopt;
  return s[0].value();
}

std::optional<std::vector<int64_t>> read_axes(const InferContext& c, int axes_input_opset,
                                              size_t axes_input) {
  if (c.opset() < axes_input_opset) {
    limit_inputs(c, axes_input);
    return c.has_attr("axes") ? c.attr_ints("axes") : std::vector<int64_t>{};
  }
  forbid_attr_since(c, "axes", axes_input_opset, "axes is an input");
  if (!c.has_input(axes_input)) return std::vector<int64_t>{};
  require_index(c, axes_input);
  shape_input_length(c, axes_input);  // checks that axes is 1-D
  return c.input_ints(axes_input);
}

// ---------------------------------------------------------------------------------------------
// Conv and pool geometry

Window read_window(const InferContext& c, size_t n,
                   const std::optional<std::vector<int64_t>>& kernel_from_weight, bool has_dilations) {
  Window w;
  if (c.has_attr("kernel_shape")) {
    w.kernel = c.attr_ints("kernel_shape");
    if (kernel_from_weight && w.kernel != *kernel_from_weight)
      c.fail("kernel_shape [{}] differs from the weight's spatial dims [{}]", fmt::join(w.kernel, ","),
             fmt::join(*kernel_from_weight, ","));
  } else if (kernel_from_weight) {
    w.kernel = *kernel_from_weight;
  } else {
    w.kernel.assign(n, -1);  // from a weight with unknown dims
  }
  auto list = [&](const char* name, size_t length, int64_t fallback) {
    std::vector<int64_t> v = c.has_attr(name) ? c.attr_ints(name) : std::vector<int64_t>(length, fallback);
    if (v.size() != length)
      c.fail("attribute '{}' has {} values, expected {} for {} spatial dims", name, v.size(), length, n);
    return v;
  };
  if (w.kernel.size() != n)
    c.fail("kernel_shape has {} values, expected {} for {} spatial dims", w.kernel.size(), n, n);
  w.strides = list("strides", n, 1);
  w.dilations = has_dilations ? list("dilations", n, 1) : std::vector<int64_t>(n, 1);
  w.pads = list("pads", 2 * n, 0);
  w.auto_pad = c.attr_string("auto_pad");
  for (size_t i = 0; i < n; ++i) {
    if (w.kernel[i] == 0 || w.kernel[i] < -1) c.fail("kernel_shape[{}] is {}, expected > 0", i, w.kernel[i]);
    if (w.strides[i] <= 0) c.fail("strides[{}] is {}, expected > 0", i, w.strides[i]);
    if (w.dilations[i] <= 0) c.fail("dilations[{}] is {}, expected > 0", i, w.dilations[i]);
  }
  for (size_t i = 0; i < 2 * n; ++i)
    if (w.pads[i] < 0) c.fail("pads[{}] is {}, expected >= 0", i, w.pads[i]);
  if (w.auto_pad != "NOTSET" && w.auto_pad != "SAME_UPPER" && w.auto_pad != "SAME_LOWER" &&
      w.auto_pad != "VALID")
    c.fail("auto_pad is '{}', expected NOTSET, SAME_UPPER, SAME_LOWER or VALID", w.auto_pad);
  if (w.auto_pad != "NOTSET") {
    if (std::any_of(w.pads.begin(), w.pads.end(), [](int64_t p) { return p != 0; }))
      c.fail("pads [{}] cannot be combined with auto_pad '{}'", fmt::join(w.pads, ","), w.auto_pad);
  }
  return w;
}

Dim window_output(const InferContext& c, const Window& w, size_t i, const Dim& in) {
  int64_t k = w.kernel[i], s = w.strides[i], d = w.dilations[i];
  int64_t pb = w.pads[i], pe = w.pads[i + w.kernel.size()];
  bool same = w.auto_pad == "SAME_UPPER" || w.auto_pad == "SAME_LOWER";
  if (same && s == 1) return in;
  if (k < 0) return Dim();  // kernel size unknown
  int64_t k_eff = checked_add(c, checked_mul(c, d, k - 1), 1);
  bool valid = w.auto_pad == "VALID";
  if (!same && k_eff == 1 && s == 1 && (valid || (pb == 0 && pe == 0))) return in;
  if (!in.is_static()) return Dim();
  int64_t x = in.value();
  if (same) return x / s + (x % s != 0 ? 1 : 0);
  if (valid) pb = pe = 0;
  int64_t padded = checked_add(c, checked_add(c, x, pb), pe);
  int64_t span = padded - k_eff;
  if (span < 0)
    c.fail("spatial dim {} is {} (padded {}), smaller than the window {} (kernel {}, dilation {})", i, x,
           padded, k_eff, k, d);
  int64_t out = span / s + (w.ceil_mode && span % s != 0 ? 1 : 0) + 1;
  // With ceil_mode, a window that would start in the end padding is dropped.
  if (w.ceil_mode && checked_mul(c, out - 1, s) >= checked_add(c, x, pb)) --out;
  return out;
}

Dim transposed_output(const InferContext& c, const Window& w, size_t i, const Dim& in,
                      int64_t output_padding) {
  int64_t k = w.kernel[i], s = w.strides[i], d = w.dilations[i];
  int64_t pb = w.pads[i], pe = w.pads[i + w.kernel.size()];
  if (w.auto_pad == "SAME_UPPER" || w.auto_pad == "SAME_LOWER") return dim_scale(c, in, s);
  if (!in.is_static() || k < 0) return Dim();
  if (w.auto_pad == "VALID") pb = pe = 0;
  int64_t out = checked_add(c, checked_mul(c, s, in.value() - 1), output_padding);
  out = checked_add(c, out, checked_add(c, checked_mul(c, d, k - 1), 1));
  out = checked_add(c, out, -checked_add(c, pb, pe));
  if (out < 0)
    c.fail("spatial dim {} of the output would be {} (input {}, pads {}+{})", i, out, in.value(), pb, pe);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Small integer values

namespace {

template <class T>
std::vector<int64_t> widen(const Tensor& t) {
  Tensor dense = t.contiguous();
  const T* p = dense.data<T>();
  std::vector<int64_t> out(static_cast<size_t>(dense.numel()));
  for (size_t k = 0; k < out.size(); ++k) out[k] = static_cast<int64_t>(p[k]);
  return out;
}

template <class T>
void narrow(const std::vector<int64_t>& values, const Tensor& t) {
  T* p = t.data<T>();
  for (size_t k = 0; k < values.size(); ++k) p[k] = static_cast<T>(values[k]);
}

}  // namespace

std::optional<IntValue> small_int_value(const InferContext& c, size_t i) {
  const Tensor* t = c.input_value(i);
  if (!t || !t->defined() || t->numel() > kMaxFoldElements || !t->device().is_host()) return std::nullopt;
  IntValue v{t->dtype(), t->shape(), {}};
  switch (t->dtype()) {
    case DType::kI64:
      v.data = widen<int64_t>(*t);
      break;
    case DType::kI32:
      v.data = widen<int32_t>(*t);
      break;
    case DType::kBool:
      v.data = widen<bool>(*t);
      break;
    default:
      return std::nullopt;
  }
  return v;
}

std::optional<int64_t> foldable_numel(const Dims& dims) {
  // Every dim is bounded too: a 0 elsewhere must not let a huge dim through (its strides
  // would overflow).
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || d > kMaxFoldElements) return std::nullopt;
    n *= d;  // n <= kMaxFoldElements before: no overflow
    if (n > kMaxFoldElements) return std::nullopt;
  }
  return n;
}

Tensor to_tensor(const IntValue& value) {
  Tensor t = Tensor::empty(value.shape, value.dtype);
  switch (value.dtype) {
    case DType::kI64:
      narrow<int64_t>(value.data, t);
      break;
    case DType::kI32:
      narrow<int32_t>(value.data, t);
      break;
    case DType::kBool:
      narrow<bool>(value.data, t);
      break;
    default:
      raise(ErrorCode::kInternal, "folding produced dtype {}", to_string(value.dtype));
  }
  return t;
}

void set_int_output(InferContext& c, size_t i, IntValue value) { c.set_output_value(i, to_tensor(value)); }

Shape shape_from_values(const std::vector<int64_t>& values) { return Shape::of(values); }

std::optional<IntValue> fold_broadcast(const std::vector<IntValue>& inputs, DType out_dtype,
                                       const FoldFn& fn) {
  size_t rank = 0;
  for (const IntValue& v : inputs) rank = std::max(rank, v.shape.size());
  Dims out(rank, 1);
  for (const IntValue& v : inputs)
    for (size_t i = 0; i < v.shape.size(); ++i) {
      int64_t& o = out[rank - v.shape.size() + i];
      if (o == 1)
        o = v.shape[i];
      else if (v.shape[i] != 1 && v.shape[i] != o)
        return std::nullopt;
    }
  std::optional<int64_t> count = foldable_numel(out);
  if (!count) return std::nullopt;
  int64_t numel = *count;
  // Broadcast strides per input: 0 along broadcast dims.
  std::vector<Dims> strides;
  for (const IntValue& v : inputs) {
    Dims s(rank, 0);
    Dims own = contiguous_strides(v.shape);
    for (size_t i = 0; i < v.shape.size(); ++i)
      if (v.shape[i] != 1) s[rank - v.shape.size() + i] = own[i];
    strides.push_back(std::move(s));
  }
  IntValue result{out_dtype, out, std::vector<int64_t>(static_cast<size_t>(numel))};
  std::vector<int64_t> args(inputs.size());
  for (int64_t k = 0; k < numel; ++k) {
    for (size_t j = 0; j < inputs.size(); ++j) {
      int64_t rem = k, offset = 0;
      for (size_t i = rank; i-- > 0;) {
        offset += (rem % out[i]) * strides[j][i];
        rem /= out[i];
      }
      args[j] = inputs[j].data[static_cast<size_t>(offset)];
    }
    std::optional<int64_t> r = fn(args);
    if (!r) return std::nullopt;
    result.data[static_cast<size_t>(k)] = *r;
  }
  return result;
}

bool try_fold_elementwise(InferContext& c, size_t num_inputs, DType out_dtype, const FoldFn& fn) {
  std::vector<IntValue> inputs;
  for (size_t i = 0; i < num_inputs; ++i) {
    std::optional<IntValue> v = small_int_value(c, i);
    if (!v) return false;
    inputs.push_back(std::move(*v));
  }
  std::optional<IntValue> out = fold_broadcast(inputs, out_dtype, fn);
  if (!out) return false;
  set_int_output(c, 0, std::move(*out));
  return true;
}

}  // namespace kiln::ops
