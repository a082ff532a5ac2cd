#pragma once
// Running oneDNN primitives over the tensors the runtime hands a kernel.

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dnnl_context.h"
#include "serial_scope.h"

namespace kiln::cpu {

/// One primitive plus one memory object per argument, all made at prepare time. run() only
/// points the memories at this call's buffers, executes and waits. The lock keeps concurrent
/// runs of a kernel that several nodes share from racing on the memory handles.
class DnnlCall {
 public:
  DnnlCall() = default;
  DnnlCall(const DnnlCall&) = delete;
  DnnlCall& operator=(const DnnlCall&) = delete;

  void set_primitive(dnnl::primitive p) { primitive_ = std::move(p); }
  /// Declares argument `arg` (DNNL_ARG_SRC...); run() takes the buffers in declaration order.
  void bind(int arg, const dnnl::memory::desc& md) {
    args_[arg] = dnnl::memory(md, engine(), DNNL_MEMORY_NONE);
    order_.push_back(arg);
    bytes_ += md.get_size();
  }
  /// Argument with a fixed, kernel-owned buffer (e.g. a constant made at prepare time).
  void bind_owned(int arg, const dnnl::memory& mem) {
    args_[arg] = mem;
    bytes_ += mem.get_desc().get_size();
  }

  void run(std::initializer_list<const void*> buffers) const {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t i = 0;
    for (const void* b : buffers) args_.at(order_.at(i++)).set_data_handle(const_cast<void*>(b));
    SerialScope serial(bytes_ < kParallelMinBytes);  // see serial_scope.h
    primitive_.execute(stream(), args_);
    stream().wait();
  }

 private:
  dnnl::primitive primitive_;
  mutable std::unordered_map<int, dnnl::memory> args_;
  std::vector<int> order_;
  size_t bytes_ = 0;  // all arguments: a measure of the call's work
  mutable std::mutex mutex_;
};

/// A per-thread scratch buffer (slot 0..3) of at least `bytes`, 64-byte aligned, for data a
/// kernel stages between primitives. Valid until the next call with the same slot on this
/// thread; run() finishes its primitives before returning, so kernels can share the slots.
inline void* scratch(size_t slot, size_t bytes) {
  struct Slot {
    void* data = nullptr;
    size_t size = 0;
    ~Slot() { std::free(data); }
  };
  thread_local Slot slots[4];
  Slot& s = slots[slot];
  if (s.size < bytes) {
    std::free(s.data);
    s.size = 0;
    size_t rounded = (bytes + 63) / 64 * 64;
    s.data = std::aligned_alloc(64, rounded);
    if (!s.data) throw std::bad_alloc();
    s.size = rounded;
  }
  return s.data;
}

/// Memory descriptor with explicit dims and strides (a 0-d shape becomes {1}).
inline dnnl::memory::desc strided_desc(const Dims& dims, const Dims& strides, int32_t dtype) {
  if (dims.empty()) return dnnl::memory::desc({1}, dnnl_type(dtype), dnnl::memory::dims{1});
  return dnnl::memory::desc(dnnl::memory::dims(dims.begin(), dims.end()), dnnl_type(dtype),
                            dnnl::memory::dims(strides.begin(), strides.end()));
}

/// [N, spatial..., C] -> [N, C, spatial...]: the logical dims of a channels-last tensor
/// (kiln.FusedConv with channels_last, the kiln.*PoolChannelsLast ops).
inline Dims channels_first(Dims d) {
  if (d.size() >= 2) std::rotate(d.begin() + 1, d.end() - 1, d.end());
  return d;
}

/// A descriptor of logical [N, C, spatial...] dims stored channels-last.
inline dnnl::memory::desc channels_last_desc(const Dims& dims) {
  Dims strides(dims.size());
  strides[1] = 1;
  int64_t stride = dims[1];
  for (size_t d = dims.size(); d-- > 2;) {
    strides[d] = stride;
    stride *= dims[d];
  }
  strides[0] = stride;
  return strided_desc(dims, strides, KILN_DTYPE_F32);
}

/// "node 'n' (Op)": the prefix of run-time error messages, kept by kernels that can fail.
inline std::string node_label(const NodeView& v) {
  return "node '" + std::string(v.name()) + "' (" + std::string(v.op_type()) + ")";
}

/// Resolves a possibly negative axis against rank; throws naming the node when out of range.
inline int64_t normalize_axis(const NodeView& v, int64_t axis, int64_t rank) {
  int64_t r = std::max<int64_t>(rank, 1);  // a rank-0 tensor acts as rank 1 here
  if (axis < -r || axis >= r)
    fail(v, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + r : axis;
}

}  // namespace kiln::cpu
