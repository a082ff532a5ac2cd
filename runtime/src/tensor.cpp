#include "kiln/runtime/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>

#include "kiln/runtime/autograd.h"
#include "kiln/runtime/backend.h"
#include "kiln/runtime/trace.h"
#include "host_allocator.h"

namespace kiln {
namespace {

constexpr int64_t kPrintedValues = 8;

bool records_grad(const Tensor& base) { return base.requires_grad() && GradMode::enabled(); }

// A reshaped view of base on the tape as Reshape(base, shape).
Tensor record_reshape(const Tensor& base, Tensor view) {
  if (!records_grad(base)) return view;
  Tensor shape = Tensor::from_vector<int64_t>({static_cast<int64_t>(view.rank())}, view.shape());
  return autograd::record_view(base, std::move(view), "Reshape", {std::move(shape)});
}

int64_t normalize_axis(int64_t axis, size_t rank, std::string_view op) {
  const auto r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) {
    raise(ErrorCode::kInvalidArgument, "{}: axis {} is out of range for rank {}", op, axis, rank);
  }
  return axis < 0 ? axis + r : axis;
}

// Index one past the last element a view touches; 0 when it touches none.
int64_t view_extent(const Dims& shape, const Dims& strides, int64_t offset) {
  int64_t last = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) return 0;
    int64_t step = 0;
    if (__builtin_mul_overflow(shape[i] - 1, strides[i], &step) ||
        __builtin_add_overflow(last, step, &last)) {
      raise(ErrorCode::kInvalidArgument, "view of shape {} with strides {}: extent overflows int64",
            kiln::to_string(shape), kiln::to_string(strides));
    }
  }
  return last + 1;
}

// Strides that let a tensor of (shape, strides) be read as new_shape without copying, or
// nullopt. Dims are grouped into runs that are contiguous among themselves; every run must
// be covered by a whole number of consecutive new dims.
std::optional<Dims> view_strides(const Dims& shape, const Dims& strides, const Dims& new_shape,
                                 int64_t numel) {
  if (numel == 0) return contiguous_strides(new_shape);
  Dims out(new_shape.size(), 0);
  // Non-1 dims of both shapes, innermost first: size-1 dims never constrain a view.
  std::vector<size_t> old_dims;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] != 1) old_dims.push_back(i);
  }
  std::vector<size_t> new_dims;
  for (size_t i = new_shape.size(); i-- > 0;) {
    if (new_shape[i] != 1) new_dims.push_back(i);
  }
  size_t o = 0;
  size_t n = 0;
  while (o < old_dims.size()) {
    // One contiguous run of old dims, from old_dims[o] outward.
    const int64_t base = strides[old_dims[o]];
    int64_t run = shape[old_dims[o]];
    ++o;
    while (o < old_dims.size() && strides[old_dims[o]] == base * run) {
      run *= shape[old_dims[o]];
      ++o;
    }
    // New dims whose product is exactly this run.
    int64_t covered = 1;
    while (covered < run && n < new_dims.size()) {
      out[new_dims[n]] = base * covered;
      covered *= new_shape[new_dims[n]];
      ++n;
    }
    if (covered != run) return std::nullopt;
  }
  if (n != new_dims.size()) return std::nullopt;
  // Size-1 dims: any stride works; use the contiguous-looking one.
  for (size_t i = new_shape.size(); i-- > 0;) {
    if (new_shape[i] != 1) continue;
    out[i] = i + 1 < new_shape.size() ? out[i + 1] * std::max<int64_t>(new_shape[i + 1], 1) : 1;
  }
  return out;
}

// Copies the elements of a strided view at src into dst in row-major order.
template <size_t kSize>
void copy_rows(char* dst, const char* src, const Dims& shape, const Dims& strides) {
  const size_t rank = shape.size();
  const int64_t inner = shape[rank - 1];
  const int64_t inner_stride = strides[rank - 1] * static_cast<int64_t>(kSize);
  Dims index(rank - 1, 0);
  for (;;) {
    const char* row = src;
    for (size_t i = 0; i + 1 < rank; ++i) row += index[i] * strides[i] * static_cast<int64_t>(kSize);
    if (inner_stride == static_cast<int64_t>(kSize)) {
      std::memcpy(dst, row, static_cast<size_t>(inner) * kSize);
      dst += inner * static_cast<int64_t>(kSize);
    } else {
      for (int64_t j = 0; j < inner; ++j, dst += kSize) std::memcpy(dst, row + j * inner_stride, kSize);
    }
    size_t i = rank - 1;
    for (; i-- > 0;) {  // row-major odometer over the outer dims
      if (++index[i] < shape[i]) break;
      index[i] = 0;
    }
    if (i == static_cast<size_t>(-1)) return;
  }
}

void copy_strided(void* dst, const void* src, const Dims& shape, const Dims& strides, size_t element_size) {
  if (checked_numel(shape) == 0) return;
  if (shape.empty()) {
    std::memcpy(dst, src, element_size);
    return;
  }
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  switch (element_size) {
    case 1:
      return copy_rows<1>(d, s, shape, strides);
    case 2:
      return copy_rows<2>(d, s, shape, strides);
    case 4:
      return copy_rows<4>(d, s, shape, strides);
    case 8:
      return copy_rows<8>(d, s, shape, strides);
    default:
      raise(ErrorCode::kInternal, "copy_strided: unsupported element size {}", element_size);
  }
}

// f16 / bf16 bit patterns to float, for item() and printing.
float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  const uint32_t mantissa = h & 0x3ffu;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // zero or subnormal
  } else if (exponent == 31) {
    magnitude = mantissa ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400u), static_cast<int>(exponent) - 25);
  }
  return sign ? -magnitude : magnitude;
}

float bf16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

template <class S>
S load(const void* p) {
  S s;
  std::memcpy(&s, p, sizeof s);
  return s;
}

// One element of dtype at p, as T. Float -> integer conversions that cannot be represented
// throw rather than being undefined behaviour.
template <class T>
T convert_element(const void* p, DType dtype) {
  auto from_float = [](double v) -> T {
    if constexpr (std::is_same_v<T, bool>) {
      return v != 0.0;
    } else if constexpr (std::is_integral_v<T>) {
      if (!(v >= static_cast<double>(std::numeric_limits<T>::min()) &&
            v < static_cast<double>(std::numeric_limits<T>::max()) + 1.0)) {
        raise(ErrorCode::kInvalidArgument, "item(): value {} does not fit the requested integer type", v);
      }
      return static_cast<T>(v);
    } else {
      return static_cast<T>(v);
    }
  };
  auto from_int = [](auto v) -> T {
    if constexpr (std::is_same_v<T, bool>) {
      return v != 0;
    } else {
      return static_cast<T>(v);
    }
  };
  switch (dtype) {
    case DType::kF32:
      return from_float(load<float>(p));
    case DType::kF64:
      return from_float(load<double>(p));
    case DType::kF16:
      return from_float(half_to_float(load<uint16_t>(p)));
    case DType::kBF16:
      return from_float(bf16_to_float(load<uint16_t>(p)));
    case DType::kI64:
      return from_int(load<int64_t>(p));
    case DType::kI32:
      return from_int(load<int32_t>(p));
    case DType::kI8:
      return from_int(load<int8_t>(p));
    case DType::kU8:
      return from_int(load<uint8_t>(p));
    case DType::kBool:
      return from_int(load<uint8_t>(p) != 0 ? 1 : 0);
    case DType::kUndefined:
      break;
  }
  raise(ErrorCode::kInvalidArgument, "cannot read an element of dtype {}", kiln::to_string(dtype));
}

std::string format_element(const void* p, DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return fmt::format("{}", load<float>(p));
    case DType::kF64:
      return fmt::format("{}", load<double>(p));
    case DType::kF16:
      return fmt::format("{}", half_to_float(load<uint16_t>(p)));
    case DType::kBF16:
      return fmt::format("{}", bf16_to_float(load<uint16_t>(p)));
    case DType::kI64:
      return fmt::format("{}", load<int64_t>(p));
    case DType::kI32:
      return fmt::format("{}", load<int32_t>(p));
    case DType::kI8:
      return fmt::format("{}", load<int8_t>(p));
    case DType::kU8:
      return fmt::format("{}", load<uint8_t>(p));
    case DType::kBool:
      return load<uint8_t>(p) ? "true" : "false";
    case DType::kUndefined:
      break;
  }
  return "?";
}

// Copies bytes from host memory to storage, through the backend when the host cannot write it.
void write_storage(const Storage& storage, size_t byte_offset, const void* src, size_t bytes) {
  if (bytes == 0) return;
  char* dst = static_cast<char*>(storage.data()) + byte_offset;
  Device d = storage.device();
  if (d.host_accessible()) {
    std::memcpy(dst, src, bytes);
  } else {
    d.backend->copy_from_host(d.index, dst, src, bytes);
  }
}

void read_storage(const Storage& storage, size_t byte_offset, void* dst, size_t bytes) {
  if (bytes == 0) return;
  const char* src = static_cast<const char*>(storage.data()) + byte_offset;
  Device d = storage.device();
  if (d.host_accessible()) {
    std::memcpy(dst, src, bytes);
  } else {
    d.backend->copy_to_host(d.index, dst, src, bytes);
  }
}

}  // namespace

// ---- Device ----

bool Device::host_accessible() const { return is_host() || backend->device_info(index).host_accessible; }

std::string Device::to_string() const {
  if (is_host()) return "host";
  return fmt::format("{}:{}", backend->name(), index);
}

// ---- Storage ----

std::shared_ptr<Storage> Storage::allocate(Device device, size_t bytes) {
  std::shared_ptr<Storage> s(new Storage());
  s->bytes_ = bytes;
  s->device_ = device;
  if (device.is_host()) {
    s->data_ = host_allocate(bytes);
    s->deleter_ = [bytes](void* p) { host_release(p, bytes); };
    return s;
  }
  Backend* backend = device.backend;
  const int index = device.index;
  s->data_ = backend->alloc(index, std::max<size_t>(bytes, 1));
  if (s->data_ == nullptr) {
    raise(ErrorCode::kOutOfMemory, "cannot allocate {} bytes on {}", bytes, device.to_string());
  }
  s->deleter_ = [backend, index](void* p) { backend->free(index, p); };
  return s;
}

std::shared_ptr<Storage> Storage::wrap(void* data, size_t bytes, std::function<void(void*)> deleter) {
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = data;
  s->bytes_ = bytes;
  s->deleter_ = std::move(deleter);
  return s;
}

Storage::~Storage() {
  if (deleter_ && data_ != nullptr) deleter_(data_);
}

// ---- Construction ----

Tensor Tensor::empty(const Dims& shape, DType dtype, Device device) {
  if (size_of(dtype) == 0) {
    raise(ErrorCode::kInvalidArgument, "cannot create a tensor of dtype {}", kiln::to_string(dtype));
  }
  const int64_t n = checked_numel(shape);
  size_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<size_t>(n), size_of(dtype), &bytes)) {
    raise(ErrorCode::kInvalidArgument, "tensor of shape {} and dtype {} is too large", kiln::to_string(shape),
          kiln::to_string(dtype));
  }
  Tensor t;
  t.storage_ = Storage::allocate(device, bytes);
  t.dtype_ = dtype;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  return t;
}

Tensor Tensor::zeros(const Dims& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (device.host_accessible()) {
    std::memset(t.raw_data(), 0, t.nbytes());
  } else {
    std::vector<char> zero(t.nbytes(), 0);
    write_storage(*t.storage_, 0, zero.data(), zero.size());
  }
  return t;
}

template <class T>
Tensor Tensor::from_vector(const Dims& shape, const std::vector<T>& values) {
  const int64_t n = checked_numel(shape);
  if (static_cast<int64_t>(values.size()) != n) {
    raise(ErrorCode::kInvalidArgument, "from_vector: {} values given for shape {} ({} elements)",
          values.size(), kiln::to_string(shape), n);
  }
  Tensor t = empty(shape, dtype_of<T>());
  if constexpr (std::is_same_v<T, bool>) {
    // std::vector<bool> is packed; a bool element is one byte, 0 or 1.
    auto* dst = static_cast<uint8_t*>(t.raw_data());
    for (size_t i = 0; i < values.size(); ++i) dst[i] = values[i] ? 1 : 0;
  } else if (!values.empty()) {
    std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  }
  return t;
}

Tensor Tensor::view_of(std::shared_ptr<Storage> storage, DType dtype, const Dims& shape, const Dims& strides,
                       int64_t offset) {
  if (storage == nullptr) raise(ErrorCode::kInvalidArgument, "view_of: storage is null");
  if (size_of(dtype) == 0)
    raise(ErrorCode::kInvalidArgument, "view_of: dtype {} has no size", kiln::to_string(dtype));
  if (shape.size() != strides.size()) {
    raise(ErrorCode::kInvalidArgument, "view_of: shape {} has rank {} but strides {} have {} entries",
          kiln::to_string(shape), shape.size(), kiln::to_string(strides), strides.size());
  }
  checked_numel(shape);  // rejects negative dims and overflow
  for (size_t i = 0; i < strides.size(); ++i) {
    if (strides[i] < 0) {
      raise(ErrorCode::kInvalidArgument, "view_of: stride {} of axis {} is negative", strides[i], i);
    }
  }
  if (offset < 0) raise(ErrorCode::kInvalidArgument, "view_of: offset {} is negative", offset);
  const int64_t extent = view_extent(shape, strides, offset);
  size_t needed = 0;
  if (__builtin_mul_overflow(static_cast<size_t>(extent), size_of(dtype), &needed) ||
      needed > storage->bytes()) {
    raise(ErrorCode::kInvalidArgument,
          "view_of: shape {} strides {} offset {} ({}) reads past the storage's {} bytes",
          kiln::to_string(shape), kiln::to_string(strides), offset, kiln::to_string(dtype), storage->bytes());
  }
  Tensor t;
  t.storage_ = std::move(storage);
  t.dtype_ = dtype;
  t.shape_ = shape;
  t.strides_ = strides;
  t.offset_ = offset;
  return t;
}

// ---- Properties ----

int64_t Tensor::dim(int64_t axis) const { return shape_[normalize_axis(axis, rank(), "dim")]; }

int64_t Tensor::numel() const { return checked_numel(shape_); }

Device Tensor::device() const { return storage_ ? storage_->device() : Device::host(); }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 0) return true;
    if (shape_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  if (!storage_) return nullptr;
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(size_of(dtype_));
}

template <class T>
T* Tensor::data() const {
  if (!defined())
    raise(ErrorCode::kInvalidArgument, "data<{}>(): tensor is undefined", kiln::to_string(dtype_of<T>()));
  if (dtype_ != dtype_of<T>()) {
    raise(ErrorCode::kInvalidArgument, "data<{}>(): tensor has dtype {}", kiln::to_string(dtype_of<T>()),
          kiln::to_string(dtype_));
  }
  if (!device().host_accessible()) {
    raise(ErrorCode::kInvalidArgument,
          "data<{}>(): memory on {} is not host accessible; use to(Device::host())", kiln::to_string(dtype_),
          device().to_string());
  }
  return static_cast<T*>(raw_data());
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  if (!defined()) {
    raise(ErrorCode::kInvalidArgument, "to_vector<{}>(): tensor is undefined",
          kiln::to_string(dtype_of<T>()));
  }
  if (dtype_ != dtype_of<T>()) {
    raise(ErrorCode::kInvalidArgument, "to_vector<{}>(): tensor has dtype {}", kiln::to_string(dtype_of<T>()),
          kiln::to_string(dtype_));
  }
  const Tensor host = to(Device::host());
  const int64_t n = host.numel();
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<bool> out(static_cast<size_t>(n));
    const auto* src = static_cast<const uint8_t*>(host.raw_data());
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = src[i] != 0;
    return out;
  } else {
    const T* src = static_cast<const T*>(host.raw_data());
    return std::vector<T>(src, src + n);
  }
}

template <class T>
T Tensor::item() const {
  if (!defined()) raise(ErrorCode::kInvalidArgument, "item(): tensor is undefined");
  if (numel() != 1) {
    raise(ErrorCode::kInvalidArgument, "item(): tensor of shape {} has {} elements, expected 1",
          kiln::to_string(shape_), numel());
  }
  alignas(8) unsigned char element[8];
  read_storage(*storage_, static_cast<size_t>(offset_) * size_of(dtype_), element, size_of(dtype_));
  return convert_element<T>(element, dtype_);
}

// ---- Views ----

Tensor Tensor::slice(int64_t axis, int64_t start, int64_t end, int64_t step) const {
  if (!defined()) raise(ErrorCode::kInvalidArgument, "slice: tensor is undefined");
  const int64_t a = normalize_axis(axis, rank(), "slice");
  if (step <= 0) raise(ErrorCode::kInvalidArgument, "slice: step {} on axis {} must be positive", step, axis);
  const int64_t size = shape_[a];
  auto clamp = [size](int64_t i) { return std::clamp(i < 0 ? i + size : i, int64_t{0}, size); };
  start = clamp(start);
  end = clamp(end);
  const int64_t length = end > start ? 1 + (end - start - 1) / step : 0;
  Tensor t = alias();
  t.shape_[a] = length;
  if (length > 0) t.offset_ += start * strides_[a];
  if (length > 1) t.strides_[a] *= step;  // step < size here, so this cannot overflow
  if (!records_grad(*this)) return t;
  auto one = [](int64_t v) { return Tensor::from_vector<int64_t>({1}, {v}); };
  return autograd::record_view(*this, std::move(t), "Slice", {one(start), one(end), one(a), one(step)});
}

Tensor Tensor::transpose(int64_t axis0, int64_t axis1) const {
  if (!defined()) raise(ErrorCode::kInvalidArgument, "transpose: tensor is undefined");
  const int64_t a = normalize_axis(axis0, rank(), "transpose");
  const int64_t b = normalize_axis(axis1, rank(), "transpose");
  Tensor t = alias();
  std::swap(t.shape_[a], t.shape_[b]);
  std::swap(t.strides_[a], t.strides_[b]);
  if (!records_grad(*this)) return t;
  std::vector<int64_t> perm(rank());
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(i);
  std::swap(perm[a], perm[b]);
  Attributes attrs;
  attrs.set("perm", perm);
  return autograd::record_view(*this, std::move(t), "Transpose", {}, std::move(attrs));
}

Tensor Tensor::permute(const Dims& perm) const {
  if (!defined()) raise(ErrorCode::kInvalidArgument, "permute: tensor is undefined");
  if (perm.size() != rank()) {
    raise(ErrorCode::kInvalidArgument, "permute: perm {} has {} entries, expected {} (the rank)",
          kiln::to_string(perm), perm.size(), rank());
  }
  Tensor t = alias();
  std::vector<bool> seen(rank(), false);
  for (size_t i = 0; i < perm.size(); ++i) {
    const int64_t a = normalize_axis(perm[i], rank(), "permute");
    if (seen[a])
      raise(ErrorCode::kInvalidArgument, "permute: perm {} repeats axis {}", kiln::to_string(perm), perm[i]);
    seen[a] = true;
    t.shape_[i] = shape_[a];
    t.strides_[i] = strides_[a];
  }
  if (!records_grad(*this)) return t;
  std::vector<int64_t> normalized;
  for (int64_t p : perm) normalized.push_back(normalize_axis(p, rank(), "permute"));
  Attributes attrs;
  attrs.set("perm", normalized);
  return autograd::record_view(*this, std::move(t), "Transpose", {}, std::move(attrs));
}

Tensor Tensor::view(const Dims& shape) const {
  if (!defined()) raise(ErrorCode::kInvalidArgument, "view: tensor is undefined");
  const int64_t n = numel();
  Dims resolved = infer_reshape(shape, n);
  std::optional<Dims> strides = view_strides(shape_, strides_, resolved, n);
  if (!strides) {
    raise(ErrorCode::kInvalidArgument,
          "view: a tensor of shape {} with strides {} cannot be viewed as {} without a copy; use reshape",
          kiln::to_string(shape_), kiln::to_string(strides_), kiln::to_string(shape));
  }
  Tensor t = alias();
  t.shape_ = std::move(resolved);
  t.strides_ = std::move(*strides);
  return record_reshape(*this, std::move(t));
}

Tensor Tensor::reshape(const Dims& shape) const {
  if (!defined()) raise(ErrorCode::kInvalidArgument, "reshape: tensor is undefined");
  const int64_t n = numel();
  Dims resolved = infer_reshape(shape, n);
  std::optional<Dims> strides = view_strides(shape_, strides_, resolved, n);
  Tensor t = strides ? alias() : clone();
  t.strides_ = strides ? std::move(*strides) : contiguous_strides(resolved);
  t.shape_ = std::move(resolved);
  return record_reshape(*this, std::move(t));
}

Tensor Tensor::expand(const Dims& shape) const {
  if (!defined()) raise(ErrorCode::kInvalidArgument, "expand: tensor is undefined");
  if (shape.size() < rank()) {
    raise(ErrorCode::kInvalidArgument, "expand: target shape {} has rank {}, less than the tensor's {} of {}",
          kiln::to_string(shape), shape.size(), rank(), kiln::to_string(shape_));
  }
  const size_t lead = shape.size() - rank();
  Tensor t = alias();
  t.shape_.assign(shape.size(), 0);
  t.strides_.assign(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t target = shape[i];
    if (i < lead) {
      if (target < 0) {
        raise(ErrorCode::kInvalidArgument, "expand: new axis {} of {} has size {}, expected >= 0", i,
              kiln::to_string(shape), target);
      }
      t.shape_[i] = target;
      continue;
    }
    const int64_t size = shape_[i - lead];
    if (target == size || target == -1) {  // -1 keeps the size
      t.shape_[i] = size;
      t.strides_[i] = strides_[i - lead];
    } else if (size == 1 && target >= 0) {
      t.shape_[i] = target;
    } else {
      raise(ErrorCode::kInvalidArgument, "expand: axis {} has size {}, which cannot expand to {} (target {})",
            i, size, target, kiln::to_string(shape));
    }
  }
  checked_numel(t.shape_);
  if (!records_grad(*this)) return t;
  Tensor target = Tensor::from_vector<int64_t>({static_cast<int64_t>(t.rank())}, t.shape());
  return autograd::record_view(*this, std::move(t), "Expand", {std::move(target)});
}

// ---- Copies ----

Tensor Tensor::contiguous() const {
  if (!defined()) raise(ErrorCode::kInvalidArgument, "contiguous: tensor is undefined");
  return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
  if (!defined()) raise(ErrorCode::kInvalidArgument, "clone: tensor is undefined");
  const Device d = device();
  if (d.host_accessible()) {
    Tensor out = empty(shape_, dtype_, d);
    copy_strided(out.raw_data(), raw_data(), shape_, strides_, size_of(dtype_));
    if (Tracer* tracer = active_tracer()) tracer->record_copy(*this, out);
    return out;
  }
  Tensor out = to(Device::host()).to(d);
  if (Tracer* tracer = active_tracer()) tracer->record_copy(*this, out);
  return out;
}

Tensor Tensor::to(Device target) const {
  if (!defined()) raise(ErrorCode::kInvalidArgument, "to({}): tensor is undefined", target.to_string());
  const Device source = device();
  if (source == target) return contiguous();
  if (source.host_accessible() && target.host_accessible()) {
    Tensor out = empty(shape_, dtype_, target);
    copy_strided(out.raw_data(), raw_data(), shape_, strides_, size_of(dtype_));
    return out;
  }
  // Through the host: bring the bytes the view spans over, rearrange there, send them on.
  Tensor host;
  if (source.host_accessible()) {
    host = contiguous();
  } else {
    const size_t es = size_of(dtype_);
    const int64_t extent = view_extent(shape_, strides_, offset_);
    const int64_t first = extent > 0 ? offset_ : 0;
    const auto span_bytes = static_cast<size_t>(extent - first) * es;
    auto staging = Storage::allocate(Device::host(), span_bytes);
    read_storage(*storage_, static_cast<size_t>(first) * es, staging->data(), span_bytes);
    host = view_of(std::move(staging), dtype_, shape_, strides_, offset_ - first).contiguous();
  }
  if (target.host_accessible()) {
    if (target.is_host() && host.device().is_host()) return host;
    Tensor out = empty(shape_, dtype_, target);
    std::memcpy(out.raw_data(), host.raw_data(), host.nbytes());
    return out;
  }
  Tensor out = empty(shape_, dtype_, target);
  write_storage(*out.storage_, 0, host.raw_data(), host.nbytes());
  return out;
}

void Tensor::copy_from(const Tensor& src) {
  if (!defined() || !src.defined()) raise(ErrorCode::kInvalidArgument, "copy_from: tensor is undefined");
  if (src.shape_ != shape_ || src.dtype_ != dtype_) {
    raise(ErrorCode::kInvalidArgument, "copy_from: source {} {} does not match destination {} {}",
          kiln::to_string(src.dtype_), kiln::to_string(src.shape_), kiln::to_string(dtype_), kiln::to_string(shape_));
  }
  if (!is_contiguous()) raise(ErrorCode::kInvalidArgument, "copy_from: destination must be contiguous");
  if (device().host_accessible()) {
    const Tensor host = src.device().host_accessible() ? src : src.to(Device::host());
    copy_strided(raw_data(), host.raw_data(), host.shape_, host.strides_, size_of(dtype_));
    return;
  }
  const Tensor host = src.to(Device::host());
  write_storage(*storage_, static_cast<size_t>(offset_) * size_of(dtype_), host.raw_data(), host.nbytes());
}

Tensor Tensor::alias() const {
  Tensor t = *this;
  t.autograd_.reset();
  return t;
}

std::string Tensor::to_string() const {
  if (!defined()) return "Tensor[undefined]";
  std::string out = fmt::format("Tensor[{}, {}, {}]", kiln::to_string(dtype_), kiln::to_string(shape_),
                                device().to_string());
  const int64_t n = numel();
  if (n == 0) return out + " {}";
  const size_t es = size_of(dtype_);
  std::string values;
  Dims index(rank(), 0);
  const int64_t shown = std::min(n, kPrintedValues);
  try {
    for (int64_t k = 0; k < shown; ++k) {
      int64_t element = offset_;
      for (size_t i = 0; i < rank(); ++i) element += index[i] * strides_[i];
      alignas(8) unsigned char bytes[8];
      read_storage(*storage_, static_cast<size_t>(element) * es, bytes, es);
      if (k > 0) values += ", ";
      values += format_element(bytes, dtype_);
      for (size_t i = rank(); i-- > 0;) {  // row-major odometer
        if (++index[i] < shape_[i]) break;
        index[i] = 0;
      }
    }
  } catch (const Error& e) {
    return fmt::format("{} {{<unreadable: {}>}}", out, e.what());
  }
  return fmt::format("{} {{{}{}}}", out, values, n > shown ? ", ..." : "");
}

// ---- Free functions ----

Dims infer_reshape(const Dims& shape, int64_t numel) {
  int64_t known = 1;
  std::optional<size_t> wildcard;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (wildcard) {
        raise(ErrorCode::kInvalidArgument, "reshape to {}: only one dim may be -1 (axes {} and {} are)",
              kiln::to_string(shape), *wildcard, i);
      }
      wildcard = i;
    } else if (shape[i] < 0) {
      raise(ErrorCode::kInvalidArgument, "reshape to {}: dim {} is {}, expected >= 0 or -1",
            kiln::to_string(shape), i, shape[i]);
    } else if (__builtin_mul_overflow(known, shape[i], &known)) {
      raise(ErrorCode::kInvalidArgument, "reshape to {}: element count overflows int64",
            kiln::to_string(shape));
    }
  }
  Dims out = shape;
  if (wildcard) {
    if (known == 0 || numel % known != 0) {
      raise(ErrorCode::kInvalidArgument,
            "cannot reshape {} elements to {}: the -1 at axis {} has no whole size", numel,
            kiln::to_string(shape), *wildcard);
    }
    out[*wildcard] = numel / known;
  } else if (known != numel) {
    raise(ErrorCode::kInvalidArgument, "cannot reshape {} elements to {} ({} elements)", numel,
          kiln::to_string(shape), known);
  }
  return out;
}

#define KILN_INSTANTIATE_TENSOR(T)                                            \
  template Tensor Tensor::from_vector<T>(const Dims&, const std::vector<T>&); \
  template T* Tensor::data<T>() const;                                        \
  template std::vector<T> Tensor::to_vector<T>() const;                       \
  template T Tensor::item<T>() const;

KILN_INSTANTIATE_TENSOR(float)
KILN_INSTANTIATE_TENSOR(double)
KILN_INSTANTIATE_TENSOR(int64_t)
KILN_INSTANTIATE_TENSOR(int32_t)
KILN_INSTANTIATE_TENSOR(int8_t)
KILN_INSTANTIATE_TENSOR(uint8_t)
KILN_INSTANTIATE_TENSOR(bool)

#undef KILN_INSTANTIATE_TENSOR

}  // namespace kiln
