// Finite-difference checks, in float64, of the gradients of the opset-23 transformer ops:
// Attention (Q, K, V, the caches and a float mask; every output carries a gradient),
// RotaryEmbedding (X and the cos/sin caches) and RMSNormalization (X and scale).
#include "grad_check.h"

namespace kiln::test {
namespace {

GradCase attention(const std::string& name) { return GradCase(name, "Attention"); }

std::vector<GradCase> attention_cases() {
  const Tensor bool_mask =
      Tensor::from_vector<bool>({2, 4}, {true, false, true, true, true, true, false, true});
  return {
      // Cross attention with a float mask [Sq, T]; V's head size differs.
      attention("Attention4dFloatMask")
          .input(uniform64({2, 2, 3, 4}, -1, 1, 1))
          .input(uniform64({2, 2, 4, 4}, -1, 1, 2))
          .input(uniform64({2, 2, 4, 3}, -1, 1, 3))
          .input(uniform64({3, 4}, -1, 1, 4)),
      // Causal with a past cache; present_key/present_value carry gradients too.
      attention("Attention4dCausalPast")
          .attr("is_causal", int64_t{1})
          .outputs(3)
          .input(uniform64({1, 2, 2, 3}, -1, 1, 5))
          .input(uniform64({1, 2, 2, 3}, -1, 1, 6))
          .input(uniform64({1, 2, 2, 3}, -1, 1, 7))
          .absent()
          .input(uniform64({1, 2, 2, 3}, -1, 1, 8))
          .input(uniform64({1, 2, 2, 3}, -1, 1, 9)),
      // GQA in the 3-D form with the scale attribute and a float mask [B, Hq, Sq, T].
      attention("Attention3dGqaScale")
          .attr("q_num_heads", int64_t{4})
          .attr("kv_num_heads", int64_t{2})
          .attr("scale", 0.4f)
          .input(uniform64({2, 3, 4 * 2}, -1, 1, 10))
          .input(uniform64({2, 3, 2 * 2}, -1, 1, 11))
          .input(uniform64({2, 3, 2 * 3}, -1, 1, 12))
          .input(uniform64({2, 4, 3, 3}, -1, 1, 13)),
      // 3-D MQA with a bool mask (an all-masked row gives zeros), past, causal and every output.
      attention("Attention3dMqaBoolMaskPastAllOutputs")
          .attr("q_num_heads", int64_t{2})
          .attr("kv_num_heads", int64_t{1})
          .attr("is_causal", int64_t{1})
          .outputs(4)
          .input(uniform64({1, 2, 2 * 3}, -1, 1, 14))
          .input(uniform64({1, 2, 3}, -1, 1, 15))
          .input(uniform64({1, 2, 2}, -1, 1, 16))
          .input(bool_mask)
          .input(uniform64({1, 1, 2, 3}, -1, 1, 17))
          .input(uniform64({1, 1, 2, 2}, -1, 1, 18)),
      attention("Attention4dBoolMaskDeadRow")
          .input(uniform64({1, 1, 2, 3}, -1, 1, 19))
          .input(uniform64({1, 1, 3, 3}, -1, 1, 20))
          .input(uniform64({1, 1, 3, 2}, -1, 1, 21))
          .input(Tensor::from_vector<bool>({2, 3}, {false, false, false, true, false, true})),
      // softcap with qk_matmul_output after softcap (mode 1) and after softmax (mode 3).
      attention("Attention4dSoftcapQkMode1")
          .attr("softcap", 1.5f)
          .attr("qk_matmul_output_mode", int64_t{1})
          .outputs(4)
          .input(uniform64({1, 2, 3, 2}, -2, 2, 22))
          .input(uniform64({1, 2, 3, 2}, -2, 2, 23))
          .input(uniform64({1, 2, 3, 2}, -1, 1, 24)),
      attention("Attention4dSoftcapQkMode3Causal")
          .attr("softcap", 1.5f)
          .attr("is_causal", int64_t{1})
          .attr("qk_matmul_output_mode", int64_t{3})
          .outputs(4)
          .input(uniform64({1, 2, 3, 2}, -2, 2, 25))
          .input(uniform64({1, 2, 3, 2}, -2, 2, 26))
          .input(uniform64({1, 2, 3, 2}, -1, 1, 27)),
      attention("Attention4dQkMode0")
          .outputs(4)
          .input(uniform64({1, 1, 2, 2}, -1, 1, 28))
          .input(uniform64({1, 1, 3, 2}, -1, 1, 29))
          .input(uniform64({1, 1, 3, 2}, -1, 1, 30)),
      attention("Attention4dQkMode2FloatMask")
          .attr("qk_matmul_output_mode", int64_t{2})
          .outputs(4)
          .input(uniform64({1, 1, 2, 2}, -1, 1, 31))
          .input(uniform64({1, 1, 3, 2}, -1, 1, 32))
          .input(uniform64({1, 1, 3, 2}, -1, 1, 33))
          .input(uniform64({1, 1, 2, 3}, -1, 1, 34)),
  };
}

std::vector<GradCase> rotary_cases() {
  const Tensor pos = ints64({2, 3}, {0, 2, 2, 4, 1, 0});
  return {
      GradCase("Rotary4dFull", "RotaryEmbedding")
          .input(uniform64({2, 2, 3, 4}, -1, 1, 40))
          .input(uniform64({2, 3, 2}, -1, 1, 41))
          .input(uniform64({2, 3, 2}, -1, 1, 42)),
      GradCase("Rotary4dInterleavedPositions", "RotaryEmbedding")
          .attr("interleaved", int64_t{1})
          .input(uniform64({2, 2, 3, 4}, -1, 1, 43))
          .input(uniform64({5, 2}, -1, 1, 44))
          .input(uniform64({5, 2}, -1, 1, 45))
          .input(pos),
      GradCase("Rotary3dPartialPositions", "RotaryEmbedding")
          .attr("num_heads", int64_t{2})
          .attr("rotary_embedding_dim", int64_t{4})
          .input(uniform64({2, 3, 2 * 6}, -1, 1, 46))
          .input(uniform64({5, 2}, -1, 1, 47))
          .input(uniform64({5, 2}, -1, 1, 48))
          .input(pos),
      GradCase("Rotary3dPartialInterleaved", "RotaryEmbedding")
          .attr("num_heads", int64_t{3})
          .attr("interleaved", int64_t{1})
          .attr("rotary_embedding_dim", int64_t{2})
          .input(uniform64({1, 2, 3 * 4}, -1, 1, 49))
          .input(uniform64({1, 2, 1}, -1, 1, 50))
          .input(uniform64({1, 2, 1}, -1, 1, 51)),
  };
}

std::vector<GradCase> rms_norm_cases() {
  auto rms = [](const std::string& name, const Dims& x, const Dims& scale) {
    return GradCase(name, "RMSNormalization")
        .input(uniform64(x, -2, 2, 60))
        .input(uniform64(scale, 0.5, 1.5, 61));
  };
  return {
      rms("RmsNormLastAxis", {3, 5}, {5}),
      rms("RmsNormAxis1", {2, 3, 4}, {3, 4}).attr("axis", int64_t{1}),
      rms("RmsNormAxis1BroadcastScale", {2, 3, 4}, {4}).attr("axis", int64_t{1}).attr("epsilon", 1e-2f),
      rms("RmsNormAxis0", {2, 3, 2}, {1, 3, 1}).attr("axis", int64_t{0}),
  };
}

}  // namespace

std::vector<GradCase> transformer_grad_cases() {
  std::vector<GradCase> all;
  for (auto family : {attention_cases, rotary_cases, rms_norm_cases})
    for (GradCase& c : family()) all.push_back(std::move(c));
  return all;
}

namespace {

INSTANTIATE_TEST_SUITE_P(Transformer, GradCheckTest, ::testing::ValuesIn(transformer_grad_cases()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace kiln::test
