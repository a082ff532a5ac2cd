#include "reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace kiln::test {

Ref::Ref(DType dt, Dims dims) : dtype(dt), shape(std::move(dims)), v(static_cast<size_t>(numel_of(shape)), 0.0) {}

Ref::Ref(DType dt, Dims dims, std::vector<double> values) : dtype(dt), shape(std::move(dims)), v(std::move(values)) {
  if (numel_of(shape) != numel()) throw std::logic_error("Ref: value count does not match the shape");
}

Ref Ref::absent() {
  Ref r;
  r.present = false;
  return r;
}

double& Ref::at(const Dims& index) { return v[static_cast<size_t>(ravel(index, shape))]; }
double Ref::at(const Dims& index) const { return v[static_cast<size_t>(ravel(index, shape))]; }

namespace {

template <class T>
std::vector<double> doubles_of(const Tensor& t) {
  const T* p = t.data<T>();
  return std::vector<double>(p, p + t.numel());
}

}  // namespace

Ref to_ref(const Tensor& tensor) {
  Tensor t = tensor.contiguous();
  std::vector<double> values;
  switch (t.dtype()) {
    case DType::kF32: values = doubles_of<float>(t); break;
    case DType::kF64: values = doubles_of<double>(t); break;
    case DType::kI64: values = doubles_of<int64_t>(t); break;
    case DType::kI32: values = doubles_of<int32_t>(t); break;
    case DType::kI8: values = doubles_of<int8_t>(t); break;
    case DType::kU8: values = doubles_of<uint8_t>(t); break;
    case DType::kBool: values = doubles_of<bool>(t); break;
    default: throw std::logic_error("to_ref: unsupported dtype");
  }
  return Ref(t.dtype(), t.shape(), std::move(values));
}

int64_t numel_of(const Dims& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t ravel(const Dims& index, const Dims& shape) {
  int64_t flat = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (index[i] < 0 || index[i] >= shape[i]) throw std::logic_error("Ref: index out of range");
    flat = flat * shape[i] + index[i];
  }
  return flat;
}

void for_each_index(const Dims& shape, const std::function<void(const Dims&)>& f) {
  if (numel_of(shape) == 0) return;
  Dims index(shape.size(), 0);
  while (true) {
    f(index);
    int64_t axis = static_cast<int64_t>(shape.size()) - 1;
    while (axis >= 0 && ++index[static_cast<size_t>(axis)] == shape[static_cast<size_t>(axis)]) {
      index[static_cast<size_t>(axis)] = 0;
      --axis;
    }
    if (axis < 0) return;
  }
}

int64_t norm_axis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

Dims broadcast_shapes(const std::vector<Dims>& shapes) {
  size_t rank = 0;
  for (const Dims& s : shapes) rank = std::max(rank, s.size());
  Dims out(rank, 1);
  for (const Dims& s : shapes) {
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[rank - s.size() + i];
      if (s[i] == 1) continue;
      if (o != 1 && o != s[i]) throw std::logic_error("broadcast_shapes: incompatible shapes");
      o = s[i];
    }
  }
  return out;
}

int64_t broadcast_offset(const Dims& out_index, const Dims& in) {
  int64_t flat = 0;
  size_t lead = out_index.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) flat = flat * in[i] + (in[i] == 1 ? 0 : out_index[lead + i]);
  return flat;
}

Ref map_unary(const Ref& x, const std::function<double(double)>& f, DType out_dtype) {
  Ref out(out_dtype, x.shape);
  for (size_t i = 0; i < x.v.size(); ++i) out.v[i] = f(x.v[i]);
  return out;
}

Ref map_broadcast(const std::vector<Ref>& inputs, const std::function<double(const std::vector<double>&)>& f,
                  DType out_dtype) {
  std::vector<Dims> shapes;
  for (const Ref& r : inputs) shapes.push_back(r.shape);
  Ref out(out_dtype, broadcast_shapes(shapes));
  std::vector<double> args(inputs.size());
  for_each_index(out.shape, [&](const Dims& idx) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      args[i] = inputs[i].v[static_cast<size_t>(broadcast_offset(idx, inputs[i].shape))];
    }
    out.at(idx) = f(args);
  });
  return out;
}

Ref map_binary(const Ref& a, const Ref& b, const std::function<double(double, double)>& f, DType out_dtype) {
  return map_broadcast({a, b}, [&](const std::vector<double>& x) { return f(x[0], x[1]); }, out_dtype);
}

Ref matmul(const Ref& a_in, const Ref& b_in) {
  Dims as = a_in.shape, bs = b_in.shape;
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  if (bs[bs.size() - 2] != k) throw std::logic_error("matmul: inner dims differ");
  Dims a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  Dims batch = broadcast_shapes({a_batch, b_batch});
  Dims out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Ref out(a_in.dtype, out_shape);
  Ref a(a_in.dtype, as, a_in.v), b(b_in.dtype, bs, b_in.v);
  for_each_index(out_shape, [&](const Dims& idx) {
    Dims bi(idx.begin(), idx.end() - 2);
    const int64_t a_base = broadcast_offset(bi, a_batch) * m * k;
    const int64_t b_base = broadcast_offset(bi, b_batch) * k * n;
    const int64_t row = idx[idx.size() - 2], col = idx.back();
    double sum = 0;
    for (int64_t kk = 0; kk < k; ++kk) {
      sum += a.v[static_cast<size_t>(a_base + row * k + kk)] * b.v[static_cast<size_t>(b_base + kk * n + col)];
    }
    out.at(idx) = sum;
  });
  // Drop the dims that were added for 1-D operands.
  Dims final_shape(batch);
  if (!a_vec) final_shape.push_back(m);
  if (!b_vec) final_shape.push_back(n);
  return reshaped(out, final_shape);
}

namespace {

int64_t param_or(const Dims& values, size_t i, int64_t fallback) { return values.empty() ? fallback : values[i]; }

Dims spatial(const Dims& shape) { return Dims(shape.begin() + 2, shape.end()); }

}  // namespace

void resolve_pads(const Dims& in, const Dims& kernel, const ConvParams& p, Dims* begin, Dims* end) {
  const size_t rank = in.size();
  begin->assign(rank, 0);
  end->assign(rank, 0);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t s = param_or(p.strides, i, 1), d = param_or(p.dilations, i, 1);
    if (p.auto_pad == "NOTSET") {
      (*begin)[i] = param_or(p.pads, i, 0);
      (*end)[i] = param_or(p.pads, rank + i, 0);
    } else if (p.auto_pad == "SAME_UPPER" || p.auto_pad == "SAME_LOWER") {
      const int64_t out = (in[i] + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + d * (kernel[i] - 1) + 1 - in[i]);
      const int64_t small = total / 2, large = total - small;
      (*begin)[i] = p.auto_pad == "SAME_UPPER" ? small : large;
      (*end)[i] = p.auto_pad == "SAME_UPPER" ? large : small;
    } else if (p.auto_pad != "VALID") {
      throw std::logic_error("resolve_pads: bad auto_pad");
    }
  }
}

Ref conv(const Ref& x, const Ref& w, const Ref& b, const ConvParams& p) {
  const Dims in = spatial(x.shape), kernel = spatial(w.shape);
  const size_t rank = in.size();
  Dims pb, pe;
  resolve_pads(in, kernel, p, &pb, &pe);
  const int64_t batch = x.shape[0], c_in = x.shape[1], c_out = w.shape[0];
  const int64_t cg = c_in / p.group, mg = c_out / p.group;
  Dims out_shape{batch, c_out};
  for (size_t i = 0; i < rank; ++i) {
    const int64_t s = param_or(p.strides, i, 1), d = param_or(p.dilations, i, 1);
    out_shape.push_back((in[i] + pb[i] + pe[i] - d * (kernel[i] - 1) - 1) / s + 1);
  }
  Ref y(x.dtype, out_shape);
  for_each_index(out_shape, [&](const Dims& o) {
    const int64_t n = o[0], m = o[1], g = m / mg;
    double sum = b.present ? b.v[static_cast<size_t>(m)] : 0.0;
    for (int64_t c = 0; c < cg; ++c) {
      for_each_index(kernel, [&](const Dims& k) {
        Dims xi{n, g * cg + c};
        for (size_t i = 0; i < rank; ++i) {
          const int64_t pos = o[2 + i] * param_or(p.strides, i, 1) + k[i] * param_or(p.dilations, i, 1) - pb[i];
          if (pos < 0 || pos >= in[i]) return;  // padding contributes zero
          xi.push_back(pos);
        }
        Dims wi{m, c};
        wi.insert(wi.end(), k.begin(), k.end());
        sum += x.at(xi) * w.at(wi);
      });
    }
    y.at(o) = sum;
  });
  return y;
}

Ref conv_transpose(const Ref& x, const Ref& w, const Ref& b, const ConvParams& p) {
  const Dims in = spatial(x.shape), kernel = spatial(w.shape);
  const size_t rank = in.size();
  const int64_t batch = x.shape[0], c_in = x.shape[1];
  const int64_t cg = c_in / p.group, mg = w.shape[1], c_out = mg * p.group;
  Dims out_shape{batch, c_out};
  for (size_t i = 0; i < rank; ++i) {
    const int64_t s = param_or(p.strides, i, 1), d = param_or(p.dilations, i, 1);
    out_shape.push_back(s * (in[i] - 1) + param_or(p.output_padding, i, 0) + d * (kernel[i] - 1) + 1 -
                        param_or(p.pads, i, 0) - param_or(p.pads, rank + i, 0));
  }
  Ref y(x.dtype, out_shape);
  if (b.present) for_each_index(out_shape, [&](const Dims& o) { y.at(o) = b.v[static_cast<size_t>(o[1])]; });
  // Scatter: every input element adds x * w to the outputs its kernel window touches.
  for_each_index(x.shape, [&](const Dims& xi) {
    const int64_t n = xi[0], ci = xi[1], g = ci / cg;
    for (int64_t m = 0; m < mg; ++m) {
      for_each_index(kernel, [&](const Dims& k) {
        Dims yi{n, g * mg + m};
        for (size_t i = 0; i < rank; ++i) {
          const int64_t pos = xi[2 + i] * param_or(p.strides, i, 1) + k[i] * param_or(p.dilations, i, 1) -
                              param_or(p.pads, i, 0);
          if (pos < 0 || pos >= out_shape[2 + i]) return;
          yi.push_back(pos);
        }
        Dims wi{ci, m};
        wi.insert(wi.end(), k.begin(), k.end());
        y.at(yi) += x.at(xi) * w.at(wi);
      });
    }
  });
  return y;
}

Ref pool(const Ref& x, const PoolParams& p) {
  const Dims in = spatial(x.shape);
  const size_t rank = in.size();
  Dims out_shape{x.shape[0], x.shape[1]};
  for (size_t i = 0; i < rank; ++i) {
    const int64_t s = param_or(p.strides, i, 1);
    const int64_t pb = param_or(p.pads, i, 0), pe = param_or(p.pads, rank + i, 0);
    const int64_t span = in[i] + pb + pe - ((p.kernel[i] - 1) * param_or(p.dilations, i, 1) + 1);
    int64_t out = (p.ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (p.ceil_mode && (out - 1) * s >= in[i] + pb) --out;
    out_shape.push_back(out);
  }
  Ref y(x.dtype, out_shape);
  for_each_index(out_shape, [&](const Dims& o) {
    double acc = p.is_max ? -std::numeric_limits<double>::infinity() : 0.0;
    int64_t valid = 0, padded = 0;
    for_each_index(p.kernel, [&](const Dims& k) {
      Dims xi{o[0], o[1]};
      bool inside = true, in_padded_area = true;
      for (size_t i = 0; i < rank; ++i) {
        const int64_t pos = o[2 + i] * param_or(p.strides, i, 1) + k[i] * param_or(p.dilations, i, 1) -
                            param_or(p.pads, i, 0);
        inside = inside && pos >= 0 && pos < in[i];
        in_padded_area = in_padded_area && pos < in[i] + param_or(p.pads, rank + i, 0);
        xi.push_back(pos);
      }
      if (in_padded_area) ++padded;
      if (!inside) return;
      ++valid;
      const double value = x.at(xi);
      acc = p.is_max ? std::max(acc, value) : acc + value;
    });
    y.at(o) = p.is_max ? acc : acc / static_cast<double>(p.count_include_pad ? padded : valid);
  });
  return y;
}

Ref reduce(const Ref& x, const Dims& axes, bool keepdims, double init, const std::function<double(double, double)>& f,
           const std::function<double(double, int64_t)>& finish) {
  std::vector<bool> reduced(x.shape.size(), axes.empty());
  for (int64_t a : axes) reduced[static_cast<size_t>(a)] = true;
  Dims kept_shape;  // keepdims layout: reduced axes become 1
  int64_t count = 1;
  for (size_t i = 0; i < x.shape.size(); ++i) {
    kept_shape.push_back(reduced[i] ? 1 : x.shape[i]);
    if (reduced[i]) count *= x.shape[i];
  }
  Ref acc(x.dtype, kept_shape);
  std::fill(acc.v.begin(), acc.v.end(), init);
  for_each_index(x.shape, [&](const Dims& idx) {
    Dims o = idx;
    for (size_t i = 0; i < o.size(); ++i) if (reduced[i]) o[i] = 0;
    acc.at(o) = f(acc.at(o), x.at(idx));
  });
  for (double& value : acc.v) value = finish(value, count);
  if (keepdims) return acc;
  Dims out_shape;
  for (size_t i = 0; i < x.shape.size(); ++i) if (!reduced[i]) out_shape.push_back(x.shape[i]);
  return reshaped(acc, out_shape);
}

Ref transpose(const Ref& x, const Dims& perm) {
  Dims out_shape;
  for (int64_t p : perm) out_shape.push_back(x.shape[static_cast<size_t>(p)]);
  Ref y(x.dtype, out_shape);
  for_each_index(out_shape, [&](const Dims& o) {
    Dims xi(x.shape.size());
    for (size_t i = 0; i < perm.size(); ++i) xi[static_cast<size_t>(perm[i])] = o[i];
    y.at(o) = x.at(xi);
  });
  return y;
}

Ref reshaped(const Ref& x, const Dims& shape) { return Ref(x.dtype, shape, x.v); }

}  // namespace kiln::test
