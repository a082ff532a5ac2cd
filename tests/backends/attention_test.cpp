// Attention (opset 23) and RotaryEmbedding cases against naive double-precision references
// written from the ONNX spec; and the run-time errors of both (one kiln::Error naming the node).

#include <cmath>
#include <limits>
#include <optional>

#include "kiln/runtime/error.h"
#include "kiln/runtime/executor.h"
#include "kiln/runtime/graph.h"
#include "op_case.h"
#include "test_backends.h"

namespace kiln::test {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- Attention

struct AttnSpec {
  int64_t hq = 0, hkv = 0;  // head counts; taken from the attributes for 3-D inputs
  bool causal = false;
  std::optional<double> scale;
  double softcap = 0;
  int64_t mode = 0;
};

// Element (b, h, s, e) of a [B, H, S, E] tensor or of a 3-D [B, S, H*E] one.
double head_at(const Ref& t, int64_t heads, int64_t b, int64_t h, int64_t s, int64_t e) {
  if (t.rank() == 4) return t.at({b, h, s, e});
  const int64_t width = t.shape[2] / heads;
  return t.at({b, s, h * width + e});
}

// The spec's pattern: caches concatenated, scores scaled, softcap, bias (mask + causal),
// softmax (fully masked rows zero), weighted sum of the values.
Refs attention_ref(const Refs& in, const AttnSpec& a) {
  const Ref &q = in[0], &k = in[1], &v = in[2];
  const bool three_d = q.rank() == 3;
  const int64_t hq = three_d ? a.hq : q.shape[1], hkv = three_d ? a.hkv : k.shape[1];
  const int64_t batch = q.shape[0];
  const int64_t sq = three_d ? q.shape[1] : q.shape[2];
  const int64_t skv = three_d ? k.shape[1] : k.shape[2];
  const int64_t d = three_d ? q.shape[2] / hq : q.shape[3];
  const int64_t dv = three_d ? v.shape[2] / hkv : v.shape[3];
  const bool mask = in.size() > 3 && in[3].present;
  const bool past = in.size() > 4 && in[4].present;
  const int64_t p_len = past ? in[4].shape[2] : 0, total = p_len + skv;
  Ref pk(DType::kF32, {batch, hkv, total, d}), pv(DType::kF32, {batch, hkv, total, dv});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < hkv; ++h)
      for (int64_t j = 0; j < total; ++j) {
        for (int64_t e = 0; e < d; ++e)
          pk.at({b, h, j, e}) = j < p_len ? in[4].at({b, h, j, e}) : head_at(k, hkv, b, h, j - p_len, e);
        for (int64_t e = 0; e < dv; ++e)
          pv.at({b, h, j, e}) = j < p_len ? in[5].at({b, h, j, e}) : head_at(v, hkv, b, h, j - p_len, e);
      }
  // The attributes are floats: the op sees them rounded to float.
  const double scale =
      a.scale ? static_cast<double>(static_cast<float>(*a.scale)) : 1.0 / std::sqrt(static_cast<double>(d));
  const double softcap = static_cast<double>(static_cast<float>(a.softcap));
  Ref y = three_d ? Ref(DType::kF32, {batch, sq, hq * dv}) : Ref(DType::kF32, {batch, hq, sq, dv});
  Ref qk(DType::kF32, {batch, hq, sq, total});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < hq; ++h) {
      const int64_t hk = h / (hq / hkv);
      for (int64_t i = 0; i < sq; ++i) {
        std::vector<double> s0(static_cast<size_t>(total)), s1 = s0, s2 = s0, bias = s0, p = s0;
        for (int64_t j = 0; j < total; ++j) {
          const auto js = static_cast<size_t>(j);
          double dot = 0;
          for (int64_t e = 0; e < d; ++e) dot += head_at(q, hq, b, h, i, e) * pk.at({b, hk, j, e});
          s0[js] = dot * scale;
          s1[js] = softcap != 0 ? softcap * std::tanh(s0[js] / softcap) : s0[js];
          if (mask) {
            const double m = in[3].v[static_cast<size_t>(broadcast_offset({b, h, i, j}, in[3].shape))];
            bias[js] = in[3].dtype == DType::kBool ? (m != 0 ? 0.0 : -kInf) : m;
          }
          if (a.causal && j > i + p_len) bias[js] += -kInf;
          s2[js] = s1[js] + bias[js];
        }
        double bias_max = -kInf, s_max = -kInf, sum = 0;
        for (size_t j = 0; j < s2.size(); ++j) {
          bias_max = std::max(bias_max, bias[j]);
          s_max = std::max(s_max, s2[j]);
        }
        for (size_t j = 0; j < s2.size(); ++j) sum += std::exp(s2[j] - s_max);
        for (size_t j = 0; j < s2.size(); ++j) p[j] = bias_max == -kInf ? 0.0 : std::exp(s2[j] - s_max) / sum;
        const std::vector<double>& out = a.mode == 0 ? s0 : a.mode == 1 ? s1 : a.mode == 2 ? s2 : p;
        for (int64_t j = 0; j < total; ++j) qk.at({b, h, i, j}) = out[static_cast<size_t>(j)];
        for (int64_t e = 0; e < dv; ++e) {
          double acc = 0;
          for (int64_t j = 0; j < total; ++j) acc += p[static_cast<size_t>(j)] * pv.at({b, hk, j, e});
          if (three_d)
            y.at({b, i, h * dv + e}) = acc;
          else
            y.at({b, h, i, e}) = acc;
        }
      }
    }
  return Refs{y, pk, pv, qk};
}

OpCase attention_case(const std::string& name, const AttnSpec& spec, size_t outputs) {
  OpCase oc(name, "Attention");
  oc.at_opset(23).outputs(outputs);
  if (spec.causal) oc.attr("is_causal", 1);
  if (spec.scale) oc.attr("scale", static_cast<float>(*spec.scale));
  if (spec.softcap != 0) oc.attr("softcap", static_cast<float>(spec.softcap));
  if (spec.mode != 0) oc.attr("qk_matmul_output_mode", static_cast<int>(spec.mode));
  return oc;
}

OpCase with_attention_ref(OpCase oc, const AttnSpec& spec) {
  const size_t n = oc.num_outputs;
  return oc.expect([spec, n](const Refs& in) {
    Refs all = attention_ref(in, spec);
    all.resize(n);
    return all;
  });
}

// 3-D cases name their head counts in the attributes.
OpCase attention_3d(const std::string& name, AttnSpec spec, size_t outputs) {
  OpCase oc = attention_case(name, spec, outputs);
  oc.attr("q_num_heads", static_cast<int>(spec.hq)).attr("kv_num_heads", static_cast<int>(spec.hkv));
  return oc;
}

std::vector<OpCase> attention_cases() {
  Gen gen(231);
  std::vector<OpCase> all;
  // MHA, cross attention (Sq 3, Skv 4), V's head size differs from Q's.
  all.push_back(with_attention_ref(attention_case("Attention4dCross", {}, 1)
                                       .input(gen.uniform({2, 2, 3, 5}))
                                       .input(gen.uniform({2, 2, 4, 5}))
                                       .input(gen.uniform({2, 2, 4, 3})),
                                   {}));
  AttnSpec causal;
  causal.causal = true;
  all.push_back(with_attention_ref(attention_case("Attention4dCausal", causal, 1)
                                       .input(gen.uniform({1, 2, 4, 4}))
                                       .input(gen.uniform({1, 2, 4, 4}))
                                       .input(gen.uniform({1, 2, 4, 4})),
                                   causal));
  // A bool mask [B, 1, Sq, T] with an all-false row (a zero output row) and a mixed row.
  std::vector<int> bits(2 * 3 * 4, 1);
  for (int j = 0; j < 4; ++j) bits[static_cast<size_t>(4 + j)] = 0;  // batch 0, query 1: nothing
  bits[0] = 0;
  bits[13] = 0;
  all.push_back(with_attention_ref(attention_case("Attention4dBoolMask", {}, 1)
                                       .input(gen.uniform({2, 2, 3, 4}))
                                       .input(gen.uniform({2, 2, 4, 4}))
                                       .input(gen.uniform({2, 2, 4, 2}))
                                       .input(boolean({2, 1, 3, 4}, bits)),
                                   {}));
  // A float mask [Sq, T] added to the causal bias, with the scale attribute.
  AttnSpec scaled = causal;
  scaled.scale = 0.3;
  all.push_back(with_attention_ref(attention_case("Attention4dFloatMaskCausalScale", scaled, 1)
                                       .input(gen.uniform({2, 2, 3, 4}))
                                       .input(gen.uniform({2, 2, 3, 4}))
                                       .input(gen.uniform({2, 2, 3, 4}))
                                       .input(gen.uniform({3, 3}, -2, 2)),
                                   scaled));
  // GQA in the 3-D form: 4 query heads over 2 key/value heads, float mask [B, Hq, Sq, T].
  AttnSpec gqa;
  gqa.hq = 4;
  gqa.hkv = 2;
  all.push_back(with_attention_ref(attention_3d("Attention3dGqa", gqa, 1)
                                       .input(gen.uniform({2, 3, 4 * 3}))
                                       .input(gen.uniform({2, 5, 2 * 3}))
                                       .input(gen.uniform({2, 5, 2 * 2}))
                                       .input(gen.uniform({2, 4, 3, 5})),
                                   gqa));
  // MQA with a past cache and causal masking offset by the past length; present outputs.
  AttnSpec mqa;
  mqa.causal = true;
  all.push_back(with_attention_ref(attention_case("Attention4dMqaPastCausal", mqa, 3)
                                       .input(gen.uniform({2, 3, 2, 4}))
                                       .input(gen.uniform({2, 1, 2, 4}))
                                       .input(gen.uniform({2, 1, 2, 3}))
                                       .absent()
                                       .input(gen.uniform({2, 1, 3, 4}))
                                       .input(gen.uniform({2, 1, 3, 3})),
                                   mqa));
  // 3-D MQA with past, a bool mask [Sq, T] and causal, every output (qk: raw scores).
  AttnSpec mqa3 = mqa;
  mqa3.hq = 2;
  mqa3.hkv = 1;
  all.push_back(with_attention_ref(attention_3d("Attention3dMqaPastBoolMask", mqa3, 4)
                                       .input(gen.uniform({1, 2, 2 * 4}))
                                       .input(gen.uniform({1, 2, 4}))
                                       .input(gen.uniform({1, 2, 3}))
                                       .input(boolean({2, 4}, {1, 0, 1, 1, 1, 1, 0, 1}))
                                       .input(gen.uniform({1, 1, 2, 4}))
                                       .input(gen.uniform({1, 1, 2, 3})),
                                   mqa3));
  // Six query rows (a full block of four and a rest) over a past of 2, causal, GQA in 3-D.
  AttnSpec long_query = gqa;
  long_query.causal = true;
  all.push_back(with_attention_ref(attention_3d("Attention3dGqaCausalPastLongQuery", long_query, 3)
                                       .input(gen.uniform({1, 6, 4 * 4}))
                                       .input(gen.uniform({1, 6, 2 * 4}))
                                       .input(gen.uniform({1, 6, 2 * 3}))
                                       .absent()
                                       .input(gen.uniform({1, 2, 2, 4}))
                                       .input(gen.uniform({1, 2, 2, 3})),
                                   long_query));
  // softcap and each qk_matmul_output mode.
  for (int64_t mode = 0; mode < 4; ++mode) {
    AttnSpec s;
    s.softcap = 0.8;
    s.mode = mode;
    s.causal = mode % 2 == 1;
    all.push_back(with_attention_ref(attention_case("Attention4dSoftcapQkMode" + std::to_string(mode), s, 4)
                                         .input(gen.uniform({1, 2, 3, 4}, -2, 2))
                                         .input(gen.uniform({1, 2, 3, 4}, -2, 2))
                                         .input(gen.uniform({1, 2, 3, 2}))
                                         .input(gen.uniform({1, 2, 3, 3})),
                                     s));
  }
  // An explicit softmax_precision (kiln computes in double either way).
  all.push_back(with_attention_ref(attention_case("Attention4dSoftmaxPrecision", {}, 1)
                                       .attr("softmax_precision", 1)
                                       .input(gen.uniform({1, 1, 2, 3}))
                                       .input(gen.uniform({1, 1, 3, 3}))
                                       .input(gen.uniform({1, 1, 3, 3})),
                                   {}));
  return all;
}

// ---- RotaryEmbedding (the spec's numpy algorithm)

Ref rotary_ref(const Refs& in, bool interleaved, int64_t rotary_dim, int64_t num_heads) {
  const Ref& x = in[0];
  const bool three_d = x.rank() == 3;
  const bool positions = in.size() > 3 && in[3].present;
  const int64_t batch = x.shape[0], seq = three_d ? x.shape[1] : x.shape[2];
  const int64_t heads = three_d ? num_heads : x.shape[1];
  const int64_t head = three_d ? x.shape[2] / heads : x.shape[3];
  const int64_t r = rotary_dim == 0 ? head : rotary_dim, half = r / 2;
  Ref y = x;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s) {
      std::vector<double> c(static_cast<size_t>(half)), sn = c;
      for (int64_t i = 0; i < half; ++i) {
        const Dims at = positions ? Dims{static_cast<int64_t>(in[3].at({b, s})), i} : Dims{b, s, i};
        c[static_cast<size_t>(i)] = in[1].at(at);
        sn[static_cast<size_t>(i)] = in[2].at(at);
      }
      for (int64_t h = 0; h < heads; ++h) {
        auto idx = [&](int64_t e) { return three_d ? Dims{b, s, h * head + e} : Dims{b, h, s, e}; };
        for (int64_t i = 0; i < half; ++i) {
          const int64_t e1 = interleaved ? 2 * i : i, e2 = interleaved ? 2 * i + 1 : i + half;
          const double x1 = x.at(idx(e1)), x2 = x.at(idx(e2));
          y.at(idx(e1)) = c[static_cast<size_t>(i)] * x1 - sn[static_cast<size_t>(i)] * x2;
          y.at(idx(e2)) = sn[static_cast<size_t>(i)] * x1 + c[static_cast<size_t>(i)] * x2;
        }
      }
    }
  return y;
}

OpCase rotary_case(const std::string& name, Gen& gen, const Dims& x, bool interleaved, int64_t rotary_dim,
                   int64_t num_heads, const Dims& cache, std::optional<Tensor> positions) {
  OpCase oc(name, "RotaryEmbedding");
  oc.at_opset(23).input(gen.uniform(x)).input(gen.uniform(cache)).input(gen.uniform(cache));
  if (positions) oc.input(*positions);
  if (interleaved) oc.attr("interleaved", 1);
  if (rotary_dim != 0) oc.attr("rotary_embedding_dim", static_cast<int>(rotary_dim));
  if (num_heads != 0) oc.attr("num_heads", static_cast<int>(num_heads));
  return oc.expect([=](const Refs& in) { return Refs{rotary_ref(in, interleaved, rotary_dim, num_heads)}; });
}

std::vector<OpCase> rotary_cases() {
  Gen gen(232);
  const Tensor pos = i64({2, 3}, {0, 1, 2, 5, 3, 5});
  return {
      rotary_case("Rotary4dFull", gen, {2, 2, 3, 4}, false, 0, 0, {2, 3, 2}, std::nullopt),
      rotary_case("Rotary4dInterleavedPositions", gen, {2, 2, 3, 4}, true, 0, 0, {6, 2}, pos),
      rotary_case("Rotary3dPartialPositions", gen, {2, 3, 2 * 6}, false, 4, 2, {6, 2}, pos),
      rotary_case("Rotary3dPartialInterleaved", gen, {2, 3, 3 * 6}, true, 2, 3, {2, 3, 1}, std::nullopt),
      rotary_case("Rotary4dPartialPositions", gen, {2, 1, 3, 8}, false, 6, 0, {6, 3}, pos),
  };
}

std::vector<OpCase> cases() {
  std::vector<OpCase> all = attention_cases();
  for (OpCase& c : rotary_cases()) all.push_back(std::move(c));
  return all;
}

KILN_OP_CASES(Attention, cases());

// ---- Run-time errors: one kiln::Error naming the node.

class AttentionBadInputTest : public ::testing::TestWithParam<std::vector<std::string>> {
 protected:
  void expect_error(const std::string& op, const std::vector<Tensor>& inputs, const Attributes& attrs,
                    const std::string& needle) {
    Graph graph;
    graph.set_opset("", 23);
    NodeSpec spec{op, {}, {"y"}, attrs, "bad_" + op};
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::string name = "in" + std::to_string(i);
      spec.inputs.push_back(name);
      graph.add_input(name, inputs[i].dtype(), Shape::of(inputs[i].shape()));
    }
    graph.add_node(spec);
    graph.add_output("y");
    try {
      Executor ex(graph, ExecutorOptions{GetParam(), /*strict=*/false, 0}, test_registry());
      ex.run(inputs);
      ADD_FAILURE() << op << " ran without an error";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("bad_" + op), std::string::npos) << "message: " << message;
      EXPECT_NE(message.find(needle), std::string::npos) << "message: " << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << "message: " << message;
    }
  }
};

TEST_P(AttentionBadInputTest, RotaryPositionOutOfRange) {
  Gen gen(233);
  expect_error("RotaryEmbedding",
               {gen.uniform({1, 1, 2, 4}), gen.uniform({3, 2}), gen.uniform({3, 2}), i64({1, 2}, {0, 3})}, {},
               "position_ids");
}

TEST_P(AttentionBadInputTest, RotaryNegativePosition) {
  Gen gen(234);
  expect_error("RotaryEmbedding",
               {gen.uniform({1, 1, 2, 4}), gen.uniform({3, 2}), gen.uniform({3, 2}), i64({1, 2}, {-1, 0})},
               {}, "position_ids");
}

TEST_P(AttentionBadInputTest, AttentionHeadsNotDividing) {
  Gen gen(235);
  expect_error("Attention", {gen.uniform({1, 3, 2, 4}), gen.uniform({1, 2, 2, 4}), gen.uniform({1, 2, 2, 4})},
               {}, "not a multiple");
}

TEST_P(AttentionBadInputTest, AttentionWrongRank) {
  Gen gen(236);
  expect_error("Attention", {gen.uniform({2, 4}), gen.uniform({2, 4}), gen.uniform({2, 4})}, {}, "rank");
}

INSTANTIATE_TEST_SUITE_P(Backends, AttentionBadInputTest, ::testing::ValuesIn(backend_lists()),
                         [](const auto& param_info) {
                           std::string name;
                           for (const std::string& b : param_info.param)
                             name += (name.empty() ? "" : "_") + b;
                           return name;
                         });

}  // namespace
}  // namespace kiln::test
