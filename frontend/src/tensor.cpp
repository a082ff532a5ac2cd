#include "kiln/frontend/tensor.h"

#include <cmath>
#include <cstring>
#include <iomanip>
#include <sstream>

namespace kiln {
namespace {

// Host tensor of dtype whose element i is f(i), converted from double.
template <class F>
Tensor generate(const Dims& shape, DType dtype, F&& f) {
  Tensor t = Tensor::empty(shape, dtype);
  const int64_t n = t.numel();
  switch (dtype) {
    case DType::kF32: {
      float* p = t.data<float>();
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(f(i));
      break;
    }
    case DType::kF64: {
      double* p = t.data<double>();
      for (int64_t i = 0; i < n; ++i) p[i] = f(i);
      break;
    }
    case DType::kI64: {
      int64_t* p = t.data<int64_t>();
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int64_t>(f(i));
      break;
    }
    case DType::kI32: {
      int32_t* p = t.data<int32_t>();
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int32_t>(f(i));
      break;
    }
    default:
      raise(ErrorCode::kInvalidArgument, "cannot fill a tensor of dtype {}", to_string(dtype));
  }
  return t;
}

// The [0, 1) double of 53 random bits, the same on every standard library.
double unit(std::mt19937_64& engine) { return static_cast<double>(engine() >> 11) * 0x1.0p-53; }

// Uniform in [0, range): rejection sampling keeps every value equally likely.
uint64_t bounded(std::mt19937_64& engine, uint64_t range) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t r = engine();
  while (r >= limit) r = engine();
  return r % range;
}

}  // namespace

std::string Generator::state() const {
  std::ostringstream os;
  os << engine_;
  return os.str();
}

void Generator::set_state(const std::string& state) {
  std::istringstream is(state);
  std::mt19937_64 engine;
  is >> engine;
  if (is.fail()) raise(ErrorCode::kInvalidArgument, "generator state: not a saved generator state");
  engine_ = engine;
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

Tensor zeros(const Dims& shape, DType dtype) { return Tensor::zeros(shape, dtype); }
Tensor ones(const Dims& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor full(const Dims& shape, double value, DType dtype) {
  if (dtype == DType::kBool) return cast(full(shape, value, DType::kI64), DType::kBool);
  return generate(shape, dtype, [value](int64_t) { return value; });
}

Tensor arange(double start, double end, double step, DType dtype) {
  if (step == 0) raise(ErrorCode::kInvalidArgument, "arange: step must not be 0");
  const double count = std::ceil((end - start) / step);
  const auto n = static_cast<int64_t>(std::max(count, 0.0));
  return generate({n}, dtype, [start, step](int64_t i) { return start + static_cast<double>(i) * step; });
}

Tensor arange(int64_t end, DType dtype) { return arange(0.0, static_cast<double>(end), 1.0, dtype); }

Tensor linspace(double start, double end, int64_t steps, DType dtype) {
  if (steps < 0) raise(ErrorCode::kInvalidArgument, "linspace: steps is {}, expected >= 0", steps);
  const double delta = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  // Like torch: the second half counts back from end so both ends are exact.
  return generate({steps}, dtype, [=](int64_t i) {
    return steps == 1 || i < steps / 2 ? start + delta * static_cast<double>(i) : end - delta * static_cast<double>(steps - 1 - i);
  });
}

Tensor rand(const Dims& shape, Generator& gen, DType dtype) { return uniform(shape, 0.0, 1.0, gen, dtype); }

Tensor uniform(const Dims& shape, double low, double high, Generator& gen, DType dtype) {
  return generate(shape, dtype, [&](int64_t) { return low + (high - low) * unit(gen.engine()); });
}

// Box-Muller on the generator's own bits, so values do not depend on the standard library.
Tensor randn(const Dims& shape, Generator& gen, DType dtype) {
  return generate(shape, dtype, [&](int64_t) {
    const double u1 = 1.0 - unit(gen.engine());  // (0, 1]
    const double u2 = unit(gen.engine());
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  });
}

Tensor randint(int64_t low, int64_t high, const Dims& shape, Generator& gen) {
  if (high <= low) raise(ErrorCode::kInvalidArgument, "randint: high {} must be greater than low {}", high, low);
  const auto range = static_cast<uint64_t>(high - low);
  Tensor t = Tensor::empty(shape, DType::kI64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = low + static_cast<int64_t>(bounded(gen.engine(), range));
  return t;
}

Tensor randperm(int64_t n, Generator& gen) {
  if (n < 0) raise(ErrorCode::kInvalidArgument, "randperm: n is {}, expected >= 0", n);
  Tensor t = arange(n);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = n - 1; i > 0; --i)  // Fisher-Yates
    std::swap(p[i], p[bounded(gen.engine(), static_cast<uint64_t>(i + 1))]);
  return t;
}

Tensor from_blob(void* data, const Dims& shape, DType dtype) {
  if (!data) raise(ErrorCode::kInvalidArgument, "from_blob: data is null");
  if (size_of(dtype) == 0) raise(ErrorCode::kInvalidArgument, "from_blob: dtype {} has no elements", to_string(dtype));
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) raise(ErrorCode::kInvalidArgument, "from_blob: negative dim in {}", to_string(shape));
    n *= d;
  }
  auto storage = Storage::wrap(data, static_cast<size_t>(n) * size_of(dtype), nullptr);
  Dims strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return Tensor::view_of(std::move(storage), dtype, shape, strides, 0);
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) raise(ErrorCode::kInvalidArgument, "cat: no tensors given");
  return concat(tensors, dim);
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) raise(ErrorCode::kInvalidArgument, "stack: no tensors given");
  std::vector<Tensor> parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].shape() != tensors[0].shape()) {
      raise(ErrorCode::kInvalidArgument, "stack: tensor {} has shape {}, tensor 0 has {}", i,
            to_string(tensors[i].shape()), to_string(tensors[0].shape()));
    }
    parts.push_back(unsqueeze(tensors[i], {dim}));
  }
  return concat(parts, dim);
}

Tensor select(const Tensor& t, int64_t dim, int64_t index) {
  const int64_t size = t.dim(dim);
  if (index < -size || index >= size) {
    raise(ErrorCode::kInvalidArgument, "select: index {} is out of range for dim {} of size {}", index, dim, size);
  }
  const int64_t i = index < 0 ? index + size : index;
  Tensor row = t.slice(dim, i, i + 1);
  Dims shape = row.shape();
  shape.erase(shape.begin() + (dim < 0 ? dim + static_cast<int64_t>(t.rank()) : dim));
  return row.reshape(shape);
}

Tensor index_select(const Tensor& t, int64_t dim, const Tensor& indices) { return gather(t, indices, dim); }

Tensor flatten(const Tensor& t, int64_t start_dim, int64_t end_dim) {
  const auto rank = static_cast<int64_t>(t.rank());
  if (rank == 0) return t.reshape({1});
  const int64_t s = start_dim < 0 ? start_dim + rank : start_dim;
  const int64_t e = end_dim < 0 ? end_dim + rank : end_dim;
  if (s < 0 || e >= rank || s > e) {
    raise(ErrorCode::kInvalidArgument, "flatten: dims {}..{} are invalid for rank {}", start_dim, end_dim, rank);
  }
  Dims shape(t.shape().begin(), t.shape().begin() + s);
  int64_t n = 1;
  for (int64_t i = s; i <= e; ++i) n *= t.shape()[static_cast<size_t>(i)];
  shape.push_back(n);
  shape.insert(shape.end(), t.shape().begin() + e + 1, t.shape().end());
  return t.reshape(shape);
}

template <class T>
T value_at(const Tensor& t, const Dims& index) {
  if (index.size() != t.rank()) {
    raise(ErrorCode::kInvalidArgument, "value_at: index {} has {} entries, the tensor has rank {}", to_string(index),
          index.size(), t.rank());
  }
  Tensor element = t.detach();
  for (size_t i = 0; i < index.size(); ++i) {
    if (index[i] < 0 || index[i] >= t.shape()[i]) {
      raise(ErrorCode::kInvalidArgument, "value_at: index {} is out of range for shape {}", to_string(index),
            to_string(t.shape()));
    }
    element = element.slice(static_cast<int64_t>(i), index[i], index[i] + 1);
  }
  return element.item<T>();
}

template float value_at<float>(const Tensor&, const Dims&);
template double value_at<double>(const Tensor&, const Dims&);
template int64_t value_at<int64_t>(const Tensor&, const Dims&);
template int32_t value_at<int32_t>(const Tensor&, const Dims&);
template bool value_at<bool>(const Tensor&, const Dims&);

namespace {

constexpr int64_t kMaxPrinted = 1000;  // larger tensors print their first and last rows
constexpr int64_t kEdgeItems = 3;

void print_values(std::ostream& os, const Tensor& t, bool floating, bool summarize, size_t indent) {
  if (t.rank() == 0) {
    if (floating) {
      os << std::fixed << std::setprecision(4) << t.item<double>();
    } else if (t.dtype() == DType::kBool) {
      os << (t.item<bool>() ? "True" : "False");
    } else {
      os << t.item<int64_t>();
    }
    return;
  }
  os << '[';
  const int64_t n = t.shape()[0];
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
      os << (t.rank() > 1 ? "...,\n" + std::string(indent + 1, ' ') : "..., ");
      i = n - kEdgeItems;
    }
    print_values(os, t.slice(0, i, i + 1).reshape(Dims(t.shape().begin() + 1, t.shape().end())), floating, summarize,
                 indent + 1);
    if (i + 1 < n) os << (t.rank() > 1 ? ",\n" + std::string(indent + 1, ' ') : ", ");
  }
  os << ']';
}

}  // namespace

std::string format_tensor(const Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  std::ostringstream os;
  os << "tensor(";
  const Tensor host = t.detach().to(Device::host());
  print_values(os, host, is_floating(t.dtype()), t.numel() > kMaxPrinted, 7);
  if (t.numel() == 0) os << ", size=" << to_string(t.shape());
  os << ", dtype=" << to_string(t.dtype());
  if (!t.device().is_host()) os << ", device=" << t.device().to_string();
  if (t.requires_grad()) os << (t.is_leaf() ? ", requires_grad=True" : ", grad_fn=" + t.grad_fn_name());
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << format_tensor(t); }

}  // namespace kiln
