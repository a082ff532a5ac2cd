// MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool cases.

#include <algorithm>
#include <limits>

#include "op_case.h"

namespace kiln::test {
namespace {

OpCase pool_case(const std::string& name, const Tensor& x, const PoolParams& p) {
  OpCase oc(name, p.is_max ? "MaxPool" : "AveragePool");
  oc.input(x).attr("kernel_shape", p.kernel);
  if (!p.strides.empty()) oc.attr("strides", p.strides);
  if (!p.pads.empty()) oc.attr("pads", p.pads);
  if (p.ceil_mode) oc.attr("ceil_mode", 1);
  if (!p.is_max) oc.attr("count_include_pad", p.count_include_pad ? 1 : 0);
  if (!p.dilations.empty()) oc.at_opset(19).attr("dilations", p.dilations);
  return oc.expect([p](const Refs& in) { return Refs{pool(in[0], p)}; });
}

PoolParams max_pool(Dims kernel, Dims strides = {}, Dims pads = {}, bool ceil_mode = false) {
  return {std::move(kernel), std::move(strides), std::move(pads), ceil_mode, false, true};
}

PoolParams avg_pool(Dims kernel, Dims strides, Dims pads, bool count_include_pad, bool ceil_mode = false) {
  return {std::move(kernel), std::move(strides), std::move(pads), ceil_mode, count_include_pad, false};
}

// auto_pad SAME_*: the node gets the attribute, the reference the pads it stands for.
OpCase same_pad_case(const std::string& name, const Tensor& x, PoolParams p, const char* auto_pad) {
  ConvParams conv_like;
  conv_like.strides = p.strides;
  conv_like.auto_pad = auto_pad;
  Dims begin, end;
  resolve_pads(Dims(x.shape().begin() + 2, x.shape().end()), p.kernel, conv_like, &begin, &end);
  PoolParams node_params = p;
  p.pads = begin;
  p.pads.insert(p.pads.end(), end.begin(), end.end());
  OpCase oc = pool_case(name, x, node_params);
  oc.attr("auto_pad", auto_pad);
  return oc.expect([p](const Refs& in) { return Refs{pool(in[0], p)}; });
}

// MaxPool-2d with its Indices output: the flat offset into X of each window's maximum (the
// first in window order), the spatial dims counted row-major or, with storage_order 1,
// column-major.
OpCase max_pool_indices_case(const std::string& name, const Tensor& x, const PoolParams& p, bool column_major) {
  OpCase oc = pool_case(name, x, p).outputs(2);
  if (column_major) oc.attr("storage_order", 1);
  return oc.expect([p, column_major](const Refs& in) {
    const Ref& xr = in[0];
    const Ref y = pool(xr, p);
    Ref indices(DType::kI64, y.shape);
    const int64_t channels = xr.shape[1], h = xr.shape[2], w = xr.shape[3];
    const auto stride = [&](size_t d) { return p.strides.empty() ? 1 : p.strides[d]; };
    const auto pad = [&](size_t d) { return p.pads.empty() ? 0 : p.pads[d]; };
    for_each_index(y.shape, [&](const Dims& o) {
      double best = 0;
      int64_t at = -1;
      for (int64_t kh = 0; kh < p.kernel[0]; ++kh) {
        for (int64_t kw = 0; kw < p.kernel[1]; ++kw) {
          const int64_t ih = o[2] * stride(0) - pad(0) + kh, iw = o[3] * stride(1) - pad(1) + kw;
          if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
          const double v = xr.at({o[0], o[1], ih, iw});
          if (at < 0 || v > best) {
            best = v;
            at = column_major ? ih + iw * h : ih * w + iw;
          }
        }
      }
      indices.at(o) = static_cast<double>((o[0] * channels + o[1]) * h * w + at);
    });
    return Refs{y, indices};
  });
}

OpCase global_average_case(const std::string& name, const Tensor& x) {
  return OpCase(name, "GlobalAveragePool").input(x).expect([](const Refs& in) {
    Dims axes;
    for (int64_t a = 2; a < in[0].rank(); ++a) axes.push_back(a);
    return Refs{reduce(in[0], axes, true, 0.0, [](double acc, double v) { return acc + v; },
                       [](double sum, int64_t n) { return sum / static_cast<double>(n); })};
  });
}

OpCase global_max_case(const std::string& name, const Tensor& x) {
  return OpCase(name, "GlobalMaxPool").input(x).expect([](const Refs& in) {
    Dims axes;
    for (int64_t a = 2; a < in[0].rank(); ++a) axes.push_back(a);
    return Refs{reduce(in[0], axes, true, -std::numeric_limits<double>::infinity(),
                       [](double acc, double v) { return std::max(acc, v); }, [](double m, int64_t) { return m; })};
  });
}

PoolParams dilated(PoolParams p, Dims dilations) {
  p.dilations = std::move(dilations);
  return p;
}

std::vector<OpCase> cases() {
  Gen gen(3);
  return {
      pool_case("MaxPool2dBasic", gen.uniform({1, 2, 4, 4}), max_pool({2, 2}, {2, 2})),
      pool_case("MaxPool2dPadsStrides", gen.uniform({2, 3, 7, 7}), max_pool({3, 3}, {2, 2}, {1, 1, 1, 1})),
      // All values negative: a pad must never win the max.
      pool_case("MaxPool2dNegativeWithPads", gen.uniform({1, 2, 5, 5}, -2.0, -0.5),
                max_pool({3, 3}, {2, 2}, {1, 1, 1, 1})),
      pool_case("MaxPool2dAsymmetricPads", gen.uniform({1, 1, 5, 6}), max_pool({2, 3}, {1, 2}, {0, 1, 1, 0})),
      pool_case("MaxPool2dCeilMode", gen.uniform({1, 2, 6, 6}), max_pool({3, 3}, {2, 2}, {}, true)),
      pool_case("MaxPool1d", gen.uniform({2, 3, 9}), max_pool({3}, {2}, {1, 1})),
      max_pool_indices_case("MaxPool2dIndices", gen.uniform({2, 2, 5, 5}), max_pool({3, 3}, {2, 2}, {1, 1, 1, 1}), false),
      max_pool_indices_case("MaxPool2dIndicesColumnMajor", gen.uniform({1, 2, 4, 5}), max_pool({2, 2}, {1, 2}), true),
      pool_case("AveragePool2dBasic", gen.uniform({1, 2, 4, 6}), avg_pool({2, 2}, {2, 2}, {}, false)),
      pool_case("AveragePool2dPadsExcluded", gen.uniform({1, 2, 5, 5}), avg_pool({3, 3}, {2, 2}, {1, 1, 1, 1}, false)),
      pool_case("AveragePool2dPadsIncluded", gen.uniform({1, 2, 5, 5}), avg_pool({3, 3}, {2, 2}, {1, 1, 1, 1}, true)),
      pool_case("AveragePool2dCeilMode", gen.uniform({1, 1, 6, 7}), avg_pool({3, 3}, {2, 2}, {}, false, true)),
      pool_case("AveragePool1dPadsIncluded", gen.uniform({2, 2, 8}), avg_pool({3}, {1}, {1, 1}, true)),
      pool_case("AveragePool1dAsymmetricExcluded", gen.uniform({1, 3, 7}), avg_pool({3}, {2}, {2, 0}, false)),
      // dilations: MaxPool since opset 10, AveragePool since 19 (the cases run at opset 19).
      pool_case("MaxPool2dDilated", gen.uniform({1, 2, 7, 8}),
                dilated(max_pool({3, 2}, {1, 2}, {1, 0, 1, 1}), {2, 3})),
      pool_case("AveragePool2dDilated", gen.uniform({1, 2, 7, 8}),
                dilated(avg_pool({2, 3}, {2, 1}, {}, false), {3, 2})),
      pool_case("AveragePool2dDilatedPadsExcluded", gen.uniform({2, 2, 6, 6}),
                dilated(avg_pool({3, 3}, {2, 2}, {2, 1, 1, 2}, false), {2, 2})),
      pool_case("AveragePool2dDilatedPadsIncluded", gen.uniform({2, 2, 6, 6}),
                dilated(avg_pool({3, 3}, {2, 2}, {2, 1, 1, 2}, true), {2, 2})),
      pool_case("AveragePool2dDilatedCeilModeIncluded", gen.uniform({1, 1, 7, 6}),
                dilated(avg_pool({2, 2}, {2, 3}, {1, 1, 0, 0}, true, true), {2, 2})),
      pool_case("AveragePool1dDilatedCeilMode", gen.uniform({1, 3, 10}),
                dilated(avg_pool({3}, {3}, {1, 0}, false, true), {2})),
      pool_case("AveragePool3dDilated", gen.uniform({1, 1, 5, 5, 6}),
                dilated(avg_pool({2, 2, 2}, {1, 2, 2}, {}, false), {2, 1, 2})),
      same_pad_case("MaxPool2dSameUpper", gen.uniform({1, 2, 5, 6}, -2.0, -0.5), max_pool({3, 2}, {2, 2}), "SAME_UPPER"),
      same_pad_case("AveragePool2dSameLower", gen.uniform({1, 2, 5, 6}), avg_pool({3, 2}, {2, 2}, {}, false),
                    "SAME_LOWER"),
      // Sizes that take oneDNN's blocked-layout paths, and an empty batch.
      pool_case("MaxPool2dManyChannels", gen.uniform({2, 32, 9, 9}), max_pool({3, 3}, {2, 2}, {1, 1, 1, 1})),
      pool_case("AveragePool2dManyChannels", gen.uniform({2, 32, 8, 8}), avg_pool({2, 2}, {2, 2}, {}, false)),
      pool_case("MaxPool2dEmptyBatch", gen.uniform({0, 3, 4, 4}), max_pool({2, 2}, {2, 2})),
      global_average_case("GlobalAveragePoolManyChannels", gen.uniform({2, 64, 7, 7})),
      global_average_case("GlobalAveragePool2d", gen.uniform({2, 3, 4, 5})),
      global_average_case("GlobalAveragePool1d", gen.uniform({1, 4, 7})),
      global_max_case("GlobalMaxPool2d", gen.uniform({2, 3, 4, 5})),
      global_max_case("GlobalMaxPoolManyChannels", gen.uniform({2, 64, 7, 7}, -3.0, -1.0)),
  };
}

}  // namespace

KILN_OP_CASES(Pool, cases());

}  // namespace kiln::test
