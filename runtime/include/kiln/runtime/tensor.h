#pragma once
// Tensor: a strided view, with an offset, over ref-counted storage owned by one device.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kiln/runtime/dtype.h"
#include "kiln/runtime/error.h"
#include "kiln/runtime/shape.h"

namespace kiln {

class Backend;
struct AutogradMeta;

/// Where memory lives: the host, or one device of a backend plugin.
struct Device {
  Backend* backend = nullptr;  // nullptr: host memory owned by the runtime
  int32_t index = 0;

  static Device host() { return {}; }
  bool is_host() const { return backend == nullptr; }
  /// True when the host may read and write this device's pointers directly.
  bool host_accessible() const;
  std::string to_string() const;  // "host", "cpu:0"
  friend bool operator==(const Device& a, const Device& b) = default;
};

/// A block of memory on one device, freed when the last reference goes.
class Storage {
 public:
  /// Allocates bytes on device. Throws Error(kOutOfMemory) or Error(kBackend) on failure.
  static std::shared_ptr<Storage> allocate(Device device, size_t bytes);
  /// Wraps host memory that the caller owns; deleter (may be empty) runs on release.
  static std::shared_ptr<Storage> wrap(void* data, size_t bytes, std::function<void(void*)> deleter);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  Storage() = default;
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  std::function<void(void*)> deleter_;
};

class Tensor {
 public:
  Tensor() = default;  // undefined; defined() is false

  /// Uninitialized contiguous tensor. Throws on a negative dim, overflow or allocation failure.
  static Tensor empty(const Dims& shape, DType dtype, Device device = Device::host());
  static Tensor zeros(const Dims& shape, DType dtype, Device device = Device::host());
  /// A host tensor holding a copy of values. Throws Error(kInvalidArgument) when the element
  /// count differs from the shape's.
  template <class T>
  static Tensor from_vector(const Dims& shape, const std::vector<T>& values);
  template <class T>
  static Tensor scalar(T value) { return from_vector<T>({}, {value}); }
  /// A view over existing storage. Throws Error(kInvalidArgument) when it would read out of bounds.
  static Tensor view_of(std::shared_ptr<Storage> storage, DType dtype, const Dims& shape,
                        const Dims& strides, int64_t offset);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Dims& shape() const { return shape_; }
  const Dims& strides() const { return strides_; }
  int64_t offset() const { return offset_; }  // in elements
  size_t rank() const { return shape_.size(); }
  int64_t dim(int64_t axis) const;            // negative axes count from the end
  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * size_of(dtype_); }
  Device device() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  bool is_contiguous() const;

  /// Device pointer to the first element.
  void* raw_data() const;
  /// Host pointer to the first element. Throws Error(kInvalidArgument) when T does not match
  /// the dtype or the memory is not host accessible.
  template <class T>
  T* data() const;
  /// Elements in row-major order, copied to the host. Throws like data<T>().
  template <class T>
  std::vector<T> to_vector() const;
  /// The one element of a tensor with numel 1, converted to T.
  template <class T>
  T item() const;

  // Views: share storage. Each throws Error(kInvalidArgument) naming the bad axis or size.
  Tensor slice(int64_t axis, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor transpose(int64_t axis0, int64_t axis1) const;
  Tensor permute(const Dims& perm) const;
  /// A view with the new shape (one dim may be -1); throws when the strides do not allow it.
  Tensor view(const Dims& shape) const;
  /// view() when possible, else a contiguous copy.
  Tensor reshape(const Dims& shape) const;
  /// Broadcasts size-1 dims (and new leading dims) to shape with stride 0.
  Tensor expand(const Dims& shape) const;

  /// This tensor when contiguous, else a contiguous copy on the same device.
  Tensor contiguous() const;
  /// A contiguous copy on the same device.
  Tensor clone() const;
  /// A contiguous copy on device (or this tensor, when already there and contiguous).
  Tensor to(Device device) const;
  /// "Tensor[f32, [2,3], host]" plus up to a few values.
  std::string to_string() const;
  /// Copies src's elements (any device, any strides) into this tensor's memory, in place.
  /// Throws Error(kInvalidArgument) when the shapes or dtypes differ or this is not contiguous.
  void copy_from(const Tensor& src);

  // ---- Autograd (kiln/runtime/autograd.h). Copies of a handle share this state. ----
  bool requires_grad() const;
  /// Marks a leaf as needing gradients. Throws Error(kInvalidArgument) for a non-floating
  /// dtype or a tensor produced by a recorded op (not a leaf).
  Tensor& set_requires_grad(bool requires_grad = true);
  /// True for tensors not produced by a recorded op.
  bool is_leaf() const;
  /// The accumulated gradient; undefined before the first backward or after reset.
  Tensor grad() const;
  void set_grad(Tensor grad);
  /// Name of the op that produced this tensor on the tape ("MatMul"); empty for a leaf.
  std::string grad_fn_name() const;
  /// Backpropagates from this tensor (autograd::backward); an undefined gradient means ones
  /// (for a one-element tensor).
  void backward() const;
  void backward(const Tensor& gradient, bool retain_graph = false) const;
  /// The same storage and view without autograd history.
  Tensor detach() const;
  /// Internal: the shared autograd state (null until needed).
  const std::shared_ptr<AutogradMeta>& autograd_meta() const { return autograd_; }
  void set_autograd_meta(std::shared_ptr<AutogradMeta> meta) { autograd_ = std::move(meta); }

 private:
  // A copy of this handle's view without autograd state: the start of every view method.
  Tensor alias() const;
  std::shared_ptr<AutogradMeta> autograd_;
  std::shared_ptr<Storage> storage_;
  DType dtype_ = DType::kUndefined;
  Dims shape_;
  Dims strides_;
  int64_t offset_ = 0;
};

/// Resolves one -1 in shape against numel; throws Error(kInvalidArgument) when impossible.
Dims infer_reshape(const Dims& shape, int64_t numel);

}  // namespace kiln
