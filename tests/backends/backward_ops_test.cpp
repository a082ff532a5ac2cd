// Cases for kiln's backward ops (kiln.ConvGradWeight, MaxPoolGrad, AveragePoolGrad) and for
// BatchNormalization's training mode, against naive references in double.

#include <cmath>

#include "op_case.h"

namespace kiln::test {
namespace {

Dims spatial_of(const Dims& shape) { return Dims(shape.begin() + 2, shape.end()); }

// A window from spatial dims `in` to `out`: f(out index, kernel index, input position or
// nullptr when the tap lies in the padding).
struct Win {
  Dims kernel, strides, dilations, pad_begin, pad_end;
  int64_t at(const Dims& v, size_t i, int64_t fallback) const { return v.empty() ? fallback : v[i]; }
  void for_each_tap(const Dims& in, const Dims& out,
                    const std::function<void(const Dims&, const Dims&, const Dims*)>& f) const {
    for_each_index(out, [&](const Dims& o) {
      for_each_index(kernel, [&](const Dims& k) {
        Dims pos(in.size());
        bool inside = true;
        for (size_t d = 0; d < in.size(); ++d) {
          pos[d] = o[d] * at(strides, d, 1) - at(pad_begin, d, 0) + k[d] * at(dilations, d, 1);
          inside = inside && pos[d] >= 0 && pos[d] < in[d];
        }
        f(o, k, inside ? &pos : nullptr);
      });
    });
  }
};

Dims cat(Dims a, const Dims& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// ---- kiln.ConvGradWeight(X, dY) -> dW [M, C/group, k...] [, dB [M]]

OpCase grad_weight_case(const std::string& name, Gen& gen, const Dims& x, const Dims& w,
                        const ConvParams& p, bool with_bias = false) {
  const Ref y = conv(to_ref(gen.uniform(x)), to_ref(gen.uniform(w)), Ref::absent(), p);
  OpCase oc(name, "ConvGradWeight");
  oc.in_domain("kiln").input(gen.uniform(x)).input(gen.uniform(y.shape)).attr("kernel_shape", spatial_of(w));
  if (!p.strides.empty()) oc.attr("strides", p.strides);
  if (!p.pads.empty()) oc.attr("pads", p.pads);
  if (!p.dilations.empty()) oc.attr("dilations", p.dilations);
  if (p.group != 1) oc.attr("group", p.group);
  if (p.auto_pad != "NOTSET") oc.attr("auto_pad", p.auto_pad.c_str());
  if (with_bias) oc.outputs(2);
  return oc.tolerance(1e-4, 1e-4).expect([p, w, with_bias](const Refs& in) {
    const Ref &xr = in[0], &dy = in[1];
    Win win{spatial_of(w), p.strides, p.dilations, {}, {}};
    resolve_pads(spatial_of(xr.shape), win.kernel, p, &win.pad_begin, &win.pad_end);
    Ref dw(xr.dtype, w);
    const int64_t cpg = xr.shape[1] / p.group, mpg = w[0] / p.group;
    for (int64_t n = 0; n < xr.shape[0]; ++n)
      for (int64_t m = 0; m < w[0]; ++m)
        for (int64_t c = 0; c < cpg; ++c)
          win.for_each_tap(
              spatial_of(xr.shape), spatial_of(dy.shape), [&](const Dims& o, const Dims& k, const Dims* pos) {
                if (pos)
                  dw.at(cat({m, c}, k)) += dy.at(cat({n, m}, o)) * xr.at(cat({n, m / mpg * cpg + c}, *pos));
              });
    if (!with_bias) return Refs{dw};
    Ref db(xr.dtype, {w[0]});
    for_each_index(dy.shape, [&](const Dims& i) { db.at({i[1]}) += dy.at(i); });
    return Refs{dw, db};
  });
}

ConvParams conv_params(Dims strides, Dims pads, Dims dilations, int64_t group = 1,
                       std::string auto_pad = "NOTSET") {
  ConvParams p;
  p.strides = std::move(strides);
  p.pads = std::move(pads);
  p.dilations = std::move(dilations);
  p.group = group;
  p.auto_pad = std::move(auto_pad);
  return p;
}

// ---- kiln.MaxPoolGrad / AveragePoolGrad(dY, X) -> dX

struct PoolGradParams {
  Dims kernel, strides, pads, dilations;
  bool ceil_mode = false, include_pad = false;
};

Dims pooled(const Dims& x, const PoolGradParams& p) {
  Dims y{x[0], x[1]};
  const size_t n = p.kernel.size();
  for (size_t d = 0; d < n; ++d) {
    const int64_t s = p.strides.empty() ? 1 : p.strides[d], dil = p.dilations.empty() ? 1 : p.dilations[d];
    const int64_t pb = p.pads.empty() ? 0 : p.pads[d], pe = p.pads.empty() ? 0 : p.pads[n + d];
    const int64_t span = x[d + 2] + pb + pe - (p.kernel[d] - 1) * dil - 1;
    int64_t out = (p.ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (p.ceil_mode && (out - 1) * s >= x[d + 2] + pb) --out;  // no window starts in the end padding
    y.push_back(out);
  }
  return y;
}

OpCase pool_grad_case(const std::string& name, bool max, Gen& gen, const Dims& x, const PoolGradParams& p) {
  OpCase oc(name, max ? "MaxPoolGrad" : "AveragePoolGrad");
  oc.in_domain("kiln").input(gen.uniform(pooled(x, p))).input(gen.uniform(x)).attr("kernel_shape", p.kernel);
  if (!p.strides.empty()) oc.attr("strides", p.strides);
  if (!p.pads.empty()) oc.attr("pads", p.pads);
  if (!p.dilations.empty()) oc.attr("dilations", p.dilations);
  if (p.ceil_mode) oc.attr("ceil_mode", 1);
  if (p.include_pad) oc.attr("count_include_pad", 1);
  return oc.expect([p, max](const Refs& in) {
    const Ref &dy = in[0], &xr = in[1];
    const size_t n = p.kernel.size();
    Win win{p.kernel, p.strides, p.dilations, Dims(n, 0), Dims(n, 0)};
    if (!p.pads.empty()) {
      win.pad_begin.assign(p.pads.begin(), p.pads.begin() + static_cast<std::ptrdiff_t>(n));
      win.pad_end.assign(p.pads.begin() + static_cast<std::ptrdiff_t>(n), p.pads.end());
    }
    const Dims in_dims = spatial_of(xr.shape), out_dims = spatial_of(dy.shape);
    Ref dx(xr.dtype, xr.shape);
    for (int64_t b = 0; b < xr.shape[0]; ++b)
      for (int64_t c = 0; c < xr.shape[1]; ++c)
        for_each_index(out_dims, [&](const Dims& o) {
          std::vector<Dims> taps;  // inside X
          int64_t padded = 0;      // inside X or its explicit padding
          for_each_index(p.kernel, [&](const Dims& k) {
            Dims pos(n);
            bool inside = true, in_pads = true;
            for (size_t d = 0; d < n; ++d) {
              pos[d] =
                  o[d] * win.at(win.strides, d, 1) - win.pad_begin[d] + k[d] * win.at(win.dilations, d, 1);
              inside = inside && pos[d] >= 0 && pos[d] < in_dims[d];
              in_pads = in_pads && pos[d] >= -win.pad_begin[d] && pos[d] < in_dims[d] + win.pad_end[d];
            }
            if (inside) taps.push_back(cat({b, c}, pos));
            padded += in_pads;
          });
          const double g = dy.at(cat({b, c}, o));
          if (max) {
            const Dims* best = nullptr;
            for (const Dims& t : taps)
              if (!best || xr.at(t) > xr.at(*best)) best = &t;
            if (best) dx.at(*best) += g;
            return;
          }
          const double count =
              static_cast<double>(p.include_pad ? padded : static_cast<int64_t>(taps.size()));
          for (const Dims& t : taps) dx.at(t) += g / count;
        });
    return Refs{dx};
  });
}

// ---- BatchNormalization, training_mode=1: Y from the batch statistics, and the running ones.

OpCase batch_norm_training_case(const std::string& name, Gen& gen, const Dims& x, float momentum,
                                size_t outputs, int opset) {
  const Dims c{x[1]};
  OpCase oc(name, "BatchNormalization");
  oc.at_opset(opset)
      .input(gen.uniform(x, -2, 2))
      .input(gen.uniform(c, 0.5, 1.5))
      .input(gen.uniform(c))
      .input(gen.uniform(c))
      .input(gen.uniform(c, 0.5, 1.5))
      .attr("training_mode", 1)
      .attr("momentum", momentum)
      .attr("epsilon", 1e-3f)
      .outputs(outputs);
  return oc.expect([momentum, outputs](const Refs& in) {
    const Ref& xr = in[0];
    const int64_t channels = xr.shape[1], count = xr.numel() / channels;
    Ref y(xr.dtype, xr.shape), running_mean(xr.dtype, {channels}), running_var(xr.dtype, {channels});
    const double m = momentum;
    for (int64_t ch = 0; ch < channels; ++ch) {
      double sum = 0, sq = 0;
      for_each_index(xr.shape, [&](const Dims& i) {
        if (i[1] == ch) sum += xr.at(i);
      });
      const double mean = sum / static_cast<double>(count);
      for_each_index(xr.shape, [&](const Dims& i) {
        if (i[1] == ch) sq += (xr.at(i) - mean) * (xr.at(i) - mean);
      });
      const double inv_std = 1 / std::sqrt(sq / static_cast<double>(count) + static_cast<double>(1e-3f));
      const auto k = static_cast<size_t>(ch);
      for_each_index(xr.shape, [&](const Dims& i) {
        if (i[1] == ch) y.at(i) = (xr.at(i) - mean) * inv_std * in[1].v[k] + in[2].v[k];
      });
      running_mean.v[k] = in[3].v[k] * m + mean * (1 - m);
      // ONNX: the biased batch variance, as in ONNX's reference implementation.
      running_var.v[k] = in[4].v[k] * m + sq / static_cast<double>(count) * (1 - m);
    }
    Refs out{y, running_mean, running_var};
    out.resize(outputs);
    return out;
  });
}

std::vector<OpCase> cases() {
  Gen gen(7);
  return {
      grad_weight_case("ConvGradWeight2d", gen, {2, 3, 5, 5}, {4, 3, 3, 3}, {}),
      grad_weight_case("ConvGradWeight2dStridesPadsFloor", gen, {2, 3, 7, 6}, {4, 3, 3, 3},
                       conv_params({2, 2}, {1, 1, 1, 1}, {})),
      grad_weight_case("ConvGradWeight2dAsymmetricDilated", gen, {1, 2, 7, 7}, {3, 2, 3, 2},
                       conv_params({1, 2}, {0, 1, 2, 0}, {2, 1})),
      grad_weight_case("ConvGradWeight2dGroups", gen, {2, 4, 5, 5}, {6, 2, 3, 3},
                       conv_params({}, {1, 1, 1, 1}, {}, 2)),
      grad_weight_case("ConvGradWeight2dWithBias", gen, {2, 3, 6, 5}, {4, 3, 3, 3}, conv_params({2, 1}, {1, 1, 1, 1}, {}),
                       true),
      grad_weight_case("ConvGradWeight2dGroupsWithBias", gen, {2, 4, 5, 5}, {6, 2, 3, 3},
                       conv_params({}, {1, 1, 1, 1}, {}, 2), true),
      grad_weight_case("ConvGradWeight2dDepthwise", gen, {2, 32, 8, 8}, {32, 1, 3, 3},
                       conv_params({2, 2}, {1, 1, 1, 1}, {}, 32)),
      grad_weight_case("ConvGradWeight2dManyChannels", gen, {2, 32, 9, 9}, {48, 32, 3, 3},
                       conv_params({}, {1, 1, 1, 1}, {})),
      grad_weight_case("ConvGradWeight2dSameUpper", gen, {1, 2, 6, 7}, {3, 2, 3, 4},
                       conv_params({2, 2}, {}, {}, 1, "SAME_UPPER")),
      grad_weight_case("ConvGradWeight2dPointwise", gen, {2, 8, 3, 3}, {5, 8, 1, 1}, {}),
      grad_weight_case("ConvGradWeight2dEmptyBatch", gen, {0, 3, 5, 5}, {4, 3, 3, 3}, {}),
      grad_weight_case("ConvGradWeight1d", gen, {2, 2, 11}, {3, 2, 3}, conv_params({2}, {2, 1}, {2})),
      pool_grad_case("MaxPoolGrad2d", true, gen, {2, 3, 6, 6}, {{2, 2}, {2, 2}, {}, {}}),
      pool_grad_case("MaxPoolGrad2dOverlapPads", true, gen, {1, 2, 7, 6}, {{3, 3}, {2, 2}, {1, 1, 1, 1}, {}}),
      pool_grad_case("MaxPoolGrad2dDilatedCeil", true, gen, {1, 2, 7, 6}, {{2, 2}, {2, 2}, {}, {2, 1}, true}),
      pool_grad_case("MaxPoolGrad2dManyChannels", true, gen, {2, 32, 8, 8},
                     {{3, 3}, {2, 2}, {1, 1, 1, 1}, {}}),
      pool_grad_case("MaxPoolGrad1dCeil", true, gen, {2, 2, 9}, {{3}, {2}, {1, 1}, {}, true}),
      pool_grad_case("AveragePoolGrad2dExcludePad", false, gen, {1, 2, 5, 5},
                     {{3, 3}, {2, 2}, {1, 1, 1, 1}, {}}),
      pool_grad_case("AveragePoolGrad2dIncludePad", false, gen, {1, 2, 5, 5},
                     {{3, 3}, {2, 2}, {1, 1, 1, 1}, {}, false, true}),
      pool_grad_case("AveragePoolGrad2dCeilIncludePad", false, gen, {1, 2, 6, 6},
                     {{3, 3}, {2, 2}, {1, 1, 1, 1}, {}, true, true}),
      pool_grad_case("AveragePoolGrad2dCeilExcludePad", false, gen, {1, 2, 6, 5},
                     {{3, 2}, {2, 2}, {1, 0, 1, 0}, {}, true}),
      pool_grad_case("AveragePoolGrad1d", false, gen, {2, 3, 7}, {{3}, {2}, {}, {}}),
      batch_norm_training_case("BatchNormTraining", gen, {4, 3, 5, 5}, 0.9f, 3, 15),
      batch_norm_training_case("BatchNormTrainingYOnly", gen, {2, 4, 3}, 0.9f, 1, 14),
      batch_norm_training_case("BatchNormTraining2dMomentum", gen, {8, 5}, 0.7f, 3, 15),
      batch_norm_training_case("BatchNormTrainingOneValuePerChannel", gen, {1, 3}, 0.9f, 3, 15),
  };
}

}  // namespace

KILN_OP_CASES(Backward, cases());

}  // namespace kiln::test
