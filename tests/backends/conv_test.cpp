// Conv and ConvTranspose cases, 1-D and 2-D.

#include "op_case.h"

namespace kiln::test {
namespace {

// Only non-default parameters become attributes, so the defaults are exercised too.
// kernel_shape is optional (inferred from the weights); half of the cases give it.
void set_conv_attrs(OpCase& oc, const ConvParams& p, const Dims& kernel, bool with_kernel_shape) {
  if (with_kernel_shape) oc.attr("kernel_shape", kernel);
  if (!p.strides.empty()) oc.attr("strides", p.strides);
  if (!p.pads.empty()) oc.attr("pads", p.pads);
  if (!p.dilations.empty()) oc.attr("dilations", p.dilations);
  if (p.group != 1) oc.attr("group", p.group);
  if (p.auto_pad != "NOTSET") oc.attr("auto_pad", p.auto_pad.c_str());
  if (!p.output_padding.empty()) oc.attr("output_padding", p.output_padding);
}

OpCase conv_case(const std::string& name, Gen& gen, const Dims& x, const Dims& w, bool bias, const ConvParams& p) {
  OpCase oc(name, "Conv");
  oc.input(gen.uniform(x)).constant(gen.uniform(w));
  if (bias) oc.constant(gen.uniform({w[0]}));
  set_conv_attrs(oc, p, Dims(w.begin() + 2, w.end()), /*with_kernel_shape=*/bias);
  return oc.expect([p](const Refs& in) { return Refs{conv(in[0], in[1], in.size() > 2 ? in[2] : Ref::absent(), p)}; });
}

// Weights fed at run time (as during training): the kernel reorders them on every run instead
// of once at prepare time.
OpCase conv_runtime_weights_case(const std::string& name, Gen& gen, const Dims& x, const Dims& w, const ConvParams& p) {
  OpCase oc(name, "Conv");
  oc.input(gen.uniform(x)).input(gen.uniform(w)).input(gen.uniform({w[0]}));
  set_conv_attrs(oc, p, Dims(w.begin() + 2, w.end()), /*with_kernel_shape=*/false);
  return oc.expect([p](const Refs& in) { return Refs{conv(in[0], in[1], in[2], p)}; });
}

OpCase conv_transpose_case(const std::string& name, Gen& gen, const Dims& x, const Dims& w, bool bias,
                           const ConvParams& p) {
  OpCase oc(name, "ConvTranspose");
  oc.input(gen.uniform(x)).constant(gen.uniform(w));
  if (bias) oc.constant(gen.uniform({w[1] * p.group}));
  set_conv_attrs(oc, p, Dims(w.begin() + 2, w.end()), /*with_kernel_shape=*/!bias);
  return oc.expect([p](const Refs& in) {
    return Refs{conv_transpose(in[0], in[1], in.size() > 2 ? in[2] : Ref::absent(), p)};
  });
}

ConvParams params(Dims strides, Dims pads, Dims dilations, int64_t group = 1, std::string auto_pad = "NOTSET") {
  ConvParams p;
  p.strides = std::move(strides);
  p.pads = std::move(pads);
  p.dilations = std::move(dilations);
  p.group = group;
  p.auto_pad = std::move(auto_pad);
  return p;
}

ConvParams transpose_params(Dims strides, Dims pads, Dims output_padding, int64_t group = 1, Dims dilations = {}) {
  ConvParams p = params(std::move(strides), std::move(pads), std::move(dilations), group);
  p.output_padding = std::move(output_padding);
  return p;
}

std::vector<OpCase> cases() {
  Gen gen(2);
  return {
      // 2-D.
      conv_case("Conv2dBasic", gen, {1, 3, 5, 5}, {4, 3, 3, 3}, true, {}),
      conv_runtime_weights_case("Conv2dRuntimeWeights", gen, {2, 16, 9, 9}, {32, 16, 3, 3}, params({1, 1}, {1, 1, 1, 1}, {})),
      conv_runtime_weights_case("Conv2dRuntimeWeightsGroups", gen, {1, 32, 8, 8}, {32, 8, 3, 3},
                                params({2, 2}, {1, 1, 1, 1}, {}, 4)),
      conv_case("Conv2dPadsStrides", gen, {2, 3, 7, 6}, {4, 3, 3, 3}, true, params({2, 2}, {1, 1, 1, 1}, {})),
      conv_case("Conv2dAsymmetricPads", gen, {1, 2, 5, 5}, {3, 2, 3, 2}, true, params({2, 1}, {0, 1, 2, 0}, {})),
      conv_case("Conv2dDilations", gen, {1, 2, 7, 7}, {2, 2, 3, 3}, true, params({}, {2, 2, 2, 2}, {2, 2})),
      conv_case("Conv2dGroups", gen, {2, 4, 5, 5}, {6, 2, 3, 3}, true, params({}, {1, 1, 1, 1}, {}, 2)),
      conv_case("Conv2dDepthwise", gen, {1, 3, 6, 6}, {6, 1, 3, 3}, true, params({1, 1}, {1, 1, 1, 1}, {}, 3)),
      conv_case("Conv2dNoBias", gen, {1, 3, 4, 5}, {2, 3, 2, 2}, false, {}),
      conv_case("Conv2dSameUpper", gen, {1, 2, 6, 7}, {3, 2, 3, 4}, true, params({2, 2}, {}, {}, 1, "SAME_UPPER")),
      conv_case("Conv2dSameLower", gen, {1, 2, 6, 7}, {3, 2, 3, 4}, true, params({2, 2}, {}, {}, 1, "SAME_LOWER")),
      conv_case("Conv2dValid", gen, {1, 2, 7, 6}, {3, 2, 3, 3}, false, params({2, 2}, {}, {}, 1, "VALID")),
      conv_case("Conv2dPointwise", gen, {2, 8, 3, 3}, {5, 8, 1, 1}, true, {}),
      // Channel counts that take oneDNN's blocked-layout paths, and an empty batch.
      conv_case("Conv2dManyChannels", gen, {2, 32, 9, 9}, {48, 32, 3, 3}, true, params({}, {1, 1, 1, 1}, {})),
      conv_case("Conv2dDepthwiseManyChannels", gen, {1, 32, 8, 8}, {32, 1, 3, 3}, true,
                params({2, 2}, {1, 1, 1, 1}, {}, 32)),
      conv_case("Conv2dEmptyBatch", gen, {0, 3, 5, 5}, {4, 3, 3, 3}, true, {}),
      // 1-D.
      conv_case("Conv1dBasic", gen, {2, 3, 10}, {4, 3, 3}, true, {}),
      conv_case("Conv1dPadsStridesDilations", gen, {1, 2, 11}, {3, 2, 3}, true, params({2}, {2, 1}, {2})),
      conv_case("Conv1dGroupsNoBias", gen, {1, 4, 8}, {4, 2, 3}, false, params({}, {1, 1}, {}, 2)),
      conv_case("Conv1dSameUpper", gen, {1, 2, 9}, {2, 2, 4}, true, params({2}, {}, {}, 1, "SAME_UPPER")),
      conv_case("Conv1dSameLowerDilated", gen, {1, 2, 8}, {2, 2, 3}, true, params({2}, {}, {2}, 1, "SAME_LOWER")),
      // ConvTranspose.
      conv_transpose_case("ConvTranspose2dBasic", gen, {1, 2, 3, 3}, {2, 3, 3, 3}, true, {}),
      conv_transpose_case("ConvTranspose2dStridesPads", gen, {2, 3, 4, 3}, {3, 2, 3, 3}, true,
                          transpose_params({2, 2}, {1, 1, 1, 1}, {})),
      conv_transpose_case("ConvTranspose2dOutputPadding", gen, {1, 2, 3, 4}, {2, 3, 3, 3}, false,
                          transpose_params({2, 3}, {1, 0, 1, 1}, {1, 2})),
      conv_transpose_case("ConvTranspose2dGroups", gen, {1, 4, 3, 3}, {4, 3, 2, 2}, true,
                          transpose_params({2, 2}, {}, {}, 2)),
      conv_transpose_case("ConvTranspose2dDilations", gen, {1, 2, 4, 4}, {2, 2, 3, 3}, true,
                          transpose_params({1, 1}, {1, 1, 1, 1}, {}, 1, {2, 2})),
      conv_transpose_case("ConvTranspose2dManyChannels", gen, {1, 32, 5, 5}, {32, 16, 4, 4}, true,
                          transpose_params({2, 2}, {1, 1, 1, 1}, {})),
      conv_transpose_case("ConvTranspose1d", gen, {2, 3, 5}, {3, 2, 4}, true, transpose_params({3}, {1, 2}, {2})),
  };
}

}  // namespace

KILN_OP_CASES(Conv, cases());

}  // namespace kiln::test
