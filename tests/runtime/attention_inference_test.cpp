// Shape and dtype inference of the opset-23 transformer ops (runtime/ops/attention.cpp and
// RMSNormalization in runtime/ops/norm.cpp), and the one-line errors for bad nodes.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "kiln/runtime/graph.h"
#include "kiln/runtime/op_registry.h"
#include "test_errors.h"

namespace kiln {
namespace {

struct Arg {
  DType dtype = DType::kUndefined;
  Shape shape;
  bool omitted = false;
};

Arg f32(Shape shape) { return {DType::kF32, std::move(shape), false}; }
Arg typed(DType dtype, Shape shape) { return {dtype, std::move(shape), false}; }
Arg none() { return {DType::kUndefined, Shape(), true}; }

Attributes attrs(std::initializer_list<std::pair<std::string, Attribute>> list) {
  Attributes a;
  for (const auto& [name, value] : list) a.set(name, value);
  return a;
}

// Builds the node "<op>_1" at opset 23 (or `opset`), validates the graph and returns the
// output types (outputs named "" are omitted).
std::vector<ValueType> infer(const std::string& op, std::vector<Arg> args, Attributes a = {},
                             size_t num_outputs = 1, int opset = 23) {
  Graph graph;
  graph.set_opset("", opset);
  NodeSpec spec{op, {}, {}, std::move(a), op + "_1"};
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].omitted) {
      spec.inputs.emplace_back();
      continue;
    }
    const std::string name = "in" + std::to_string(i);
    graph.add_input(name, args[i].dtype, args[i].shape);
    spec.inputs.push_back(name);
  }
  for (size_t i = 0; i < num_outputs; ++i) spec.outputs.push_back("out" + std::to_string(i));
  graph.add_node(std::move(spec));
  for (size_t i = 0; i < num_outputs; ++i) graph.add_output("out" + std::to_string(i));
  validate(graph);
  std::vector<ValueType> out;
  for (size_t i = 0; i < num_outputs; ++i) {
    const Value* v = graph.find_value("out" + std::to_string(i));
    out.push_back({v->dtype(), v->shape()});
  }
  return out;
}

// The error is one line naming the node and containing every needle.
template <class F>
void expect_node_error(F&& f, const std::string& op, std::initializer_list<std::string_view> needles,
                       ErrorCode code = ErrorCode::kInvalidArgument) {
  const std::string message = error_message(std::forward<F>(f), code);
  EXPECT_NE(message.find("'" + op + "_1' (" + op + ")"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  for (std::string_view needle : needles)
    EXPECT_NE(message.find(needle), std::string::npos) << "missing '" << needle << "' in: " << message;
}

// ---- Attention

TEST(AttentionInference, FourDimensionalWithPastAndEveryOutput) {
  auto out = infer("Attention",
                   {f32({"N", 4, 3, 8}), f32({"N", 2, 5, 8}), f32({"N", 2, 5, 6}),
                    typed(DType::kBool, {3, 7}), f32({"N", 2, 2, 8}), f32({"N", 2, 2, 6})},
                   {}, 4);
  EXPECT_EQ(out[0].dtype, DType::kF32);
  EXPECT_EQ(out[0].shape, (Shape{"N", 4, 3, 6}));
  EXPECT_EQ(out[1].shape, (Shape{"N", 2, 7, 8}));
  EXPECT_EQ(out[2].shape, (Shape{"N", 2, 7, 6}));
  EXPECT_EQ(out[3].shape, (Shape{"N", 4, 3, 7}));
}

TEST(AttentionInference, ThreeDimensionalGqa) {
  auto out = infer("Attention", {f32({2, "S", 4 * 8}), f32({2, 5, 2 * 8}), f32({2, 5, 2 * 3})},
                   attrs({{"q_num_heads", int64_t{4}}, {"kv_num_heads", int64_t{2}}}), 4);
  EXPECT_EQ(out[0].shape, (Shape{2, "S", 4 * 3}));
  EXPECT_EQ(out[1].shape, (Shape{2, 2, 5, 8}));
  EXPECT_EQ(out[2].shape, (Shape{2, 2, 5, 3}));
  EXPECT_EQ(out[3].shape, (Shape{2, 4, "S", 5}));
}

TEST(AttentionInference, UnknownKeyRankKeepsWhatQSays) {
  auto out =
      infer("Attention",
            {f32({"N", 4, 3, 8}), typed(DType::kF32, Shape::unknown_rank()), f32({"N", 2, 5, 6})}, {}, 4);
  EXPECT_EQ(out[0].shape, (Shape{"N", 4, 3, Dim()}));
  EXPECT_EQ(out[3].shape, (Shape{"N", 4, 3, Dim()}));
}

TEST(AttentionInference, F64AndFloatMask) {
  auto out = infer("Attention", {typed(DType::kF64, {1, 1, 2, 4}), typed(DType::kF64, {1, 1, 3, 4}),
                                 typed(DType::kF64, {1, 1, 3, 4}), typed(DType::kF64, {1, 1, 2, 3})});
  EXPECT_EQ(out[0].dtype, DType::kF64);
  EXPECT_EQ(out[0].shape, (Shape{1, 1, 2, 4}));
}

TEST(AttentionInference, BadNodesFailNamingTheNode) {
  const Arg q = f32({1, 2, 3, 4}), k = f32({1, 2, 5, 4}), v = f32({1, 2, 5, 4});
  expect_node_error([&] { infer("Attention", {f32({3, 4}), k, v}); }, "Attention", {"rank"});
  expect_node_error(
      [&] {
        infer("Attention", {f32({1, 3, 8}), k, v});
      },
      "Attention", {"all be 3-D or all 4-D"});
  expect_node_error([&] { infer("Attention", {f32({1, 3, 3, 4}), k, v}); }, "Attention", {"not a multiple"});
  expect_node_error([&] { infer("Attention", {q, f32({1, 2, 5, 3}), v}); }, "Attention", {"head sizes"});
  expect_node_error(
      [&] {
        infer("Attention", {q, k, f32({1, 2, 4, 4})});
      },
      "Attention", {"sequence lengths"});
  expect_node_error(
      [&] {
        infer("Attention", {f32({1, 3, 8}), f32({1, 5, 8}), f32({1, 5, 8})});
      },
      "Attention", {"q_num_heads"});
  expect_node_error(
      [&] {
        infer("Attention", {f32({1, 3, 9}), f32({1, 5, 8}), f32({1, 5, 8})},
              attrs({{"q_num_heads", int64_t{2}}, {"kv_num_heads", int64_t{2}}}));
      },
      "Attention", {"hidden size 9"});
  expect_node_error(
      [&] {
        infer("Attention", {q, k, v}, attrs({{"q_num_heads", int64_t{3}}}));
      },
      "Attention", {"q_num_heads"});
  expect_node_error(
      [&] {
        infer("Attention", {q, k, v, f32({3, 4})});
      },
      "Attention", {"attn_mask", "broadcast"});
  expect_node_error(
      [&] {
        infer("Attention", {q, k, v, none(), f32({1, 2, 2, 4})});
      },
      "Attention", {"past_key and past_value"});
  expect_node_error(
      [&] {
        infer("Attention", {q, k, v, none(), f32({1, 2, 2, 4}), f32({1, 2, 3, 4})});
      },
      "Attention", {"past_key and past_value"});
  expect_node_error(
      [&] {
        infer("Attention", {q, k, v}, attrs({{"is_causal", int64_t{2}}}));
      },
      "Attention", {"is_causal"});
  expect_node_error(
      [&] {
        infer("Attention", {q, k, v}, attrs({{"qk_matmul_output_mode", int64_t{4}}}));
      },
      "Attention", {"qk_matmul_output_mode"});
  expect_node_error(
      [&] {
        infer("Attention", {q, k, v}, attrs({{"scale", -1.0f}}));
      },
      "Attention", {"scale"});
  expect_node_error([&] { infer("Attention", {q, typed(DType::kF64, {1, 2, 5, 4}), v}); }, "Attention", {});
}

TEST(AttentionInference, UnsupportedFeaturesFailWithOneLine) {
  const Arg q = f32({1, 2, 3, 4}), k = f32({1, 2, 5, 4}), v = f32({1, 2, 5, 4});
  expect_node_error(
      [&] {
        infer("Attention", {q, k, v}, attrs({{"softmax_precision", int64_t{10}}}));
      },
      "Attention", {"softmax_precision"}, ErrorCode::kUnsupported);
  expect_node_error(
      [&] {
        infer("Attention", {q, k, v, typed(DType::kI64, {3, 5})});
      },
      "Attention", {"attn_mask"}, ErrorCode::kUnsupported);
  // Opset 24 changed the op (nonpad_kv_seqlen, padded masks): kiln claims opset 23 only.
  expect_node_error(
      [&] {
        infer("Attention", {q, k, v}, {}, 1, 24);
      },
      "Attention", {"opset 24"}, ErrorCode::kUnsupported);
}

// ---- RMSNormalization

TEST(RmsNormInference, ShapesAndErrors) {
  auto out = infer("RMSNormalization", {f32({"N", 3, 4}), f32({4})}, attrs({{"axis", int64_t{1}}}));
  EXPECT_EQ(out[0].shape, (Shape{"N", 3, 4}));
  EXPECT_EQ(infer("RMSNormalization", {f32({2, 4}), f32({4})}, {}, 1, 28)[0].shape, (Shape{2, 4}));
  expect_node_error(
      [] {
        infer("RMSNormalization", {f32({2, 4}), f32({4})}, attrs({{"axis", int64_t{2}}}));
      },
      "RMSNormalization", {"axis"});
  expect_node_error(
      [] {
        infer("RMSNormalization", {f32({2, 4}), f32({3})});
      },
      "RMSNormalization", {"scale", "broadcast"});
  expect_node_error([] { infer("RMSNormalization", {f32({}), f32({})}); }, "RMSNormalization", {"rank"});
  expect_node_error(
      [] {
        infer("RMSNormalization", {f32({2, 4}), typed(DType::kF64, {4})});
      },
      "RMSNormalization", {});
  expect_node_error(
      [] {
        infer("RMSNormalization", {typed(DType::kI64, {2, 4}), typed(DType::kI64, {4})});
      },
      "RMSNormalization", {});
  expect_node_error(
      [] {
        infer("RMSNormalization", {f32({2, 4}), f32({4})}, attrs({{"stash_type", int64_t{10}}}));
      },
      "RMSNormalization", {"stash_type"}, ErrorCode::kUnsupported);
  expect_node_error(
      [] {
        infer("RMSNormalization", {f32({2, 4}), f32({4})}, {}, 1, 22);
      },
      "RMSNormalization", {"opset 22"}, ErrorCode::kUnsupported);
}

// ---- RotaryEmbedding

TEST(RotaryInference, ShapesAndErrors) {
  EXPECT_EQ(
      infer("RotaryEmbedding", {f32({"B", 2, "S", 8}), f32({"B", "S", 4}), f32({"B", "S", 4})})[0].shape,
      (Shape{"B", 2, "S", 8}));
  EXPECT_EQ(
      infer("RotaryEmbedding", {f32({2, 3, 16}), f32({10, 2}), f32({10, 2}), typed(DType::kI64, {2, 3})},
            attrs({{"num_heads", int64_t{2}}, {"rotary_embedding_dim", int64_t{4}}}))[0]
          .shape,
      (Shape{2, 3, 16}));
  const Arg cache = f32({2, 3, 2});
  expect_node_error(
      [&] {
        infer("RotaryEmbedding", {f32({2, 3, 8}), cache, cache});
      },
      "RotaryEmbedding", {"num_heads"});
  expect_node_error(
      [&] {
        infer("RotaryEmbedding", {f32({3, 8}), cache, cache});
      },
      "RotaryEmbedding", {"rank"});
  expect_node_error(
      [&] {
        infer("RotaryEmbedding", {f32({2, 3, 9}), cache, cache}, attrs({{"num_heads", int64_t{2}}}));
      },
      "RotaryEmbedding", {"hidden size 9"});
  expect_node_error(
      [&] {
        infer("RotaryEmbedding", {f32({2, 1, 3, 4}), f32({2, 3, 1}), f32({2, 3, 1})},
              attrs({{"rotary_embedding_dim", int64_t{3}}}));
      },
      "RotaryEmbedding", {"odd"});
  expect_node_error(
      [&] {
        infer("RotaryEmbedding", {f32({2, 1, 3, 4}), cache, cache},
              attrs({{"rotary_embedding_dim", int64_t{6}}}));
      },
      "RotaryEmbedding", {"rotary_embedding_dim"});
  expect_node_error(
      [&] {
        infer("RotaryEmbedding", {f32({2, 1, 3, 4}), f32({2, 3, 3}), f32({2, 3, 3})});
      },
      "RotaryEmbedding", {"cos_cache"});
  expect_node_error(
      [&] {
        infer("RotaryEmbedding", {f32({2, 1, 3, 4}), f32({7, 2}), f32({7, 2})});
      },
      "RotaryEmbedding", {"cos_cache", "without position_ids"});
  expect_node_error(
      [&] {
        infer("RotaryEmbedding", {f32({2, 1, 3, 4}), cache, cache, typed(DType::kI64, {2, 3})});
      },
      "RotaryEmbedding", {"cos_cache", "with position_ids"});
  expect_node_error(
      [&] {
        infer("RotaryEmbedding", {f32({2, 1, 3, 4}), f32({7, 2}), f32({7, 2}), typed(DType::kI64, {3, 3})});
      },
      "RotaryEmbedding", {"position_ids"});
  expect_node_error(
      [&] {
        infer("RotaryEmbedding", {f32({2, 1, 3, 4}), f32({7, 2}), f32({7, 2}), typed(DType::kF32, {2, 3})});
      },
      "RotaryEmbedding", {});
  expect_node_error(
      [&] {
        infer("RotaryEmbedding", {f32({2, 1, 3, 4}), cache, cache}, attrs({{"interleaved", int64_t{2}}}));
      },
      "RotaryEmbedding", {"interleaved"});
}

}  // namespace
}  // namespace kiln
