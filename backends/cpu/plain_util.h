#pragma once
// Shared helpers of the plain C++ kernels (shape, movement, generator, logic): dtype checks,
// axis normalization, run-time argument checks and OpenMP work splitting.

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernel.h"
#include "serial_scope.h"

namespace kiln::cpu::plain {

/// Every dtype of the ABI: data movement works on any of them by element size.
inline const std::vector<int32_t>& all_dtypes() {
  static const std::vector<int32_t> kAll = {KILN_DTYPE_F32, KILN_DTYPE_F64, KILN_DTYPE_F16,
                                            KILN_DTYPE_BF16, KILN_DTYPE_I64, KILN_DTYPE_I32,
                                            KILN_DTYPE_I8,   KILN_DTYPE_U8,  KILN_DTYPE_BOOL};
  return kAll;
}

inline bool is_index_dtype(int32_t dtype) { return dtype == KILN_DTYPE_I64 || dtype == KILN_DTYPE_I32; }

/// "node 'n' (Op): " — kept by kernels, which outlive the NodeView, for run-time errors.
inline std::string node_prefix(const NodeView& v) {
  return "node '" + std::string(v.name()) + "' (" + std::string(v.op_type()) + "): ";
}

/// Row-major element strides of contiguous dims.
inline Dims strides_of(const Dims& dims) {
  Dims s(dims.size(), 1);
  for (size_t d = dims.size(); d-- > 1;) s[d - 1] = s[d] * dims[d];
  return s;
}

inline std::string dims_str(const Dims& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(dims[i]);
  }
  s += ']';
  return s;
}

/// Normalizes axis into [0, rank) (or [0, rank] when `inclusive`); fails naming `what`.
inline int64_t normalize_axis(const NodeView& v, int64_t axis, int64_t rank, const char* what = "axis",
                              bool inclusive = false) {
  int64_t limit = inclusive ? rank + 1 : rank;
  int64_t a = axis < 0 ? axis + limit : axis;
  if (a < 0 || a >= limit)
    fail(v, std::string(what) + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return a;
}

/// Fails unless the input and output at the given indices hold the same number of elements.
inline void check_same_numel(const NodeView& v, size_t in, size_t out) {
  if (numel(v.input_shape(in)) != numel(v.output_shape(out)))
    fail(v, "input shape " + dims_str(v.input_shape(in)) + " and output shape " + dims_str(v.output_shape(out)) +
                " hold different numbers of elements");
}

inline void check_same_dtype(const NodeView& v, size_t in, size_t out) {
  if (v.input_dtype(in) != v.output_dtype(out))
    fail(v, std::string("output dtype ") + dtype_name(v.output_dtype(out)) + " differs from input dtype " +
                dtype_name(v.input_dtype(in)));
}

/// Run-time guard: the runtime must pass at least the tensors the kernel was prepared for.
inline void check_arity(const std::string& prefix, size_t n_in, size_t need_in, size_t n_out, size_t need_out) {
  if (n_in < need_in || n_out < need_out)
    throw KernelError(KILN_ERR_INTERNAL, prefix + "run got " + std::to_string(n_in) + " inputs and " +
                                             std::to_string(n_out) + " outputs, expected " +
                                             std::to_string(need_in) + " and " + std::to_string(need_out));
}

/// Below this many bytes of work, threads cost more than they save (serial_scope.h).
inline constexpr int64_t kParallelBytes = static_cast<int64_t>(kParallelMinBytes);

/// Calls fn(begin, end) on disjoint parts of [0, n), in parallel when work_bytes is large.
/// fn must not throw: exceptions cannot leave an OpenMP region.
template <class F>
void parallel_range(int64_t n, int64_t work_bytes, F&& fn) {
  if (n <= 0) return;
  int64_t threads = work_bytes >= kParallelBytes ? std::min<int64_t>(omp_get_max_threads(), n) : 1;
  if (threads <= 1) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(threads))
  {
    int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t begin = n * t / nt, end = n * (t + 1) / nt;
    if (begin < end) fn(begin, end);
  }
}

/// memcpy that splits large copies across threads; tolerates size 0 and equal pointers.
inline void copy_bytes(void* dst, const void* src, int64_t bytes) {
  if (bytes <= 0 || dst == src) return;
  constexpr int64_t kChunk = int64_t{1} << 16;
  int64_t chunks = (bytes + kChunk - 1) / kChunk;
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  parallel_range(chunks, bytes, [&](int64_t b, int64_t e) {
    int64_t lo = b * kChunk, hi = std::min(bytes, e * kChunk);
    std::memmove(d + lo, s + lo, static_cast<size_t>(hi - lo));
  });
}

template <class T>
void fill_typed(T* dst, T value, int64_t count) {
  parallel_range(count, count * static_cast<int64_t>(sizeof(T)),
                 [&](int64_t b, int64_t e) { std::fill(dst + b, dst + e, value); });
}

/// Fills `count` elements of `esize` (1, 2, 4 or 8) bytes at dst with the element at `value`.
inline void fill_elements(void* dst, const void* value, size_t esize, int64_t count) {
  if (count <= 0) return;
  auto fill = [&]<class T>(T) {
    T v;
    std::memcpy(&v, value, sizeof(T));
    fill_typed(static_cast<T*>(dst), v, count);
  };
  switch (esize) {
    case 1: fill(uint8_t{}); break;
    case 2: fill(uint16_t{}); break;
    case 4: fill(uint32_t{}); break;
    case 8: fill(uint64_t{}); break;
    default: throw KernelError(KILN_ERR_INTERNAL, "fill_elements: element size " + std::to_string(esize));
  }
}

}  // namespace kiln::cpu::plain
