// Data-movement kernels: Transpose, Slice, Expand, Tile and Pad as table-driven copies
// (plain_index.h); Concat, Split and Gather as row copies. All work on any dtype by size.

#include <algorithm>
#include <array>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "kernel.h"
#include "kernel_families.h"
#include "plain_broadcast.h"
#include "plain_convert.h"
#include "plain_index.h"
#include "plain_util.h"

namespace kiln::cpu {
namespace {

using plain::dims_str;
using plain::MappedCopy;
using plain::strided_map;
using Maps = std::vector<std::vector<int64_t>>;

// Input 0 -> output 0 through a MappedCopy; the fill element comes from input `fill_input`
// at run time when present, else from `fill_`.
class MappedKernel : public Kernel {
 public:
  MappedKernel(std::string prefix, MappedCopy copy, size_t n_in, std::array<unsigned char, 8> fill = {},
               int fill_input = -1)
      : prefix_(std::move(prefix)), copy_(std::move(copy)), n_in_(n_in), fill_(fill), fill_input_(fill_input) {}

  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, n_in_, n_out, 1);
    const void* fill = fill_.data();
    if (fill_input_ >= 0 && static_cast<size_t>(fill_input_) < n_in) {
      const kiln_tensor& f = in[fill_input_];
      if (f.data && f.dtype != KILN_DTYPE_UNDEFINED && numel(shape_of(f)) > 0) fill = f.data;
    }
    copy_.run(in[0].data, out[0].data, fill);
  }

 private:
  std::string prefix_;
  MappedCopy copy_;
  size_t n_in_;
  std::array<unsigned char, 8> fill_;
  int fill_input_;
};

std::unique_ptr<Kernel> mapped(const NodeView& v, const Dims& out, const Maps& maps,
                               std::array<unsigned char, 8> fill = {}, int fill_input = -1) {
  if (out != v.output_shape(0))
    fail(v, "output shape " + dims_str(v.output_shape(0)) + " should be " + dims_str(out));
  plain::check_same_dtype(v, 0, 0);
  return std::make_unique<MappedKernel>(plain::node_prefix(v), MappedCopy(dtype_size(v.input_dtype(0)), out, maps),
                                        size_t{1}, fill, fill_input);
}

// Data inputs of any dtype; the inputs listed in `index_inputs` must be i32 or i64.
SupportsFn supports_with_indices(std::vector<size_t> index_inputs) {
  return [index_inputs](const NodeView& v) -> std::string {
    std::string why = dtypes_in(plain::all_dtypes())(v);
    if (!why.empty()) return why;
    if (!v.has_input(0) || v.num_outputs() < 1) return "expects a data input and an output";
    for (size_t i : index_inputs)
      if (v.has_input(i) && !plain::is_index_dtype(v.input_dtype(i)))
        return "input " + std::to_string(i) + " must be i32 or i64, not " + dtype_name(v.input_dtype(i));
    return "";
  };
}

// ---- Transpose ----

std::unique_ptr<Kernel> prepare_transpose(const NodeView& v) {
  Dims in = v.input_shape(0);
  const size_t rank = in.size();
  Dims reversed(rank);
  for (size_t d = 0; d < rank; ++d) reversed[d] = static_cast<int64_t>(rank - 1 - d);
  Dims perm = v.attr_ints("perm", reversed);
  if (perm.size() != rank) fail(v, "perm " + dims_str(perm) + " does not have rank " + std::to_string(rank) + " entries");
  std::vector<bool> seen(rank, false);
  for (int64_t& p : perm) {
    p = plain::normalize_axis(v, p, static_cast<int64_t>(rank), "perm entry");
    if (seen[p]) fail(v, "perm " + dims_str(v.attr_ints("perm", {})) + " is not a permutation");
    seen[p] = true;
  }
  Dims strides = plain::strides_of(in), out(rank);
  Maps maps(rank);
  for (size_t d = 0; d < rank; ++d) {
    out[d] = in[perm[d]];
    maps[d] = strided_map(out[d], 0, 1, strides[perm[d]]);
  }
  return mapped(v, out, maps);
}

// ---- Slice ----

std::unique_ptr<Kernel> prepare_slice(const NodeView& v) {
  Dims in = v.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  Dims starts, ends, axes, steps;
  if (v.opset() < 10) {
    starts = v.attr_ints("starts", {});
    ends = v.attr_ints("ends", {});
    axes = v.attr_ints("axes", {});
  } else {
    starts = v.input_ints(1);
    ends = v.input_ints(2);
    if (v.has_input(3)) axes = v.input_ints(3);
    if (v.has_input(4)) steps = v.input_ints(4);
  }
  if (axes.empty() && !(v.opset() >= 10 && v.has_input(3))) {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (steps.empty() && !(v.opset() >= 10 && v.has_input(4))) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    fail(v, "starts, ends, axes and steps have different lengths (" + std::to_string(starts.size()) + ", " +
                std::to_string(ends.size()) + ", " + std::to_string(axes.size()) + ", " + std::to_string(steps.size()) +
                ")");

  Dims first(rank, 0), step(rank, 1), out = in;
  std::vector<bool> seen(rank, false);
  for (size_t k = 0; k < starts.size(); ++k) {
    int64_t a = plain::normalize_axis(v, axes[k], rank, "axis");
    if (seen[a]) fail(v, "axis " + std::to_string(axes[k]) + " appears twice");
    seen[a] = true;
    int64_t dim = in[a], s = starts[k], e = ends[k], st = steps[k];
    if (st == 0) fail(v, "step on axis " + std::to_string(axes[k]) + " is 0");
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (dim == 0) {
      s = 0;
      out[a] = 0;
    } else if (st > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      out[a] = e > s ? (e - s + st - 1) / st : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      out[a] = s > e ? (s - e - st - 1) / -st : 0;
    }
    first[a] = s;
    step[a] = st;
  }
  Dims strides = plain::strides_of(in);
  Maps maps(rank);
  for (int64_t d = 0; d < rank; ++d) maps[d] = strided_map(out[d], first[d], step[d], strides[d]);
  return mapped(v, out, maps);
}

// ---- Expand ----

std::unique_ptr<Kernel> prepare_expand(const NodeView& v) {
  Dims in = v.input_shape(0), out = v.output_shape(0);
  if (!plain::broadcasts_to(in, out))
    fail(v, "input shape " + dims_str(in) + " does not broadcast to output shape " + dims_str(out));
  Dims strides = plain::strides_of(in);
  size_t shift = out.size() - in.size();
  Maps maps(out.size());
  for (size_t d = 0; d < out.size(); ++d) {
    bool broadcast = d < shift || in[d - shift] == 1;
    maps[d] = strided_map(out[d], 0, 1, broadcast ? 0 : strides[d - shift]);
  }
  return mapped(v, out, maps);
}

// ---- Tile ----

std::unique_ptr<Kernel> prepare_tile(const NodeView& v) {
  Dims in = v.input_shape(0), repeats = v.input_ints(1);
  if (repeats.size() != in.size())
    fail(v, "repeats " + dims_str(repeats) + " does not have one entry per axis of " + dims_str(in));
  Dims strides = plain::strides_of(in), out(in.size());
  Maps maps(in.size());
  for (size_t d = 0; d < in.size(); ++d) {
    if (repeats[d] < 0) fail(v, "repeats " + dims_str(repeats) + " has a negative entry");
    out[d] = in[d] * repeats[d];
    maps[d].resize(static_cast<size_t>(out[d]));
    for (int64_t o = 0; o < out[d]; ++o) maps[d][o] = (o % in[d]) * strides[d];
  }
  return mapped(v, out, maps);
}

// ---- Pad ----

std::string supports_pad(const NodeView& v) {
  std::string why = supports_with_indices({1, 3})(v);
  if (!why.empty()) return why;
  std::string mode = v.attr_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") return "mode '" + mode + "' not supported";
  if (v.has_input(2) && v.input_dtype(2) != v.input_dtype(0)) return "constant_value dtype differs from data dtype";
  return "";
}

// Reflection without repeating the edge, folded as often as the pad needs (numpy's 'reflect').
int64_t reflect_index(int64_t i, int64_t n) {
  if (n == 1) return 0;
  int64_t period = 2 * (n - 1), j = ((i % period) + period) % period;
  return j >= n ? period - j : j;
}

std::unique_ptr<Kernel> prepare_pad(const NodeView& v) {
  Dims in = v.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  std::string mode = v.attr_string("mode", "constant");
  Dims pads = v.opset() < 11 ? v.attr_ints("pads", {}) : v.input_ints(1);
  Dims axes(rank);
  std::iota(axes.begin(), axes.end(), 0);
  if (v.opset() >= 18 && v.has_input(3)) {
    axes = v.input_ints(3);
    for (int64_t& a : axes) a = plain::normalize_axis(v, a, rank, "axis");
  }
  if (pads.size() != 2 * axes.size())
    fail(v, "pads " + dims_str(pads) + " should have " + std::to_string(2 * axes.size()) + " entries");
  Dims before(rank, 0), after(rank, 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    before[axes[k]] = pads[k];
    after[axes[k]] = pads[k + axes.size()];
  }

  Dims strides = plain::strides_of(in), out(rank);
  Maps maps(rank);
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t n = in[d];
    out[d] = n + before[d] + after[d];
    if (out[d] < 0) fail(v, "pads " + dims_str(pads) + " crop more than axis " + std::to_string(d) + " holds");
    if (mode != "constant" && n == 0 && out[d] > 0)
      fail(v, "cannot " + mode + "-pad axis " + std::to_string(d) + " of size 0");
    maps[d].resize(static_cast<size_t>(out[d]));
    for (int64_t o = 0; o < out[d]; ++o) {
      int64_t i = o - before[d];
      if (i < 0 || i >= n) {
        if (mode == "constant") {
          maps[d][o] = MappedCopy::kOutside;
          continue;
        }
        i = mode == "edge" ? std::clamp<int64_t>(i, 0, n - 1) : reflect_index(i, n);
      }
      maps[d][o] = i * strides[d];
    }
  }
  std::array<unsigned char, 8> fill{};
  int fill_input = -1;
  if (v.opset() < 11) plain::store_as(v.input_dtype(0), v.attr_float("value", 0.0f), fill.data());
  else if (v.has_input(2)) fill_input = 2;
  return mapped(v, out, maps, fill, fill_input);
}

// ---- Concat and Split: copies of whole rows below the axis ----

class ConcatKernel : public Kernel {
 public:
  ConcatKernel(std::string prefix, int64_t outer, std::vector<int64_t> row_bytes)
      : prefix_(std::move(prefix)), outer_(outer), row_bytes_(std::move(row_bytes)) {
    for (int64_t b : row_bytes_) {
      offsets_.push_back(out_row_);
      out_row_ += b;
    }
  }
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, row_bytes_.size(), n_out, 1);
    auto* dst = static_cast<char*>(out[0].data);
    const int64_t parts = static_cast<int64_t>(row_bytes_.size());
    plain::parallel_range(outer_ * parts, outer_ * out_row_, [&](int64_t b, int64_t e) {
      for (int64_t item = b; item < e; ++item) {
        int64_t o = item / parts, k = item % parts;
        if (row_bytes_[k] == 0) continue;
        std::memcpy(dst + o * out_row_ + offsets_[k], static_cast<const char*>(in[k].data) + o * row_bytes_[k],
                    static_cast<size_t>(row_bytes_[k]));
      }
    });
  }

 private:
  std::string prefix_;
  int64_t outer_, out_row_ = 0;
  std::vector<int64_t> row_bytes_, offsets_;  // bytes of each input per output row, and where they go
};

// Concat and Split share the check that the "parts" equal the "whole" except along the axis.
void check_parts(const NodeView& v, const Dims& whole, const std::vector<Dims>& parts, int64_t axis,
                 const char* what) {
  int64_t sum = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    bool ok = parts[k].size() == whole.size();
    for (size_t d = 0; ok && d < whole.size(); ++d) ok = static_cast<int64_t>(d) == axis || parts[k][d] == whole[d];
    if (!ok) fail(v, std::string(what) + " " + std::to_string(k) + " has shape " + dims_str(parts[k]) +
                         ", which does not fit " + dims_str(whole) + " on axis " + std::to_string(axis));
    sum += parts[k][axis];
  }
  if (sum != whole[axis])
    fail(v, std::string(what) + " sizes along axis " + std::to_string(axis) + " add up to " + std::to_string(sum) +
                ", not " + std::to_string(whole[axis]));
}

std::string supports_concat(const NodeView& v) {
  std::string why = dtypes_in(plain::all_dtypes())(v);
  if (!why.empty()) return why;
  if (v.num_inputs() == 0 || v.num_outputs() != 1) return "expects inputs and one output";
  for (size_t i = 0; i < v.num_inputs(); ++i)
    if (!v.has_input(i)) return "input " + std::to_string(i) + " is missing";
  return "";
}

std::unique_ptr<Kernel> prepare_concat(const NodeView& v) {
  Dims out = v.output_shape(0);
  if (out.empty()) fail(v, "cannot concatenate rank-0 tensors");
  int64_t axis = plain::normalize_axis(v, v.attr_int("axis", 0), static_cast<int64_t>(out.size()));
  std::vector<Dims> ins;
  for (size_t i = 0; i < v.num_inputs(); ++i) {
    plain::check_same_dtype(v, i, 0);
    ins.push_back(v.input_shape(i));
  }
  check_parts(v, out, ins, axis, "input");
  int64_t outer = numel(Dims(out.begin(), out.begin() + axis));
  int64_t inner = numel(Dims(out.begin() + axis + 1, out.end())) * static_cast<int64_t>(dtype_size(v.output_dtype(0)));
  std::vector<int64_t> row_bytes;
  for (const Dims& s : ins) row_bytes.push_back(s[axis] * inner);
  return std::make_unique<ConcatKernel>(plain::node_prefix(v), outer, std::move(row_bytes));
}

class SplitKernel : public Kernel {
 public:
  SplitKernel(std::string prefix, size_t n_in, int64_t outer, std::vector<int64_t> row_bytes)
      : prefix_(std::move(prefix)), n_in_(n_in), outer_(outer), row_bytes_(std::move(row_bytes)) {
    for (int64_t b : row_bytes_) {
      offsets_.push_back(in_row_);
      in_row_ += b;
    }
  }
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, n_in_, n_out, row_bytes_.size());
    const auto* src = static_cast<const char*>(in[0].data);
    const int64_t parts = static_cast<int64_t>(row_bytes_.size());
    plain::parallel_range(outer_ * parts, outer_ * in_row_, [&](int64_t b, int64_t e) {
      for (int64_t item = b; item < e; ++item) {
        int64_t o = item / parts, k = item % parts;
        if (row_bytes_[k] == 0) continue;
        std::memcpy(static_cast<char*>(out[k].data) + o * row_bytes_[k], src + o * in_row_ + offsets_[k],
                    static_cast<size_t>(row_bytes_[k]));
      }
    });
  }

 private:
  std::string prefix_;
  size_t n_in_;
  int64_t outer_, in_row_ = 0;
  std::vector<int64_t> row_bytes_, offsets_;  // bytes of each output per input row, and where they start
};

// The runtime inferred each output's size from `split` (attribute or input), num_outputs or
// an equal split; the kernel only checks that the outputs tile the input.
std::unique_ptr<Kernel> prepare_split(const NodeView& v) {
  Dims in = v.input_shape(0);
  if (in.empty()) fail(v, "cannot split a rank-0 tensor");
  int64_t axis = plain::normalize_axis(v, v.attr_int("axis", 0), static_cast<int64_t>(in.size()));
  std::vector<Dims> outs;
  for (size_t k = 0; k < v.num_outputs(); ++k) {
    plain::check_same_dtype(v, 0, k);
    outs.push_back(v.output_shape(k));
  }
  check_parts(v, in, outs, axis, "output");
  if (v.opset() >= 13 && v.input_value(1)) {
    Dims split = v.input_ints(1);
    for (size_t k = 0; k < outs.size() && split.size() == outs.size(); ++k)
      if (split[k] != outs[k][axis]) fail(v, "output shapes do not follow split " + dims_str(split));
  }
  int64_t outer = numel(Dims(in.begin(), in.begin() + axis));
  int64_t inner = numel(Dims(in.begin() + axis + 1, in.end())) * static_cast<int64_t>(dtype_size(v.input_dtype(0)));
  std::vector<int64_t> row_bytes;
  for (const Dims& s : outs) row_bytes.push_back(s[axis] * inner);
  return std::make_unique<SplitKernel>(plain::node_prefix(v), v.num_inputs(), outer, std::move(row_bytes));
}

// ---- Gather ----

class GatherKernel : public Kernel {
 public:
  GatherKernel(std::string prefix, int64_t axis, int64_t outer, int64_t dim, int64_t inner_bytes, int64_t count,
               int32_t index_dtype)
      : prefix_(std::move(prefix)), axis_(axis), outer_(outer), dim_(dim), inner_bytes_(inner_bytes), count_(count),
        index_dtype_(index_dtype) {}

  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 2, n_out, 1);
    // Indices are checked before any copy: the threads below must not throw or read out of bounds.
    std::vector<int64_t> rows(static_cast<size_t>(count_));
    for (int64_t n = 0; n < count_; ++n) {
      int64_t i = index_dtype_ == KILN_DTYPE_I64 ? static_cast<const int64_t*>(in[1].data)[n]
                                                 : static_cast<const int32_t*>(in[1].data)[n];
      if (i < -dim_ || i >= dim_)
        throw KernelError(KILN_ERR_INVALID_ARGUMENT, prefix_ + "index " + std::to_string(i) + " is out of range for axis " +
                                                         std::to_string(axis_) + " of size " + std::to_string(dim_));
      rows[n] = i < 0 ? i + dim_ : i;
    }
    if (inner_bytes_ == 0 || outer_ == 0) return;
    const auto* src = static_cast<const char*>(in[0].data);
    auto* dst = static_cast<char*>(out[0].data);
    plain::parallel_range(outer_ * count_, outer_ * count_ * inner_bytes_, [&](int64_t b, int64_t e) {
      for (int64_t item = b; item < e; ++item) {
        int64_t o = item / count_, n = item % count_;
        std::memcpy(dst + item * inner_bytes_, src + (o * dim_ + rows[n]) * inner_bytes_,
                    static_cast<size_t>(inner_bytes_));
      }
    });
  }

 private:
  std::string prefix_;
  int64_t axis_, outer_, dim_, inner_bytes_, count_;
  int32_t index_dtype_;
};

std::string supports_gather(const NodeView& v) {
  std::string why = supports_with_indices({1})(v);
  if (!why.empty()) return why;
  if (!v.has_input(1)) return "indices input is missing";
  return "";
}

std::unique_ptr<Kernel> prepare_gather(const NodeView& v) {
  Dims data = v.input_shape(0), indices = v.input_shape(1);
  if (data.empty()) fail(v, "cannot gather from a rank-0 tensor");
  int64_t axis = plain::normalize_axis(v, v.attr_int("axis", 0), static_cast<int64_t>(data.size()));
  Dims out(data.begin(), data.begin() + axis);
  out.insert(out.end(), indices.begin(), indices.end());
  out.insert(out.end(), data.begin() + axis + 1, data.end());
  if (out != v.output_shape(0)) fail(v, "output shape " + dims_str(v.output_shape(0)) + " should be " + dims_str(out));
  plain::check_same_dtype(v, 0, 0);
  int64_t outer = numel(Dims(data.begin(), data.begin() + axis));
  int64_t inner = numel(Dims(data.begin() + axis + 1, data.end())) * static_cast<int64_t>(dtype_size(v.input_dtype(0)));
  return std::make_unique<GatherKernel>(plain::node_prefix(v), axis, outer, data[axis], inner, numel(indices),
                                        v.input_dtype(1));
}

}  // namespace

void register_movement_kernels(KernelTable& table) {
  table.add("Transpose", supports_with_indices({}), prepare_transpose);
  table.add("Slice", supports_with_indices({1, 2, 3, 4}), prepare_slice);
  table.add("Expand", supports_with_indices({1}), prepare_expand);
  table.add("Tile", supports_with_indices({1}), prepare_tile);
  table.add("Pad", supports_pad, prepare_pad);
  table.add("Concat", supports_concat, prepare_concat);
  table.add("Split", supports_with_indices({1}), prepare_split);
  table.add("Gather", supports_gather, prepare_gather);
}

}  // namespace kiln::cpu
