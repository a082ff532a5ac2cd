// Data-movement kernels: Transpose, Slice, Expand, Tile and Pad as table-driven copies
// (plain_index.h); Concat, Split and Gather as row copies. All work on any dtype by size.
// Also the index ops (GatherElements, GatherND, ScatterElements, ScatterND, OneHot), Trilu,
// CumSum and EyeLike.

#include <algorithm>
#include <array>
#include <cstring>
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
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap")
    return "mode '" + mode + "' not supported";
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
        if (mode == "edge") {
          i = std::clamp<int64_t>(i, 0, n - 1);
        } else if (mode == "wrap") {
          // The axis, after any cropping by negative pads, as a ring (opset 19).
          const int64_t lo = std::max<int64_t>(0, -before[d]), m = n - lo - std::max<int64_t>(0, -after[d]);
          if (m <= 0)
            fail(v, "cannot wrap-pad axis " + std::to_string(d) + ": the negative pads crop all of it");
          i = lo + (((i - lo) % m) + m) % m;
        } else {
          i = reflect_index(i, n);
        }
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

// ---- DepthToSpace, SpaceToDepth: table-driven copies ----

std::unique_ptr<Kernel> prepare_depth_space(const NodeView& v, bool to_space) {
  Dims in = v.input_shape(0);
  if (in.size() != 4) fail(v, "input shape " + dims_str(in) + " is not rank 4");
  const int64_t b = v.attr_int("blocksize", 0);
  if (b < 1) fail(v, "blocksize " + std::to_string(b) + " is not positive");
  const int64_t n = in[0], ch = in[1], h = in[2], w = in[3], hw = h * w;
  Dims strides = plain::strides_of(in);
  Maps maps(4);
  Dims out;
  if (to_space) {
    if (ch % (b * b) != 0) fail(v, "channels of " + dims_str(in) + " are not divisible by blocksize^2");
    const int64_t oc = ch / (b * b);
    const bool crd = v.opset() >= 11 && v.attr_string("mode", "DCR") == "CRD";
    out = {n, oc, h * b, w * b};
    // DCR: input channel (i*b + j)*oc + c; CRD: c*b*b + i*b + j (i along H, j along W).
    const int64_t c_step = crd ? b * b * hw : hw, i_step = crd ? b * hw : b * oc * hw, j_step = crd ? hw : oc * hw;
    maps[0] = strided_map(n, 0, 1, strides[0]);
    maps[1] = strided_map(oc, 0, 1, c_step);
    maps[2].resize(static_cast<size_t>(h * b));
    for (int64_t y = 0; y < h * b; ++y) maps[2][y] = (y / b) * w + (y % b) * i_step;
    maps[3].resize(static_cast<size_t>(w * b));
    for (int64_t x = 0; x < w * b; ++x) maps[3][x] = x / b + (x % b) * j_step;
  } else {
    if (h % b != 0 || w % b != 0) fail(v, "spatial dims of " + dims_str(in) + " are not divisible by blocksize");
    out = {n, ch * b * b, h / b, w / b};
    // Output channel (i*b + j)*ch + c (DCR) or c*b*b + i*b + j (CRD, opset 28) reads
    // (c, y*b + i, x*b + j).
    const bool crd = v.opset() >= 28 && v.attr_string("mode", "DCR") == "CRD";
    maps[0] = strided_map(n, 0, 1, strides[0]);
    maps[1].resize(static_cast<size_t>(ch * b * b));
    for (int64_t o = 0; o < ch * b * b; ++o)
      maps[1][o] = crd ? (o / (b * b)) * hw + ((o / b) % b) * w + o % b
                       : (o % ch) * hw + (o / (b * ch)) * w + (o / ch) % b;
    maps[2] = strided_map(h / b, 0, 1, b * w);
    maps[3] = strided_map(w / b, 0, 1, b);
  }
  return mapped(v, out, maps);
}

// ---- GatherElements, GatherND, ScatterElements, ScatterND ----

int64_t read_index(const kiln_tensor& t, int64_t n) {
  return t.dtype == KILN_DTYPE_I32 ? static_cast<const int32_t*>(t.data)[n] : static_cast<const int64_t*>(t.data)[n];
}

// Copies `count` elements of esize bytes from src[offsets[k] * esize .. + slice) into dst slot k.
void copy_slices(const void* src, void* dst, const std::vector<int64_t>& offsets, int64_t slice_bytes) {
  const auto* s = static_cast<const char*>(src);
  auto* d = static_cast<char*>(dst);
  const auto count = static_cast<int64_t>(offsets.size());
  plain::parallel_range(count, count * slice_bytes, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k)
      std::memcpy(d + k * slice_bytes, s + offsets[k] * slice_bytes, static_cast<size_t>(slice_bytes));
  });
}

// GatherElements: out[o] = data[o with o[axis] = indices[o]].
// Also the index walk of ScatterElements: target[k] is the data offset indices[k] names.
class ElementsIndex {
 public:
  ElementsIndex(std::string prefix, Dims data, Dims indices, int64_t axis)
      : prefix_(std::move(prefix)), data_(std::move(data)), indices_(std::move(indices)), axis_(axis) {}

  // Validates every index (before any write) and returns the data offset for each index element.
  std::vector<int64_t> offsets(const kiln_tensor& idx) const {
    const int64_t count = numel(indices_), dim = data_[axis_];
    Dims ds = plain::strides_of(data_), pos(indices_.size(), 0);
    std::vector<int64_t> out(static_cast<size_t>(count));
    for (int64_t k = 0; k < count; ++k) {
      int64_t i = read_index(idx, k);
      if (i < -dim || i >= dim)
        throw KernelError(KILN_ERR_INVALID_ARGUMENT, prefix_ + "index " + std::to_string(i) + " is out of range for axis " +
                                                         std::to_string(axis_) + " of size " + std::to_string(dim));
      if (i < 0) i += dim;
      int64_t off = 0;
      for (size_t d = 0; d < pos.size(); ++d) off += (static_cast<int64_t>(d) == axis_ ? i : pos[d]) * ds[d];
      out[k] = off;
      for (size_t d = pos.size(); d-- > 0;) {
        if (++pos[d] < indices_[d]) break;
        pos[d] = 0;
      }
    }
    return out;
  }

 private:
  std::string prefix_;
  Dims data_, indices_;
  int64_t axis_;
};

// Checks indices' dims against data's on every axis but `axis` (indices may be smaller).
// GatherElements' and ScatterElements' shared checks; returns the normalized axis. `what`
// completes "cannot ... a rank-0 tensor".
int64_t elements_axis(const NodeView& v, const Dims& data, const Dims& indices, const char* what) {
  if (data.empty()) fail(v, std::string("cannot ") + what + " a rank-0 tensor");
  const int64_t axis = plain::normalize_axis(v, v.attr_int("axis", 0), static_cast<int64_t>(data.size()));
  if (data.size() != indices.size())
    fail(v, "indices " + dims_str(indices) + " must have the rank of data " + dims_str(data));
  for (size_t d = 0; d < data.size(); ++d)
    if (static_cast<int64_t>(d) != axis && indices[d] > data[d])
      fail(v, "indices " + dims_str(indices) + " exceed data " + dims_str(data) + " on axis " + std::to_string(d));
  return axis;
}

class GatherElementsKernel : public Kernel {
 public:
  GatherElementsKernel(std::string prefix, ElementsIndex index, int64_t esize)
      : prefix_(std::move(prefix)), index_(std::move(index)), esize_(esize) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 2, n_out, 1);
    copy_slices(in[0].data, out[0].data, index_.offsets(in[1]), esize_);
  }

 private:
  std::string prefix_;
  ElementsIndex index_;
  int64_t esize_;
};

std::unique_ptr<Kernel> prepare_gather_elements(const NodeView& v) {
  Dims data = v.input_shape(0), indices = v.input_shape(1);
  const int64_t axis = elements_axis(v, data, indices, "gather from");
  if (v.output_shape(0) != indices)
    fail(v, "output shape " + dims_str(v.output_shape(0)) + " should be " + dims_str(indices));
  plain::check_same_dtype(v, 0, 0);
  return std::make_unique<GatherElementsKernel>(plain::node_prefix(v),
                                                ElementsIndex(plain::node_prefix(v), data, indices, axis),
                                                static_cast<int64_t>(dtype_size(v.input_dtype(0))));
}

// GatherND/ScatterND: each index tuple of `depth` entries (after `batch` batch dims) names a
// slice of data; offsets() gives each tuple's slice start in units of slices.
class NdIndex {
 public:
  NdIndex(std::string prefix, Dims data, Dims indices, int64_t batch)
      : prefix_(std::move(prefix)), data_(std::move(data)), indices_(std::move(indices)), batch_(batch) {
    depth_ = indices_.back();
    tuples_ = numel(Dims(indices_.begin(), indices_.end() - 1));
    batches_ = numel(Dims(indices_.begin(), indices_.begin() + batch_));
    slices_per_batch_ = numel(Dims(data_.begin() + batch_, data_.begin() + batch_ + depth_));
  }
  int64_t tuples() const { return tuples_; }

  std::vector<int64_t> offsets(const kiln_tensor& idx) const {
    std::vector<int64_t> out(static_cast<size_t>(tuples_));
    const int64_t per_batch = batches_ > 0 ? tuples_ / batches_ : 0;
    for (int64_t t = 0; t < tuples_; ++t) {
      int64_t off = 0;
      for (int64_t k = 0; k < depth_; ++k) {
        const int64_t dim = data_[batch_ + k];
        int64_t i = read_index(idx, t * depth_ + k);
        if (i < -dim || i >= dim)
          throw KernelError(KILN_ERR_INVALID_ARGUMENT, prefix_ + "index " + std::to_string(i) + " is out of range for axis " +
                                                           std::to_string(batch_ + k) + " of size " + std::to_string(dim));
        off = off * dim + (i < 0 ? i + dim : i);
      }
      out[t] = (per_batch > 0 ? t / per_batch : 0) * slices_per_batch_ + off;
    }
    return out;
  }

 private:
  std::string prefix_;
  Dims data_, indices_;
  int64_t batch_, depth_ = 0, tuples_ = 0, batches_ = 1, slices_per_batch_ = 1;
};

Dims nd_check(const NodeView& v, const Dims& data, const Dims& indices, int64_t batch) {
  const auto r = static_cast<int64_t>(data.size()), q = static_cast<int64_t>(indices.size());
  if (batch < 0 || batch >= std::min(r, q))
    fail(v, "batch_dims " + std::to_string(batch) + " does not fit data " + dims_str(data) + " and indices " +
                dims_str(indices));
  for (int64_t d = 0; d < batch; ++d)
    if (data[d] != indices[d]) fail(v, "batch dims of data " + dims_str(data) + " and indices " + dims_str(indices) + " differ");
  const int64_t depth = indices.back();
  if (depth < 1 || depth > r - batch) fail(v, "indices " + dims_str(indices) + " has a last dim out of range for data " + dims_str(data));
  Dims out(indices.begin(), indices.end() - 1);
  out.insert(out.end(), data.begin() + batch + depth, data.end());
  return out;
}

class GatherNdKernel : public Kernel {
 public:
  GatherNdKernel(std::string prefix, NdIndex index, int64_t slice_bytes)
      : prefix_(std::move(prefix)), index_(std::move(index)), slice_bytes_(slice_bytes) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 2, n_out, 1);
    std::vector<int64_t> offsets = index_.offsets(in[1]);
    if (slice_bytes_ > 0) copy_slices(in[0].data, out[0].data, offsets, slice_bytes_);
  }

 private:
  std::string prefix_;
  NdIndex index_;
  int64_t slice_bytes_;
};

std::unique_ptr<Kernel> prepare_gather_nd(const NodeView& v) {
  Dims data = v.input_shape(0), indices = v.input_shape(1);
  int64_t batch = v.opset() >= 12 ? v.attr_int("batch_dims", 0) : 0;
  Dims out = nd_check(v, data, indices, batch);
  if (v.output_shape(0) != out) fail(v, "output shape " + dims_str(v.output_shape(0)) + " should be " + dims_str(out));
  plain::check_same_dtype(v, 0, 0);
  int64_t slice = numel(Dims(data.begin() + batch + indices.back(), data.end()));
  return std::make_unique<GatherNdKernel>(plain::node_prefix(v), NdIndex(plain::node_prefix(v), data, indices, batch),
                                          slice * static_cast<int64_t>(dtype_size(v.input_dtype(0))));
}

// Scatter: output = data, then updates go (in order) to the slices the indices name, combined
// by the reduction.
enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Reduction read_reduction(const NodeView& v) {
  std::string r = v.opset() >= 16 && v.op_type() != "Scatter" ? v.attr_string("reduction", "none") : "none";
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max" && v.opset() >= 18) return Reduction::kMax;
  if (r == "min" && v.opset() >= 18) return Reduction::kMin;
  fail(v, "reduction '" + r + "' is not supported");
}

// dst[offsets[k]*slice + e] op= src[k*slice + e], serially (later updates see earlier ones).
void scatter_slices(int32_t dtype, Reduction red, const void* src, void* dst, const std::vector<int64_t>& offsets,
                    int64_t slice) {
  if (red == Reduction::kNone) {
    const int64_t bytes = slice * static_cast<int64_t>(dtype_size(dtype));
    for (size_t k = 0; k < offsets.size(); ++k)
      std::memcpy(static_cast<char*>(dst) + offsets[k] * bytes, static_cast<const char*>(src) + static_cast<int64_t>(k) * bytes,
                  static_cast<size_t>(bytes));
    return;
  }
  plain::visit_dtype(dtype, [&]<class T>() {
    const T* s = static_cast<const T*>(src);
    T* d = static_cast<T*>(dst);
    for (size_t k = 0; k < offsets.size(); ++k)
      for (int64_t e = 0; e < slice; ++e) {
        T& target = d[offsets[k] * slice + e];
        auto a = plain::widen(target), b = plain::widen(s[static_cast<int64_t>(k) * slice + e]);
        decltype(a) r = a;
        switch (red) {
          case Reduction::kAdd: r = static_cast<decltype(a)>(a + b); break;
          case Reduction::kMul: r = static_cast<decltype(a)>(a * b); break;
          case Reduction::kMax: r = std::max<decltype(a)>(a, b); break;
          case Reduction::kMin: r = std::min<decltype(a)>(a, b); break;
          case Reduction::kNone: r = b; break;
        }
        target = plain::narrow<T>(r);
      }
  });
}

class ScatterElementsKernel : public Kernel {
 public:
  ScatterElementsKernel(std::string prefix, ElementsIndex index, int32_t dtype, Reduction red, int64_t bytes)
      : prefix_(std::move(prefix)), index_(std::move(index)), dtype_(dtype), red_(red), bytes_(bytes) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 3, n_out, 1);
    std::vector<int64_t> offsets = index_.offsets(in[1]);  // validated before the output is touched
    plain::copy_bytes(out[0].data, in[0].data, bytes_);
    scatter_slices(dtype_, red_, in[2].data, out[0].data, offsets, 1);
  }

 private:
  std::string prefix_;
  ElementsIndex index_;
  int32_t dtype_;
  Reduction red_;
  int64_t bytes_;
};

std::unique_ptr<Kernel> prepare_scatter_elements(const NodeView& v) {
  Dims data = v.input_shape(0), indices = v.input_shape(1);
  const int64_t axis = elements_axis(v, data, indices, "scatter into");
  if (v.input_shape(2) != indices)
    fail(v, "updates " + dims_str(v.input_shape(2)) + " must have the shape of indices " + dims_str(indices));
  if (v.output_shape(0) != data) fail(v, "output shape " + dims_str(v.output_shape(0)) + " should be " + dims_str(data));
  plain::check_same_dtype(v, 0, 0);
  plain::check_same_dtype(v, 2, 0);
  return std::make_unique<ScatterElementsKernel>(
      plain::node_prefix(v), ElementsIndex(plain::node_prefix(v), data, indices, axis), v.input_dtype(0),
      read_reduction(v), numel(data) * static_cast<int64_t>(dtype_size(v.input_dtype(0))));
}

class ScatterNdKernel : public Kernel {
 public:
  ScatterNdKernel(std::string prefix, NdIndex index, int32_t dtype, Reduction red, int64_t slice, int64_t bytes)
      : prefix_(std::move(prefix)), index_(std::move(index)), dtype_(dtype), red_(red), slice_(slice), bytes_(bytes) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 3, n_out, 1);
    std::vector<int64_t> offsets = index_.offsets(in[1]);
    plain::copy_bytes(out[0].data, in[0].data, bytes_);
    if (slice_ > 0) scatter_slices(dtype_, red_, in[2].data, out[0].data, offsets, slice_);
  }

 private:
  std::string prefix_;
  NdIndex index_;
  int32_t dtype_;
  Reduction red_;
  int64_t slice_, bytes_;
};

std::unique_ptr<Kernel> prepare_scatter_nd(const NodeView& v) {
  Dims data = v.input_shape(0), indices = v.input_shape(1);
  if (indices.empty()) fail(v, "indices must have rank >= 1");
  Dims want = nd_check(v, data, indices, 0);
  if (v.input_shape(2) != want) fail(v, "updates " + dims_str(v.input_shape(2)) + " should have shape " + dims_str(want));
  if (v.output_shape(0) != data) fail(v, "output shape " + dims_str(v.output_shape(0)) + " should be " + dims_str(data));
  plain::check_same_dtype(v, 0, 0);
  plain::check_same_dtype(v, 2, 0);
  int64_t slice = numel(Dims(data.begin() + indices.back(), data.end()));
  return std::make_unique<ScatterNdKernel>(plain::node_prefix(v), NdIndex(plain::node_prefix(v), data, indices, 0),
                                           v.input_dtype(0), read_reduction(v), slice,
                                           numel(data) * static_cast<int64_t>(dtype_size(v.input_dtype(0))));
}

// ---- Trilu, CumSum, EyeLike, OneHot ----

// Reads a scalar integer input at run time (k, axis); `fallback` when absent.
int64_t scalar_input(const kiln_tensor* in, size_t n_in, size_t i, int64_t fallback) {
  if (i >= n_in || in[i].data == nullptr || in[i].dtype == KILN_DTYPE_UNDEFINED || numel(shape_of(in[i])) < 1)
    return fallback;
  return read_index(in[i], 0);
}

class TriluKernel : public Kernel {
 public:
  TriluKernel(std::string prefix, int64_t batch, int64_t rows, int64_t cols, int64_t esize, bool upper)
      : prefix_(std::move(prefix)), batch_(batch), rows_(rows), cols_(cols), esize_(esize), upper_(upper) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 1, n_out, 1);
    const int64_t k = std::clamp<int64_t>(scalar_input(in, n_in, 1, 0), -rows_ - cols_, rows_ + cols_);
    plain::copy_bytes(out[0].data, in[0].data, batch_ * rows_ * cols_ * esize_);
    auto* dst = static_cast<char*>(out[0].data);
    plain::parallel_range(batch_ * rows_, batch_ * rows_ * cols_ * esize_, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t i = r % rows_;
        // upper keeps j >= i + k; lower keeps j <= i + k.
        int64_t lo = upper_ ? 0 : std::clamp<int64_t>(i + k + 1, 0, cols_);
        int64_t hi = upper_ ? std::clamp<int64_t>(i + k, 0, cols_) : cols_;
        if (hi > lo) std::memset(dst + (r * cols_ + lo) * esize_, 0, static_cast<size_t>((hi - lo) * esize_));
      }
    });
  }

 private:
  std::string prefix_;
  int64_t batch_, rows_, cols_, esize_;
  bool upper_;
};

std::unique_ptr<Kernel> prepare_trilu(const NodeView& v) {
  Dims in = v.input_shape(0);
  if (in.size() < 2) fail(v, "input shape " + dims_str(in) + " has rank < 2");
  if (v.output_shape(0) != in) fail(v, "output shape " + dims_str(v.output_shape(0)) + " should be " + dims_str(in));
  plain::check_same_dtype(v, 0, 0);
  const int64_t rows = in[in.size() - 2], cols = in.back();
  return std::make_unique<TriluKernel>(plain::node_prefix(v), numel(Dims(in.begin(), in.end() - 2)), rows, cols,
                                       static_cast<int64_t>(dtype_size(v.input_dtype(0))), v.attr_int("upper", 1) != 0);
}

class CumSumKernel : public Kernel {
 public:
  CumSumKernel(std::string prefix, Dims shape, int32_t dtype, bool exclusive, bool reverse)
      : prefix_(std::move(prefix)), shape_(std::move(shape)), dtype_(dtype), exclusive_(exclusive), reverse_(reverse) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 2, n_out, 1);
    const auto rank = static_cast<int64_t>(shape_.size());
    int64_t axis = scalar_input(in, n_in, 1, 0);
    if (axis < -rank || axis >= rank)
      throw KernelError(KILN_ERR_INVALID_ARGUMENT,
                        prefix_ + "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    if (axis < 0) axis += rank;
    const int64_t outer = numel(Dims(shape_.begin(), shape_.begin() + axis)), dim = shape_[axis],
                  inner = numel(Dims(shape_.begin() + axis + 1, shape_.end()));
    plain::visit_dtype(dtype_, [&]<class T>() {
      const T* x = static_cast<const T*>(in[0].data);
      T* y = static_cast<T*>(out[0].data);
      plain::parallel_range(outer * inner, outer * dim * inner * static_cast<int64_t>(sizeof(T)), [&](int64_t b, int64_t e) {
        for (int64_t item = b; item < e; ++item) {
          const int64_t base = (item / inner) * dim * inner + item % inner;
          decltype(plain::widen(T{})) acc{};
          for (int64_t s = 0; s < dim; ++s) {
            const int64_t at = base + (reverse_ ? dim - 1 - s : s) * inner;
            const auto value = plain::widen(x[at]);
            if (!exclusive_) acc = static_cast<decltype(acc)>(acc + value);
            y[at] = plain::narrow<T>(acc);
            if (exclusive_) acc = static_cast<decltype(acc)>(acc + value);
          }
        }
      });
    });
  }

 private:
  std::string prefix_;
  Dims shape_;
  int32_t dtype_;
  bool exclusive_, reverse_;
};

std::string supports_cumsum(const NodeView& v) {
  std::string why = dtypes_in({KILN_DTYPE_F32, KILN_DTYPE_F64, KILN_DTYPE_F16, KILN_DTYPE_BF16, KILN_DTYPE_I64,
                               KILN_DTYPE_I32})(v);
  if (!why.empty()) return why;
  if (!v.has_input(1) || !plain::is_index_dtype(v.input_dtype(1))) return "axis must be an i32 or i64 input";
  return "";
}

std::unique_ptr<Kernel> prepare_cumsum(const NodeView& v) {
  Dims in = v.input_shape(0);
  if (v.output_shape(0) != in) fail(v, "output shape " + dims_str(v.output_shape(0)) + " should be " + dims_str(in));
  plain::check_same_dtype(v, 0, 0);
  if (in.empty()) fail(v, "cannot sum a rank-0 tensor along an axis");
  return std::make_unique<CumSumKernel>(plain::node_prefix(v), in, v.input_dtype(0), v.attr_int("exclusive", 0) != 0,
                                        v.attr_int("reverse", 0) != 0);
}

class EyeLikeKernel : public Kernel {
 public:
  EyeLikeKernel(std::string prefix, int64_t rows, int64_t cols, int64_t k, int32_t dtype)
      : prefix_(std::move(prefix)), rows_(rows), cols_(cols), k_(k), dtype_(dtype) {
    plain::store_as(dtype_, 1.0, one_.data());
  }
  void run(const kiln_tensor*, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 1, n_out, 1);
    const auto esize = static_cast<int64_t>(dtype_size(dtype_));
    auto* dst = static_cast<char*>(out[0].data);
    std::memset(dst, 0, static_cast<size_t>(rows_ * cols_ * esize));
    for (int64_t i = std::max<int64_t>(0, -k_); i < rows_ && i + k_ < cols_; ++i)
      std::memcpy(dst + (i * cols_ + i + k_) * esize, one_.data(), static_cast<size_t>(esize));
  }

 private:
  std::string prefix_;
  int64_t rows_, cols_, k_;
  int32_t dtype_;
  std::array<unsigned char, 8> one_{};
};

std::unique_ptr<Kernel> prepare_eye_like(const NodeView& v) {
  Dims in = v.input_shape(0);
  if (in.size() != 2) fail(v, "input shape " + dims_str(in) + " is not rank 2");
  if (v.output_shape(0) != in) fail(v, "output shape " + dims_str(v.output_shape(0)) + " should be " + dims_str(in));
  int64_t k = std::clamp<int64_t>(v.attr_int("k", 0), -in[0] - 1, in[1] + 1);
  return std::make_unique<EyeLikeKernel>(plain::node_prefix(v), in[0], in[1], k, v.output_dtype(0));
}

// OneHot: out[o, d, i] = values[1] when indices[o, i] (negative from the back) is d, else
// values[0]; indices outside [-depth, depth) give rows of values[0] (ONNX).
class OneHotKernel : public Kernel {
 public:
  OneHotKernel(std::string prefix, int64_t outer, int64_t depth, int64_t inner, int32_t index_dtype, int64_t esize)
      : prefix_(std::move(prefix)), outer_(outer), depth_(depth), inner_(inner), index_dtype_(index_dtype),
        esize_(esize) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 3, n_out, 1);
    if (numel(shape_of(in[2])) != 2)
      throw KernelError(KILN_ERR_INVALID_ARGUMENT, prefix_ + "values must hold 2 elements (off, on)");
    const auto* values = static_cast<const char*>(in[2].data);
    auto* dst = static_cast<char*>(out[0].data);
    plain::fill_elements(dst, values, static_cast<size_t>(esize_), outer_ * depth_ * inner_);
    std::vector<int64_t> hot(static_cast<size_t>(outer_ * inner_));
    plain::visit_dtype(index_dtype_, [&]<class T>() {
      const T* idx = static_cast<const T*>(in[0].data);
      for (size_t n = 0; n < hot.size(); ++n) hot[n] = plain::narrow<int64_t>(plain::widen(idx[n]));
    });
    for (int64_t o = 0; o < outer_; ++o)
      for (int64_t i = 0; i < inner_; ++i) {
        int64_t d = hot[static_cast<size_t>(o * inner_ + i)];
        if (d < -depth_ || d >= depth_) continue;
        if (d < 0) d += depth_;
        std::memcpy(dst + ((o * depth_ + d) * inner_ + i) * esize_, values + esize_, static_cast<size_t>(esize_));
      }
  }

 private:
  std::string prefix_;
  int64_t outer_, depth_, inner_;
  int32_t index_dtype_;
  int64_t esize_;
};

std::string supports_one_hot(const NodeView& v) {
  std::string why = dtypes_in(plain::all_dtypes())(v);
  if (!why.empty()) return why;
  if (v.num_inputs() < 3 || !v.has_input(0) || !v.has_input(1) || !v.has_input(2))
    return "expects indices, depth and values";
  if (v.input_dtype(0) == KILN_DTYPE_BOOL) return "indices must be numeric";
  return "";
}

std::unique_ptr<Kernel> prepare_one_hot(const NodeView& v) {
  Dims indices = v.input_shape(0);
  const auto rank = static_cast<int64_t>(indices.size()) + 1;
  int64_t axis = plain::normalize_axis(v, v.attr_int("axis", -1), rank);
  const double d = v.input_scalar(1);
  if (!(d >= 1)) fail(v, "depth " + std::to_string(d) + " is not positive");
  const auto depth = static_cast<int64_t>(d);
  Dims out = indices;
  out.insert(out.begin() + axis, depth);
  if (v.output_shape(0) != out) fail(v, "output shape " + dims_str(v.output_shape(0)) + " should be " + dims_str(out));
  plain::check_same_dtype(v, 2, 0);
  return std::make_unique<OneHotKernel>(plain::node_prefix(v), numel(Dims(indices.begin(), indices.begin() + axis)),
                                        depth, numel(Dims(indices.begin() + axis, indices.end())), v.input_dtype(0),
                                        static_cast<int64_t>(dtype_size(v.output_dtype(0))));
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
  table.add("GatherElements", supports_gather, prepare_gather_elements);
  table.add("GatherND", supports_gather, prepare_gather_nd);
  table.add("ScatterElements", supports_gather, prepare_scatter_elements);
  table.add("Scatter", supports_gather, prepare_scatter_elements);
  table.add("ScatterND", supports_gather, prepare_scatter_nd);
  table.add("DepthToSpace", supports_with_indices({}),
            [](const NodeView& v) { return prepare_depth_space(v, true); });
  table.add("SpaceToDepth", supports_with_indices({}),
            [](const NodeView& v) { return prepare_depth_space(v, false); });
  table.add("Trilu", supports_with_indices({1}), prepare_trilu);
  table.add("CumSum", supports_cumsum, prepare_cumsum);
  table.add("EyeLike", dtypes_in(plain::all_dtypes()), prepare_eye_like);
  table.add("OneHot", supports_one_hot, prepare_one_hot);
}

}  // namespace kiln::cpu
