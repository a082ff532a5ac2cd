// Shape and dtype inference of every built-in op (runtime/ops/*.cpp): static and symbolic
// dims, opset-dependent forms, folding of shape arithmetic, and the errors for bad nodes.

#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <utility>

#include "kiln/runtime/graph.h"
#include "kiln/runtime/op_registry.h"
#include "test_errors.h"

namespace kiln {
namespace {

// --- A one-node graph: inputs are typed values (unknown content) or constants (initializers).

struct Arg {
  DType dtype = DType::kUndefined;
  Shape shape;
  std::optional<Tensor> value;
  bool omitted = false;
};

Arg in(DType dtype, Shape shape) { return {dtype, std::move(shape), std::nullopt, false}; }
Arg f32(Shape shape) { return in(DType::kF32, std::move(shape)); }
Arg i64(Shape shape) { return in(DType::kI64, std::move(shape)); }
Arg val(Tensor t) { return {t.dtype(), Shape::of(t.shape()), std::move(t), false}; }
Arg ints(std::vector<int64_t> v) {
  auto n = static_cast<int64_t>(v.size());
  return val(Tensor::from_vector<int64_t>({n}, v));
}
Arg int_scalar(int64_t v) { return val(Tensor::scalar<int64_t>(v)); }
Arg float_scalar(float v) { return val(Tensor::scalar<float>(v)); }
Arg none() { return {DType::kUndefined, Shape(), std::nullopt, true}; }

Attributes attrs(std::initializer_list<std::pair<std::string, Attribute>> list) {
  Attributes a;
  for (const auto& [name, value] : list) a.set(name, value);
  return a;
}

struct Result {
  Graph graph;
  std::vector<Value*> outputs;
  const Value& out(size_t i = 0) const { return *outputs.at(i); }
  const Shape& shape(size_t i = 0) const { return out(i).shape(); }
  DType dtype(size_t i = 0) const { return out(i).dtype(); }
};

std::string node_name(const std::string& op) { return op + "_7"; }

// Builds "<op>_7" over args at opset, validates the graph and returns its output values.
Result run(const std::string& op, std::vector<Arg> args, Attributes a = {}, int opset = kLatestOpset,
           size_t num_outputs = 1) {
  Result r;
  r.graph.set_opset("", opset);
  NodeSpec spec{op, {}, {}, std::move(a), node_name(op)};
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].omitted) {
      spec.inputs.emplace_back();
      continue;
    }
    std::string name = "in" + std::to_string(i);
    if (args[i].value)
      r.graph.add_initializer(name, *args[i].value);
    else
      r.graph.add_input(name, args[i].dtype, args[i].shape);
    spec.inputs.push_back(name);
  }
  for (size_t i = 0; i < num_outputs; ++i) spec.outputs.push_back("out" + std::to_string(i));
  r.graph.add_node(std::move(spec));
  for (size_t i = 0; i < num_outputs; ++i) r.graph.add_output("out" + std::to_string(i));
  validate(r.graph);
  for (size_t i = 0; i < num_outputs; ++i) r.outputs.push_back(r.graph.find_value("out" + std::to_string(i)));
  return r;
}

// The folded value of out(0), as int64s, when inference computed one.
std::optional<std::vector<int64_t>> folded(const std::string& op, std::vector<Arg> args, Attributes a = {},
                                           int opset = kLatestOpset) {
  Result r;
  r.graph.set_opset("", opset);
  NodeSpec spec{op, {}, {"y"}, std::move(a), node_name(op)};
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = "in" + std::to_string(i);
    if (args[i].value)
      r.graph.add_initializer(name, *args[i].value);
    else
      r.graph.add_input(name, args[i].dtype, args[i].shape);
    spec.inputs.push_back(name);
  }
  Node* node = r.graph.add_node(std::move(spec));
  std::vector<ValueType> types;
  std::vector<const Tensor*> values;
  for (Value* v : node->inputs()) {
    types.push_back({v->dtype(), v->shape()});
    values.push_back(v->initializer());
  }
  InferContext c = infer_node(*node, OpRegistry::builtin().lookup(*node, opset), opset, types, values);
  const std::optional<Tensor>& t = c.output_values()[0];
  if (!t) return std::nullopt;
  if (t->dtype() == DType::kI64) return t->to_vector<int64_t>();
  if (t->dtype() == DType::kI32) {
    auto v = t->to_vector<int32_t>();
    return std::vector<int64_t>(v.begin(), v.end());
  }
  if (t->dtype() == DType::kBool) {
    auto v = t->to_vector<bool>();
    return std::vector<int64_t>(v.begin(), v.end());
  }
  return std::nullopt;
}

// A shape error on node <op>_7: kInvalidArgument naming the node and containing needle.
#define EXPECT_SHAPE_ERROR(op, call, needle)               \
  expect_error([&] { call; }, ErrorCode::kInvalidArgument, \
               {"node '" + node_name(op) + "' (" + std::string(op) + ")", std::string(needle)})

const Dim kUnknown;

// --- The registry as a whole

TEST(OpRegistry, DefinesEveryOpOfTheFoundationOnce) {
  const char* const kOps[] = {"MatMul",
                              "Gemm",
                              "Conv",
                              "ConvTranspose",
                              "MaxPool",
                              "AveragePool",
                              "GlobalAveragePool",
                              "GlobalMaxPool",
                              "BatchNormalization",
                              "LayerNormalization",
                              "Softmax",
                              "LogSoftmax",
                              "Relu",
                              "LeakyRelu",
                              "Sigmoid",
                              "Tanh",
                              "Erf",
                              "Gelu",
                              "Exp",
                              "Log",
                              "Sqrt",
                              "Abs",
                              "Neg",
                              "Clip",
                              "Pow",
                              "Add",
                              "Sub",
                              "Mul",
                              "Div",
                              "ReduceSum",
                              "ReduceMean",
                              "ReduceMax",
                              "Reshape",
                              "Flatten",
                              "Squeeze",
                              "Unsqueeze",
                              "Shape",
                              "Identity",
                              "Transpose",
                              "Concat",
                              "Split",
                              "Slice",
                              "Gather",
                              "Expand",
                              "Tile",
                              "Pad",
                              "Constant",
                              "ConstantOfShape",
                              "Range",
                              "Cast",
                              "Where",
                              "Equal",
                              "Less",
                              "Greater"};
  const OpRegistry& r = OpRegistry::builtin();
  for (const char* op : kOps) {
    const OpDef* def = r.find(op);
    ASSERT_NE(def, nullptr) << op;
    EXPECT_TRUE(def->infer_fn()) << op;
    // Every op covers opsets 7..18, or from the opset where ONNX introduced it.
    static const std::map<std::string, int> kIntroduced{
        {"Erf", 9},   {"Expand", 8}, {"ConstantOfShape", 9},
        {"Where", 9}, {"Range", 11}, {"LayerNormalization", 17}};
    auto it = kIntroduced.find(op);
    EXPECT_LE(def->since(), it == kIntroduced.end() ? 7 : it->second) << op;
    EXPECT_EQ(def->until(), kLatestOpset) << op;
  }
  EXPECT_GE(r.all().size(), std::size(kOps));  // later issues add ops
}

TEST(OpRegistry, SchemaDefaultsHaveTheDeclaredTypes) {
  for (const OpDef* def : OpRegistry::builtin().all()) {
    std::set<std::string> names;
    for (const AttrSpec& spec : def->attr_specs()) {
      EXPECT_TRUE(names.insert(spec.name).second) << def->name() << "." << spec.name << " declared twice";
      if (spec.default_value) {
        EXPECT_EQ(type_of(*spec.default_value), spec.type) << def->name() << "." << spec.name;
      }
      EXPECT_FALSE(spec.required && spec.default_value) << def->name() << "." << spec.name;
    }
    for (int i : def->shape_input_indices()) EXPECT_LT(i, def->max_inputs()) << def->name();
  }
}

TEST(OpRegistry, OpsOnlyPresentInLaterOpsetsAreUnsupportedEarlier) {
  expect_error(
      [] {
        run("LayerNormalization", {f32({2, 3}), f32({3})}, {}, 16);
      },
      ErrorCode::kUnsupported, {"LayerNormalization_7", "opset 16"});
  expect_error([] { run("Erf", {f32({2})}, {}, 8); }, ErrorCode::kUnsupported, {"Erf_7"});
  expect_error(
      [] {
        run("Range", {int_scalar(0), int_scalar(4), int_scalar(1)}, {}, 10);
      },
      ErrorCode::kUnsupported, {"Range_7"});
  // Gelu is accepted at every opset (ONNX adds it at 20).
  EXPECT_EQ(run("Gelu", {f32({2})}, {}, 7).shape(), (Shape{2}));
}

TEST(OpRegistry, UnknownOpIsUnsupported) {
  expect_error([] { run("Frobnicate", {f32({2})}); }, ErrorCode::kUnsupported,
               {"node 'Frobnicate_7' (Frobnicate): unknown op 'Frobnicate'"});
}

TEST(OpRegistry, UnknownAttributeIsAnError) {
  expect_error(
      [] {
        run("Relu", {f32({2})}, attrs({{"alpha", 0.5f}}));
      },
      ErrorCode::kInvalidArgument, {"node 'Relu_7' (Relu)", "unknown attribute 'alpha'"});
  // AveragePool has no dilations before opset 19.
  expect_error(
      [] {
        run("AveragePool", {f32({1, 1, 4, 4})},
            attrs({{"kernel_shape", std::vector<int64_t>{2, 2}}, {"dilations", std::vector<int64_t>{1, 1}}}),
            18);
      },
      ErrorCode::kInvalidArgument, {"AveragePool_7", "attribute 'dilations' needs opset >= 19"});
}

TEST(OpRegistry, AttributeOfTheWrongTypeIsAnError) {
  expect_error(
      [] {
        run("Concat", {f32({2}), f32({2})}, attrs({{"axis", 0.0f}}));
      },
      ErrorCode::kInvalidArgument,
      {"node 'Concat_7' (Concat)", "attribute 'axis' has type float, expected int"});
  expect_error(
      [] {
        run("Transpose", {f32({2, 3})}, attrs({{"perm", int64_t{1}}}));
      },
      ErrorCode::kInvalidArgument, {"Transpose_7", "'perm'"});
}

TEST(OpRegistry, MissingRequiredAttributeIsAnError) {
  expect_error(
      [] {
        run("Concat", {f32({2}), f32({2})});
      },
      ErrorCode::kInvalidArgument, {"Concat_7", "required attribute 'axis'"});
  expect_error([] { run("Cast", {f32({2})}); }, ErrorCode::kInvalidArgument, {"Cast_7", "'to'"});
}

TEST(OpRegistry, WrongArityIsAnError) {
  expect_error([] { run("MatMul", {f32({2, 2})}); }, ErrorCode::kInvalidArgument, {"MatMul_7", "inputs"});
  expect_error([] { run("Relu", {f32({2})}, {}, kLatestOpset, 2); }, ErrorCode::kInvalidArgument,
               {"Relu_7", "outputs"});
}

// --- matmul

TEST(OpInference, MatMul) {
  EXPECT_EQ(run("MatMul", {f32({2, 3}), f32({3, 4})}).shape(), (Shape{2, 4}));
  EXPECT_EQ(run("MatMul", {f32({"N", 2, 3}), f32({3, 5})}).shape(), (Shape{"N", 2, 5}));
  EXPECT_EQ(run("MatMul", {f32({3}), f32({3, 4})}).shape(), (Shape{4}));
  EXPECT_EQ(run("MatMul", {f32({2, 3}), f32({3})}).shape(), (Shape{2}));
  EXPECT_EQ(run("MatMul", {f32({3}), f32({3})}).shape(), (Shape{}));
  EXPECT_EQ(run("MatMul", {f32({2, 1, 3, 4}), f32({5, 4, 6})}).shape(), (Shape{2, 5, 3, 6}));
  EXPECT_EQ(run("MatMul", {f32({"B", "M", "K"}), f32({"K", 7})}).shape(), (Shape{"B", "M", 7}));
  EXPECT_EQ(run("MatMul", {f32(Shape::unknown_rank()), f32({3, 4})}).shape(), Shape::unknown_rank());
  EXPECT_SHAPE_ERROR("MatMul", run("MatMul", {f32({2, 3}), f32({4, 5})}), "inner dims differ: [2,3] x [4,5]");
  EXPECT_SHAPE_ERROR("MatMul", run("MatMul", {f32({2, 2, 3}), f32({3, 3, 4})}), "batch dims");
  EXPECT_SHAPE_ERROR("MatMul", run("MatMul", {f32({}), f32({3})}), "rank >= 1");
  EXPECT_SHAPE_ERROR("MatMul", run("MatMul", {f32({2, 3}), in(DType::kF64, {3, 2})}), "same dtype");
}

TEST(OpInference, Gemm) {
  EXPECT_EQ(run("Gemm", {f32({2, 3}), f32({3, 4})}).shape(), (Shape{2, 4}));
  EXPECT_EQ(run("Gemm", {f32({3, 2}), f32({4, 3}), f32({4})},
                attrs({{"transA", int64_t{1}}, {"transB", int64_t{1}}}))
                .shape(),
            (Shape{2, 4}));
  EXPECT_EQ(
      run("Gemm", {f32({"N", 8}), f32({10, 8}), f32({10})}, attrs({{"transB", int64_t{1}}, {"alpha", 2.0f}}))
          .shape(),
      (Shape{"N", 10}));
  EXPECT_SHAPE_ERROR("Gemm", run("Gemm", {f32({2, 3}), f32({4, 5})}), "inner dims differ");
  EXPECT_SHAPE_ERROR("Gemm", run("Gemm", {f32({2, 3}), f32({3, 4}), f32({3})}), "input C has shape [3]");
  EXPECT_SHAPE_ERROR("Gemm", run("Gemm", {f32({2, 3, 1}), f32({3, 4})}), "expected rank 2");
  // C is optional only from opset 11.
  EXPECT_EQ(run("Gemm", {f32({2, 3}), f32({3, 4})}, {}, 11).shape(), (Shape{2, 4}));
  EXPECT_SHAPE_ERROR("Gemm", run("Gemm", {f32({2, 3}), f32({3, 4})}, {}, 9), "input C is required");
}

// --- conv

TEST(OpInference, Conv) {
  auto ks = [](std::vector<int64_t> v) { return Attribute(std::move(v)); };
  EXPECT_EQ(
      run("Conv", {f32({1, 3, 32, 32}), f32({8, 3, 3, 3})}, attrs({{"pads", ks({1, 1, 1, 1})}})).shape(),
      (Shape{1, 8, 32, 32}));
  EXPECT_EQ(run("Conv", {f32({1, 3, 32, 32}), f32({8, 3, 3, 3}), f32({8})},
                attrs({{"pads", ks({1, 1, 1, 1})}, {"strides", ks({2, 2})}}))
                .shape(),
            (Shape{1, 8, 16, 16}));
  // Symbolic batch and spatial dims: a 1x1 conv keeps the spatial symbols.
  EXPECT_EQ(run("Conv", {f32({"N", 3, "H", "W"}), f32({8, 3, 1, 1})}).shape(), (Shape{"N", 8, "H", "W"}));
  EXPECT_EQ(run("Conv", {f32({"N", 3, "H", "W"}), f32({8, 3, 3, 3})}).shape(),
            (Shape{"N", 8, kUnknown, kUnknown}));
  EXPECT_EQ(run("Conv", {f32({"N", 3, "H", "W"}), f32({8, 3, 3, 3})},
                attrs({{"auto_pad", std::string("SAME_UPPER")}}))
                .shape(),
            (Shape{"N", 8, "H", "W"}));
  EXPECT_EQ(run("Conv", {f32({1, 3, 7, 7}), f32({8, 3, 3, 3})},
                attrs({{"auto_pad", std::string("SAME_LOWER")}, {"strides", ks({2, 2})}}))
                .shape(),
            (Shape{1, 8, 4, 4}));
  EXPECT_EQ(run("Conv", {f32({1, 3, 7, 7}), f32({8, 3, 3, 3})}, attrs({{"auto_pad", std::string("VALID")}}))
                .shape(),
            (Shape{1, 8, 5, 5}));
  // 1-D with dilation; groups.
  EXPECT_EQ(run("Conv", {f32({1, 2, 10}), f32({4, 2, 3})}, attrs({{"dilations", ks({2})}})).shape(),
            (Shape{1, 4, 6}));
  EXPECT_EQ(run("Conv", {f32({1, 4, 5, 5}), f32({6, 2, 3, 3})}, attrs({{"group", int64_t{2}}})).shape(),
            (Shape{1, 6, 3, 3}));
  EXPECT_EQ(run("Conv", {f32({1, 4, 5, 5}), f32({4, 1, 3, 3})}, attrs({{"group", int64_t{4}}})).shape(),
            (Shape{1, 4, 3, 3}));
  EXPECT_EQ(
      run("Conv", {f32({1, 3, 5, 5}), f32({8, 3, 3, 3})}, attrs({{"kernel_shape", ks({3, 3})}})).shape(),
      (Shape{1, 8, 3, 3}));

  EXPECT_SHAPE_ERROR("Conv",
                     run("Conv", {f32({1, 4, 5, 5}), f32({6, 3, 3, 3})}, attrs({{"group", int64_t{2}}})),
                     "has 4 channels, but weight W [6,3,3,3] expects 6");
  EXPECT_SHAPE_ERROR("Conv",
                     run("Conv", {f32({1, 4, 5, 5}), f32({5, 2, 3, 3})}, attrs({{"group", int64_t{2}}})),
                     "not divisible by group 2");
  EXPECT_SHAPE_ERROR("Conv", run("Conv", {f32({1, 3, 5, 5}), f32({8, 3, 3})}), "ranks must match");
  EXPECT_SHAPE_ERROR("Conv", run("Conv", {f32({1, 3, 5, 5}), f32({8, 3, 3, 3}), f32({7})}),
                     "bias B has shape [7]");
  EXPECT_SHAPE_ERROR("Conv", run("Conv", {f32({1, 3, 2, 2}), f32({8, 3, 3, 3})}), "smaller than the window");
  EXPECT_SHAPE_ERROR("Conv",
                     run("Conv", {f32({1, 3, 5, 5}), f32({8, 3, 3, 3})}, attrs({{"strides", ks({1})}})),
                     "'strides' has 1 values, expected 2");
  EXPECT_SHAPE_ERROR(
      "Conv", run("Conv", {f32({1, 3, 5, 5}), f32({8, 3, 3, 3})}, attrs({{"kernel_shape", ks({2, 2})}})),
      "differs from the weight");
  EXPECT_SHAPE_ERROR(
      "Conv", run("Conv", {f32({1, 3, 5, 5}), f32({8, 3, 3, 3})}, attrs({{"auto_pad", std::string("SAME")}})),
      "auto_pad is 'SAME'");
  EXPECT_SHAPE_ERROR("Conv", run("Conv", {in(DType::kI64, {1, 3, 5, 5}), in(DType::kI64, {8, 3, 3, 3})}),
                     "floating-point");
}

TEST(OpInference, ConvTranspose) {
  auto ks = [](std::vector<int64_t> v) { return Attribute(std::move(v)); };
  EXPECT_EQ(
      run("ConvTranspose", {f32({1, 4, 5, 5}), f32({4, 2, 3, 3})}, attrs({{"strides", ks({2, 2})}})).shape(),
      (Shape{1, 2, 11, 11}));
  EXPECT_EQ(run("ConvTranspose", {f32({1, 4, 5, 5}), f32({4, 2, 3, 3}), f32({4})},
                attrs({{"strides", ks({2, 2})},
                       {"group", int64_t{2}},
                       {"output_padding", ks({1, 1})},
                       {"pads", ks({1, 1, 1, 1})}}))
                .shape(),
            (Shape{1, 4, 10, 10}));
  EXPECT_EQ(run("ConvTranspose", {f32({1, 4, 5, 5}), f32({4, 2, 3, 3})},
                attrs({{"strides", ks({2, 2})}, {"output_shape", ks({10, 10})}}))
                .shape(),
            (Shape{1, 2, 10, 10}));
  EXPECT_EQ(run("ConvTranspose", {f32({"N", 4, "H", 5}), f32({4, 2, 3, 3})},
                attrs({{"strides", ks({2, 2})}, {"auto_pad", std::string("SAME_UPPER")}}))
                .shape(),
            (Shape{"N", 2, kUnknown, 10}));
  EXPECT_EQ(run("ConvTranspose", {f32({1, 2, 6}), f32({2, 3, 4})}).shape(), (Shape{1, 3, 9}));
  EXPECT_SHAPE_ERROR("ConvTranspose", run("ConvTranspose", {f32({1, 3, 5, 5}), f32({4, 2, 3, 3})}),
                     "has 3 channels, but weight W [4,2,3,3] expects 4");
  EXPECT_SHAPE_ERROR("ConvTranspose", run("ConvTranspose", {f32({1, 4, 5, 5}), f32({4, 2, 3, 3}), f32({3})}),
                     "bias B");
}

// --- pool

TEST(OpInference, MaxPool) {
  auto ks = [](std::vector<int64_t> v) { return Attribute(std::move(v)); };
  EXPECT_EQ(
      run("MaxPool", {f32({1, 3, 32, 32})}, attrs({{"kernel_shape", ks({2, 2})}, {"strides", ks({2, 2})}}))
          .shape(),
      (Shape{1, 3, 16, 16}));
  EXPECT_EQ(run("MaxPool", {f32({"N", "C", 9, "W"})},
                attrs({{"kernel_shape", ks({3, 3})}, {"strides", ks({2, 2})}}))
                .shape(),
            (Shape{"N", "C", 4, kUnknown}));
  // ceil_mode rounds up, but drops a window that would start in the end padding.
  EXPECT_EQ(run("MaxPool", {f32({1, 1, 5, 5})},
                attrs({{"kernel_shape", ks({2, 2})}, {"strides", ks({2, 2})}, {"ceil_mode", int64_t{1}}}))
                .shape(),
            (Shape{1, 1, 3, 3}));
  EXPECT_EQ(run("MaxPool", {f32({1, 1, 5, 5})},
                attrs({{"kernel_shape", ks({2, 2})},
                       {"strides", ks({2, 2})},
                       {"pads", ks({1, 1, 1, 1})},
                       {"ceil_mode", int64_t{1}}}))
                .shape(),
            (Shape{1, 1, 3, 3}));
  EXPECT_EQ(
      run("MaxPool", {f32({1, 1, 7})}, attrs({{"kernel_shape", ks({2})}, {"dilations", ks({2})}})).shape(),
      (Shape{1, 1, 5}));
  Result r = run("MaxPool", {f32({2, 3, 8, 8})},
                 attrs({{"kernel_shape", ks({2, 2})}, {"strides", ks({2, 2})}}), kLatestOpset, 2);
  EXPECT_EQ(r.shape(1), (Shape{2, 3, 4, 4}));
  EXPECT_EQ(r.dtype(1), DType::kI64);
  expect_error(
      [&] {
        run("MaxPool", {f32({1, 3, 8, 8})});
      },
      ErrorCode::kInvalidArgument, {"MaxPool_7", "required attribute 'kernel_shape'"});
  EXPECT_SHAPE_ERROR("MaxPool", run("MaxPool", {f32({1, 3, 8, 8})}, attrs({{"kernel_shape", ks({2})}})),
                     "input X [1,3,8,8] has 2 spatial dims");
  EXPECT_SHAPE_ERROR("MaxPool", run("MaxPool", {f32({8, 8})}, attrs({{"kernel_shape", ks({2})}})),
                     "rank >= 3");
}

TEST(OpInference, AveragePool) {
  auto ks = [](std::vector<int64_t> v) { return Attribute(std::move(v)); };
  EXPECT_EQ(run("AveragePool", {f32({1, 3, 7, 7})},
                attrs({{"kernel_shape", ks({3, 3})},
                       {"strides", ks({2, 2})},
                       {"pads", ks({1, 1, 1, 1})},
                       {"count_include_pad", int64_t{1}}}))
                .shape(),
            (Shape{1, 3, 4, 4}));
  EXPECT_EQ(run("AveragePool", {f32({"N", 3, 6, 6})},
                attrs({{"kernel_shape", ks({3, 3})},
                       {"auto_pad", std::string("SAME_UPPER")},
                       {"strides", ks({2, 2})}}))
                .shape(),
            (Shape{"N", 3, 3, 3}));
  EXPECT_SHAPE_ERROR(
      "AveragePool",
      run("AveragePool", {f32({1, 3, 7, 7})}, attrs({{"kernel_shape", ks({3, 3})}, {"pads", ks({1, 1})}})),
      "'pads' has 2 values, expected 4");
}

TEST(OpInference, GlobalAveragePool) {
  EXPECT_EQ(run("GlobalMaxPool", {f32({"N", "C", "H", "W"})}).shape(), (Shape{"N", "C", 1, 1}));
  EXPECT_EQ(run("GlobalAveragePool", {f32({"N", "C", "H", "W"})}).shape(), (Shape{"N", "C", 1, 1}));
  EXPECT_EQ(run("GlobalAveragePool", {f32({2, 3, 5})}).shape(), (Shape{2, 3, 1}));
  EXPECT_SHAPE_ERROR("GlobalAveragePool", run("GlobalAveragePool", {f32({2, 3})}), "rank >= 3");
}

// --- norm

TEST(OpInference, BatchNormalization) {
  std::vector<Arg> args{f32({"N", 3, "H", "W"}), f32({3}), f32({3}), f32({3}), f32({3})};
  EXPECT_EQ(run("BatchNormalization", args).shape(), (Shape{"N", 3, "H", "W"}));
  EXPECT_EQ(run("BatchNormalization", {f32({4, 3}), f32({3}), f32({3}), f32({3}), f32({3})}).shape(),
            (Shape{4, 3}));
  Result train = run("BatchNormalization", args, attrs({{"training_mode", int64_t{1}}}), 15, 3);
  EXPECT_EQ(train.shape(1), (Shape{3}));
  EXPECT_EQ(train.shape(2), (Shape{3}));
  EXPECT_EQ(run("BatchNormalization", args, {}, 9, 5).shape(4), (Shape{3}));
  EXPECT_EQ(run("BatchNormalization", args, attrs({{"spatial", int64_t{1}}}), 7).shape(),
            (Shape{"N", 3, "H", "W"}));
  EXPECT_SHAPE_ERROR("BatchNormalization",
                     run("BatchNormalization", {f32({2, 3, 4, 4}), f32({4}), f32({3}), f32({3}), f32({3})}),
                     "scale has shape [4], expected [3]");
  EXPECT_SHAPE_ERROR("BatchNormalization", run("BatchNormalization", args, {}, 15, 3), "training_mode=1");
  EXPECT_SHAPE_ERROR("BatchNormalization",
                     run("BatchNormalization", args, attrs({{"spatial", int64_t{1}}}), 9),
                     "attribute 'spatial' is not valid at opset 9");
  EXPECT_SHAPE_ERROR("BatchNormalization",
                     run("BatchNormalization", args, attrs({{"training_mode", int64_t{1}}}), 13),
                     "needs opset >= 14");
}

TEST(OpInference, LayerNormalization) {
  Result r = run("LayerNormalization", {f32({"B", 5, 8}), f32({8}), f32({8})}, {}, 17, 3);
  EXPECT_EQ(r.shape(0), (Shape{"B", 5, 8}));
  EXPECT_EQ(r.shape(1), (Shape{"B", 5, 1}));
  EXPECT_EQ(r.dtype(2), DType::kF32);
  Result axis1 =
      run("LayerNormalization", {f32({2, 5, 8}), f32({5, 8})}, attrs({{"axis", int64_t{1}}}), 17, 2);
  EXPECT_EQ(axis1.shape(1), (Shape{2, 1, 1}));
  EXPECT_SHAPE_ERROR("LayerNormalization", run("LayerNormalization", {f32({2, 5, 8}), f32({7})}, {}, 17),
                     "Scale has shape [7]");
  EXPECT_SHAPE_ERROR("LayerNormalization",
                     run("LayerNormalization", {f32({2, 5, 8}), f32({8})}, attrs({{"axis", int64_t{3}}}), 17),
                     "axis 3 is out of range");
}

// --- softmax

TEST(OpInference, SoftmaxDefaultAxisDependsOnOpset) {
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    EXPECT_EQ(run(op, {f32({"N", 10})}, {}, 11).shape(), (Shape{"N", 10}));
    EXPECT_EQ(run(op, {f32({"N", 10})}, {}, 13).shape(), (Shape{"N", 10}));
    // Rank 1: the default axis is 1 (out of range) before opset 13 and -1 from 13 on.
    EXPECT_EQ(run(op, {f32({10})}, {}, 13).shape(), (Shape{10}));
    EXPECT_SHAPE_ERROR(op, run(op, {f32({10})}, {}, 11), "axis 1 is out of range for rank 1");
    EXPECT_EQ(run(op, {f32({2, 3, 4})}, attrs({{"axis", int64_t{-2}}}), 11).shape(), (Shape{2, 3, 4}));
    EXPECT_SHAPE_ERROR(op, run(op, {f32({2, 3})}, attrs({{"axis", int64_t{2}}})), "axis 2 is out of range");
    EXPECT_SHAPE_ERROR(op, run(op, {i64({2, 3})}), "floating-point");
  }
}

// --- activations

TEST(OpInference, UnaryActivationsKeepTypeAndShape) {
  for (const char* op :
       {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Erf", "Gelu", "Exp", "Log", "Sqrt", "Abs", "Neg"}) {
    Result r = run(op, {f32({"N", 3, kUnknown})});
    EXPECT_EQ(r.shape(), (Shape{"N", 3, kUnknown})) << op;
    EXPECT_EQ(r.dtype(), DType::kF32) << op;
    EXPECT_EQ(run(op, {in(DType::kF64, {})}).dtype(), DType::kF64) << op;
  }
  for (const char* op : {"Relu", "Abs", "Neg"}) EXPECT_EQ(run(op, {i64({4})}).dtype(), DType::kI64) << op;
  for (const char* op : {"Sigmoid", "Tanh", "Erf", "Exp", "Log", "Sqrt", "Gelu", "LeakyRelu"})
    EXPECT_SHAPE_ERROR(op, run(op, {i64({4})}), "floating-point");
  EXPECT_SHAPE_ERROR("Neg", run("Neg", {in(DType::kBool, {4})}), "numeric");
}

TEST(OpInference, LeakyReluAndGeluAttributes) {
  EXPECT_EQ(run("LeakyRelu", {f32({2})}, attrs({{"alpha", 0.2f}})).shape(), (Shape{2}));
  EXPECT_EQ(run("Gelu", {f32({2})}, attrs({{"approximate", std::string("tanh")}})).shape(), (Shape{2}));
  EXPECT_SHAPE_ERROR("Gelu", run("Gelu", {f32({2})}, attrs({{"approximate", std::string("fast")}})),
                     "approximate is 'fast'");
}

TEST(OpInference, ClipBoundsAreAttributesBeforeOpset11AndInputsAfter) {
  EXPECT_EQ(run("Clip", {f32({"N", 4})}, attrs({{"min", 0.0f}, {"max", 6.0f}}), 6).shape(), (Shape{"N", 4}));
  EXPECT_EQ(run("Clip", {f32({"N", 4}), float_scalar(0.0f), float_scalar(6.0f)}, {}, 13).shape(),
            (Shape{"N", 4}));
  EXPECT_EQ(run("Clip", {f32({2}), none(), float_scalar(6.0f)}, {}, 13).shape(), (Shape{2}));
  EXPECT_EQ(run("Clip", {i64({2}), int_scalar(0)}, {}, 13).dtype(), DType::kI64);
  EXPECT_SHAPE_ERROR("Clip", run("Clip", {f32({2})}, attrs({{"min", 0.0f}}), 11),
                     "attribute 'min' is not valid at opset 11");
  EXPECT_SHAPE_ERROR("Clip", run("Clip", {f32({2}), f32({2})}, {}, 13), "min must be a scalar");
  EXPECT_SHAPE_ERROR("Clip", run("Clip", {f32({2}), int_scalar(0)}, {}, 13), "same dtype");
  EXPECT_SHAPE_ERROR("Clip", run("Clip", {f32({2}), float_scalar(0.0f)}, {}, 9), "at most 1 inputs");
}

TEST(OpInference, Pow) {
  EXPECT_EQ(run("Pow", {f32({"N", 3}), f32({3})}).shape(), (Shape{"N", 3}));
  // From opset 12 the exponent may have another type; the output has the base's.
  Result r = run("Pow", {f32({2, 3}), int_scalar(2)}, {}, 15);
  EXPECT_EQ(r.dtype(), DType::kF32);
  EXPECT_SHAPE_ERROR("Pow", run("Pow", {f32({2, 3}), int_scalar(2)}, {}, 11), "same dtype");
  EXPECT_SHAPE_ERROR("Pow", run("Pow", {f32({2, 3}), f32({4})}), "not broadcastable");
}

// --- binary

TEST(OpInference, BinaryOpsBroadcast) {
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    EXPECT_EQ(run(op, {f32({"N", 1, 4}), f32({3, 1})}).shape(), (Shape{"N", 3, 4})) << op;
    EXPECT_EQ(run(op, {f32({"N", 4}), f32({1})}).shape(), (Shape{"N", 4})) << op;
    EXPECT_EQ(run(op, {f32({"N"}), f32({"N"})}).shape(), (Shape{"N"})) << op;
    EXPECT_EQ(run(op, {f32({"N"}), f32({"M"})}).shape(), (Shape{kUnknown})) << op;
    EXPECT_EQ(run(op, {f32({"N"}), f32({5})}).shape(), (Shape{5})) << op;
    EXPECT_EQ(run(op, {f32({}), f32({2, 0})}).shape(), (Shape{2, 0})) << op;
    EXPECT_EQ(run(op, {f32({2, 3}), f32(Shape::unknown_rank())}).shape(), Shape::unknown_rank()) << op;
    EXPECT_EQ(run(op, {i64({2}), i64({2})}).dtype(), DType::kI64) << op;
    EXPECT_SHAPE_ERROR(op, run(op, {f32({2, 3}), f32({4})}), "shapes [2,3] and [4] are not broadcastable");
    EXPECT_SHAPE_ERROR(op, run(op, {f32({2}), i64({2})}), "input 0 is f32 but input 1 is i64");
  }
}

TEST(OpInference, BinaryOpsFoldSmallIntegers) {
  EXPECT_EQ(folded("Add", {ints({1, 2}), int_scalar(10)}), (std::vector<int64_t>{11, 12}));
  EXPECT_EQ(folded("Sub", {ints({1, 2}), ints({3, 5})}), (std::vector<int64_t>{-2, -3}));
  EXPECT_EQ(folded("Mul", {ints({2, 3}), int_scalar(4)}), (std::vector<int64_t>{8, 12}));
  EXPECT_EQ(folded("Div", {ints({7, -7}), int_scalar(2)}), (std::vector<int64_t>{3, -3}));
  EXPECT_EQ(folded("Div", {ints({7}), int_scalar(0)}), std::nullopt);  // left to the kernel
  EXPECT_EQ(folded("Add", {ints({1, 2}), i64({2})}), std::nullopt);
}

// --- reduce

TEST(OpInference, ReduceSumAxesMoveToAnInputAtOpset13) {
  Attributes drop = attrs({{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}});
  EXPECT_EQ(run("ReduceSum", {f32({2, 3, 4})}, drop, 11).shape(), (Shape{2, 4}));
  EXPECT_EQ(run("ReduceSum", {f32({2, 3, 4}), ints({1})}, attrs({{"keepdims", int64_t{0}}}), 13).shape(),
            (Shape{2, 4}));
  EXPECT_EQ(run("ReduceSum", {f32({"N", 3, 4}), ints({-1})}, {}, 13).shape(), (Shape{"N", 3, 1}));
  EXPECT_EQ(run("ReduceSum", {f32({"N", 3, 4})}, {}, 13).shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(run("ReduceSum", {f32({"N", 3, 4})}, attrs({{"keepdims", int64_t{0}}}), 11).shape(), (Shape{}));
  EXPECT_EQ(run("ReduceSum", {f32({"N", 3, 4})}, attrs({{"noop_with_empty_axes", int64_t{1}}}), 13).shape(),
            (Shape{"N", 3, 4}));
  // Axes from a graph input: the rank is known, the dims are not.
  EXPECT_EQ(run("ReduceSum", {f32({2, 3, 4}), i64({1})}, attrs({{"keepdims", int64_t{0}}}), 13).shape(),
            (Shape{kUnknown, kUnknown}));
  EXPECT_EQ(run("ReduceSum", {f32({2, 3, 4}), i64({1})}, {}, 13).shape(),
            (Shape{kUnknown, kUnknown, kUnknown}));
  EXPECT_SHAPE_ERROR("ReduceSum", run("ReduceSum", {f32({2, 3})}, drop, 13),
                     "attribute 'axes' is not valid at opset 13");
  EXPECT_SHAPE_ERROR("ReduceSum", run("ReduceSum", {f32({2, 3}), ints({1})}, {}, 11), "at most 1 inputs");
  EXPECT_SHAPE_ERROR("ReduceSum", run("ReduceSum", {f32({2, 3}), ints({1, -1})}, {}, 13), "repeated");
  EXPECT_SHAPE_ERROR("ReduceSum", run("ReduceSum", {f32({2, 3}), ints({2})}, {}, 13),
                     "axis 2 is out of range");
  EXPECT_SHAPE_ERROR("ReduceSum",
                     run("ReduceSum", {f32({2})}, attrs({{"noop_with_empty_axes", int64_t{1}}}), 11),
                     "needs opset >= 13");
}

TEST(OpInference, ReduceMeanAndMaxAxesMoveToAnInputAtOpset18) {
  for (const char* op : {"ReduceMean", "ReduceMax"}) {
    EXPECT_EQ(run(op, {f32({"N", 3, 4})}, attrs({{"axes", std::vector<int64_t>{2, 1}}}), 17).shape(),
              (Shape{"N", 1, 1}))
        << op;
    EXPECT_EQ(run(op, {f32({"N", 3, 4}), ints({0})}, attrs({{"keepdims", int64_t{0}}}), 18).shape(),
              (Shape{3, 4}))
        << op;
    EXPECT_EQ(run(op, {f32({"N", 3, 4})}, attrs({{"keepdims", int64_t{0}}}), 18).shape(), (Shape{})) << op;
    EXPECT_SHAPE_ERROR(op, run(op, {f32({2, 3})}, attrs({{"axes", std::vector<int64_t>{0}}}), 18),
                       "attribute 'axes' is not valid at opset 18");
    EXPECT_SHAPE_ERROR(op, run(op, {f32({2, 3}), ints({0})}, {}, 13), "at most 1 inputs");
  }
}

// --- shape

TEST(OpInference, Reshape) {
  EXPECT_EQ(run("Reshape", {f32({2, 3, 4}), ints({0, -1})}).shape(), (Shape{2, 12}));
  EXPECT_EQ(run("Reshape", {f32({"N", 3, 4}), ints({0, -1})}).shape(), (Shape{"N", 12}));
  EXPECT_EQ(run("Reshape", {f32({"N", 12}), ints({-1, 3, 4})}).shape(), (Shape{"N", 3, 4}));
  EXPECT_EQ(run("Reshape", {f32({"N", 3, 4}), ints({-1, 12})}).shape(), (Shape{"N", 12}));
  EXPECT_EQ(run("Reshape", {f32({"N", 3}), ints({-1, 2})}).shape(), (Shape{kUnknown, 2}));
  EXPECT_EQ(run("Reshape", {f32({"N", "M"}), ints({-1})}).shape(), (Shape{kUnknown}));
  EXPECT_EQ(run("Reshape", {f32({"N", "M", 2}), ints({0, -1})}).shape(), (Shape{"N", kUnknown}));
  EXPECT_EQ(run("Reshape", {f32({2, 3}), ints({6})}).shape(), (Shape{6}));
  EXPECT_EQ(run("Reshape", {f32({0, 3}), ints({0, 3})}, attrs({{"allowzero", int64_t{1}}})).shape(),
            (Shape{0, 3}));
  // Shape from a graph input: the rank is its length.
  EXPECT_EQ(run("Reshape", {f32({2, 3}), i64({3})}).shape(), (Shape{kUnknown, kUnknown, kUnknown}));
  EXPECT_SHAPE_ERROR("Reshape", run("Reshape", {f32({2, 3}), ints({4, 2})}),
                     "cannot reshape [2,3] (6 elements) to [4,2] (8 elements)");
  EXPECT_SHAPE_ERROR("Reshape", run("Reshape", {f32({2, 3}), ints({4, -1})}), "do not divide");
  EXPECT_SHAPE_ERROR("Reshape", run("Reshape", {f32({2, 3}), ints({-1, -1})}), "more than one -1");
  EXPECT_SHAPE_ERROR("Reshape", run("Reshape", {f32({6}), ints({0, 0})}), "copies dim 1");
  EXPECT_SHAPE_ERROR("Reshape", run("Reshape", {f32({6}), ints({-2, 3})}), "invalid dim -2");
  EXPECT_SHAPE_ERROR("Reshape", run("Reshape", {f32({6}), ints({0, -1})}, attrs({{"allowzero", int64_t{1}}})),
                     "allowzero");
  EXPECT_SHAPE_ERROR("Reshape", run("Reshape", {f32({6}), ints({6})}, attrs({{"allowzero", int64_t{0}}}), 13),
                     "needs opset >= 14");
  EXPECT_SHAPE_ERROR("Reshape", run("Reshape", {f32({6}), val(Tensor::from_vector<float>({1}, {6.0f}))}),
                     "i64");
}

TEST(OpInference, Flatten) {
  EXPECT_EQ(run("Flatten", {f32({2, 3, 4})}).shape(), (Shape{2, 12}));
  EXPECT_EQ(run("Flatten", {f32({"N", 3, 4})}).shape(), (Shape{"N", 12}));
  EXPECT_EQ(run("Flatten", {f32({"N", 3, 4})}, attrs({{"axis", int64_t{0}}})).shape(), (Shape{1, kUnknown}));
  EXPECT_EQ(run("Flatten", {f32({2, 3, 4})}, attrs({{"axis", int64_t{-1}}})).shape(), (Shape{6, 4}));
  EXPECT_EQ(run("Flatten", {f32({2, 3, 4})}, attrs({{"axis", int64_t{3}}})).shape(), (Shape{24, 1}));
  EXPECT_SHAPE_ERROR("Flatten", run("Flatten", {f32({2, 3})}, attrs({{"axis", int64_t{3}}})),
                     "axis 3 is out of range");
}

TEST(OpInference, SqueezeAxesMoveToAnInputAtOpset13) {
  EXPECT_EQ(run("Squeeze", {f32({"N", 1, 4, 1})}, attrs({{"axes", std::vector<int64_t>{1}}}), 11).shape(),
            (Shape{"N", 4, 1}));
  EXPECT_EQ(run("Squeeze", {f32({"N", 1, 4, 1}), ints({1, -1})}, {}, 13).shape(), (Shape{"N", 4}));
  EXPECT_EQ(run("Squeeze", {f32({2, 1, 4, 1})}, {}, 13).shape(), (Shape{2, 4}));
  EXPECT_EQ(run("Squeeze", {f32({"N", 1})}, {}, 13).shape(), Shape::unknown_rank());  // N might be 1
  EXPECT_EQ(run("Squeeze", {f32({2, 1, 4}), i64({1})}, {}, 13).shape(), (Shape{kUnknown, kUnknown}));
  EXPECT_SHAPE_ERROR("Squeeze", run("Squeeze", {f32({2, 3}), ints({1})}, {}, 13),
                     "cannot squeeze axis 1 of shape [2,3]: its size is 3");
  EXPECT_SHAPE_ERROR("Squeeze", run("Squeeze", {f32({2, 1})}, attrs({{"axes", std::vector<int64_t>{1}}}), 13),
                     "attribute 'axes' is not valid at opset 13");
  EXPECT_SHAPE_ERROR("Squeeze", run("Squeeze", {f32({2, 1}), ints({1})}, {}, 11), "at most 1 inputs");
}

TEST(OpInference, UnsqueezeAxesMoveToAnInputAtOpset13) {
  EXPECT_EQ(run("Unsqueeze", {f32({2, 3})}, attrs({{"axes", std::vector<int64_t>{0, 3}}}), 11).shape(),
            (Shape{1, 2, 3, 1}));
  EXPECT_EQ(run("Unsqueeze", {f32({"N", 3}), ints({-1})}, {}, 13).shape(), (Shape{"N", 3, 1}));
  EXPECT_EQ(run("Unsqueeze", {f32({}), ints({0})}, {}, 13).shape(), (Shape{1}));
  EXPECT_EQ(run("Unsqueeze", {f32({2}), i64({2})}, {}, 13).shape(), (Shape{kUnknown, kUnknown, kUnknown}));
  EXPECT_SHAPE_ERROR("Unsqueeze", run("Unsqueeze", {f32({2})}, {}, 13), "axes");
  EXPECT_SHAPE_ERROR("Unsqueeze", run("Unsqueeze", {f32({2})}, {}, 11), "attribute 'axes' is required");
  EXPECT_SHAPE_ERROR("Unsqueeze", run("Unsqueeze", {f32({2}), ints({0, 0})}, {}, 13), "repeated");
  EXPECT_SHAPE_ERROR("Unsqueeze", run("Unsqueeze", {f32({2}), ints({2})}, {}, 13),
                     "axis 2 is out of range for rank 2");
}

TEST(OpInference, ShapeIsI64AndFoldsStaticDims) {
  Result sym = run("Shape", {f32({"N", 3, 4})});
  EXPECT_EQ(sym.dtype(), DType::kI64);
  EXPECT_EQ(sym.shape(), (Shape{3}));
  EXPECT_EQ(folded("Shape", {f32({"N", 3, 4})}), std::nullopt);
  EXPECT_EQ(folded("Shape", {f32({2, 3, 4})}), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(folded("Shape", {f32({})}), (std::vector<int64_t>{}));
  EXPECT_EQ(folded("Shape", {f32({"N", 3, 4})}, attrs({{"start", int64_t{1}}}), 15),
            (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(
      run("Shape", {f32({2, 3, 4, 5})}, attrs({{"start", int64_t{1}}, {"end", int64_t{-1}}}), 15).shape(),
      (Shape{2}));
  EXPECT_EQ(run("Shape", {f32(Shape::unknown_rank())}).shape(), (Shape{kUnknown}));
  EXPECT_SHAPE_ERROR("Shape", run("Shape", {f32({2})}, attrs({{"start", int64_t{1}}}), 13),
                     "needs opset >= 15");
}

TEST(OpInference, Identity) {
  Result r = run("Identity", {in(DType::kI32, {"N", 2})});
  EXPECT_EQ(r.shape(), (Shape{"N", 2}));
  EXPECT_EQ(r.dtype(), DType::kI32);
  EXPECT_EQ(folded("Identity", {ints({4, 5})}), (std::vector<int64_t>{4, 5}));
}

// --- movement

TEST(OpInference, Transpose) {
  EXPECT_EQ(run("Transpose", {f32({"N", 3, 4})}).shape(), (Shape{4, 3, "N"}));
  EXPECT_EQ(run("Transpose", {f32({"N", 3, 4})}, attrs({{"perm", std::vector<int64_t>{0, 2, 1}}})).shape(),
            (Shape{"N", 4, 3}));
  EXPECT_SHAPE_ERROR("Transpose",
                     run("Transpose", {f32({2, 3})}, attrs({{"perm", std::vector<int64_t>{0, 0}}})),
                     "not a permutation");
  EXPECT_SHAPE_ERROR("Transpose", run("Transpose", {f32({2, 3})}, attrs({{"perm", std::vector<int64_t>{0}}})),
                     "has rank 2");
}

TEST(OpInference, Concat) {
  Attributes axis1 = attrs({{"axis", int64_t{1}}});
  EXPECT_EQ(run("Concat", {f32({2, 3}), f32({2, 5})}, axis1).shape(), (Shape{2, 8}));
  EXPECT_EQ(run("Concat", {f32({"N", 3}), f32({"N", 5}), f32({"N", 1})}, axis1).shape(), (Shape{"N", 9}));
  EXPECT_EQ(run("Concat", {f32({"N", 3}), f32({"M", 3})}, attrs({{"axis", int64_t{0}}})).shape(),
            (Shape{kUnknown, 3}));
  EXPECT_EQ(run("Concat", {f32({kUnknown, 3}), f32({2, 3})}, axis1).shape(), (Shape{2, 6}));
  EXPECT_EQ(run("Concat", {f32({2, 3}), f32({2, 0})}, attrs({{"axis", int64_t{-1}}})).shape(), (Shape{2, 3}));
  EXPECT_SHAPE_ERROR("Concat", run("Concat", {f32({2, 3}), f32({2, 3, 1})}, axis1), "rank 3");
  EXPECT_SHAPE_ERROR("Concat", run("Concat", {f32({2, 3}), f32({4, 3})}, axis1),
                     "differs from [2,3] at dim 0");
  EXPECT_SHAPE_ERROR("Concat", run("Concat", {f32({2, 3}), i64({2, 3})}, axis1), "same dtype");
  EXPECT_SHAPE_ERROR("Concat", run("Concat", {f32({2, 3}), f32({2, 3})}, attrs({{"axis", int64_t{2}}})),
                     "axis 2 is out of range");
  EXPECT_EQ(folded("Concat", {ints({2}), ints({-1, 4})}, attrs({{"axis", int64_t{0}}})),
            (std::vector<int64_t>{2, -1, 4}));
}

TEST(OpInference, SplitFormsAcrossOpsets) {
  Result attr = run("Split", {f32({6, "N"})}, attrs({{"split", std::vector<int64_t>{2, 4}}}), 11, 2);
  EXPECT_EQ(attr.shape(0), (Shape{2, "N"}));
  EXPECT_EQ(attr.shape(1), (Shape{4, "N"}));
  Result input = run("Split", {f32({"N", 6}), ints({1, 5})}, attrs({{"axis", int64_t{-1}}}), 13, 2);
  EXPECT_EQ(input.shape(1), (Shape{"N", 5}));
  Result equal = run("Split", {f32({6, 2})}, {}, 13, 3);
  EXPECT_EQ(equal.shape(2), (Shape{2, 2}));
  Result chunks = run("Split", {f32({7})}, attrs({{"num_outputs", int64_t{3}}}), 18, 3);
  EXPECT_EQ(chunks.shape(0), (Shape{3}));
  EXPECT_EQ(chunks.shape(2), (Shape{1}));
  Result unknown = run("Split", {f32({6, 2}), i64({2})}, {}, 13, 2);
  EXPECT_EQ(unknown.shape(0), (Shape{kUnknown, 2}));
  Result symbolic = run("Split", {f32({"N", 2})}, {}, 13, 2);
  EXPECT_EQ(symbolic.shape(1), (Shape{kUnknown, 2}));
  EXPECT_SHAPE_ERROR("Split", run("Split", {f32({6})}, attrs({{"split", std::vector<int64_t>{2, 3}}}), 11, 2),
                     "sums to 5");
  EXPECT_SHAPE_ERROR("Split", run("Split", {f32({7})}, {}, 13, 2), "not divisible into 2");
  EXPECT_SHAPE_ERROR("Split", run("Split", {f32({6})}, {}, 18, 2), "num_outputs");
  EXPECT_SHAPE_ERROR("Split", run("Split", {f32({6})}, attrs({{"split", std::vector<int64_t>{3, 3}}}), 13, 2),
                     "attribute 'split' is not valid at opset 13");
  EXPECT_SHAPE_ERROR("Split", run("Split", {f32({6})}, attrs({{"num_outputs", int64_t{3}}}), 18, 2),
                     "num_outputs is 3, but the node has 2 outputs");
  EXPECT_SHAPE_ERROR("Split", run("Split", {f32({6}), ints({1, 2})}, {}, 13, 3),
                     "has 2 entries for 3 outputs");
}

TEST(OpInference, Slice) {
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(run("Slice", {f32({4, 5}), ints({1}), ints({3}), ints({1})}).shape(), (Shape{4, 2}));
  EXPECT_EQ(run("Slice", {f32({4, 10}), ints({0, 1}), ints({kMax, -1}), ints({0, 1}), ints({1, 2})}).shape(),
            (Shape{4, 4}));
  EXPECT_EQ(run("Slice", {f32({10}), ints({-1}), ints({-kMax}), ints({0}), ints({-1})}).shape(), (Shape{10}));
  EXPECT_EQ(run("Slice", {f32({10}), ints({8}), ints({2}), ints({0}), ints({-3})}).shape(), (Shape{2}));
  EXPECT_EQ(run("Slice", {f32({10}), ints({5}), ints({2})}).shape(), (Shape{0}));
  EXPECT_EQ(run("Slice", {f32({"N", 8}), ints({0, 2}), ints({kMax, 6})}).shape(), (Shape{"N", 4}));
  EXPECT_EQ(run("Slice", {f32({"N", 8}), ints({1}), ints({kMax})}).shape(), (Shape{kUnknown, 8}));
  // Opset 9: attributes.
  EXPECT_EQ(run("Slice", {f32({4, 5})},
                attrs({{"starts", std::vector<int64_t>{1}},
                       {"ends", std::vector<int64_t>{-1}},
                       {"axes", std::vector<int64_t>{0}}}),
                9)
                .shape(),
            (Shape{2, 5}));
  // Unknown starts: only the sliced axes become unknown.
  EXPECT_EQ(run("Slice", {f32({4, 5}), i64({1}), ints({3}), ints({1})}).shape(), (Shape{4, kUnknown}));
  EXPECT_SHAPE_ERROR("Slice", run("Slice", {f32({4}), ints({0}), ints({2}), ints({0}), ints({0})}),
                     "steps[0] is 0");
  EXPECT_SHAPE_ERROR("Slice", run("Slice", {f32({4}), ints({0}), ints({2, 3})}),
                     "starts has 1 entries but ends has 2");
  EXPECT_SHAPE_ERROR("Slice", run("Slice", {f32({4}), ints({0}), ints({2}), ints({1})}),
                     "axis 1 is out of range");
  EXPECT_SHAPE_ERROR("Slice", run("Slice", {f32({4})}, attrs({{"starts", std::vector<int64_t>{0}}}), 13),
                     "attribute 'starts' is not valid at opset 13");
  EXPECT_EQ(folded("Slice", {ints({5, 6, 7, 8}), ints({1}), ints({kMax})}), (std::vector<int64_t>{6, 7, 8}));
  EXPECT_EQ(folded("Slice", {ints({5, 6, 7, 8}), ints({-1}), ints({-kMax}), ints({0}), ints({-2})}),
            (std::vector<int64_t>{8, 6}));
}

TEST(OpInference, Gather) {
  EXPECT_EQ(run("Gather", {f32({5, 4}), i64({2, 3})}).shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(run("Gather", {f32({"N", 5, 4}), in(DType::kI32, {"K"})}, attrs({{"axis", int64_t{1}}})).shape(),
            (Shape{"N", "K", 4}));
  EXPECT_EQ(run("Gather", {f32({5, 4}), int_scalar(1)}).shape(), (Shape{4}));
  EXPECT_EQ(run("Gather", {f32({5, 4}), int_scalar(-5)}).shape(), (Shape{4}));
  EXPECT_SHAPE_ERROR("Gather", run("Gather", {f32({5, 4}), int_scalar(5)}),
                     "index 5 is out of range for axis 0 of size 5");
  EXPECT_SHAPE_ERROR("Gather", run("Gather", {f32({5, 4}), f32({2})}), "i64 or i32");
  EXPECT_SHAPE_ERROR("Gather", run("Gather", {f32({5, 4}), i64({2})}, attrs({{"axis", int64_t{2}}})),
                     "axis 2 is out of range");
  EXPECT_EQ(folded("Gather", {ints({7, 8, 9}), int_scalar(-1)}), (std::vector<int64_t>{9}));
  EXPECT_EQ(folded("Gather", {ints({7, 8, 9}), ints({2, 0})}), (std::vector<int64_t>{9, 7}));
}

TEST(OpInference, Expand) {
  EXPECT_EQ(run("Expand", {f32({3, 1}), ints({2, 1, 4})}).shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(run("Expand", {f32({"N", 1}), ints({1, 5})}).shape(), (Shape{"N", 5}));
  EXPECT_EQ(run("Expand", {f32({3, 1}), i64({3})}).shape(), (Shape{kUnknown, kUnknown, kUnknown}));
  EXPECT_SHAPE_ERROR("Expand", run("Expand", {f32({3, 2}), ints({4, 4})}), "not broadcastable");
  EXPECT_SHAPE_ERROR("Expand", run("Expand", {f32({3}), ints({-1})}), "negative");
  EXPECT_EQ(folded("Expand", {ints({4}), ints({3})}), (std::vector<int64_t>{4, 4, 4}));
}

TEST(OpInference, Tile) {
  EXPECT_EQ(run("Tile", {f32({2, 3}), ints({2, 1})}).shape(), (Shape{4, 3}));
  EXPECT_EQ(run("Tile", {f32({"N", 3}), ints({1, 2})}).shape(), (Shape{"N", 6}));
  EXPECT_EQ(run("Tile", {f32({"N", 3}), ints({2, 0})}).shape(), (Shape{kUnknown, 0}));
  EXPECT_EQ(run("Tile", {f32({2, 3}), i64({2})}).shape(), (Shape{kUnknown, kUnknown}));
  EXPECT_SHAPE_ERROR("Tile", run("Tile", {f32({2, 3}), ints({2})}), "repeats has 1 entries");
  EXPECT_SHAPE_ERROR("Tile", run("Tile", {f32({2, 3}), ints({2, -1})}), "repeats[1] is -1");
}

TEST(OpInference, PadFormsAcrossOpsets) {
  EXPECT_EQ(run("Pad", {f32({2, 3})}, attrs({{"pads", std::vector<int64_t>{0, 1, 0, 1}}}), 2).shape(),
            (Shape{2, 5}));
  EXPECT_EQ(
      run("Pad", {f32({2, 3})}, attrs({{"pads", std::vector<int64_t>{1, 0, 1, 0}}, {"value", 1.5f}}), 10)
          .shape(),
      (Shape{4, 3}));
  EXPECT_EQ(run("Pad", {f32({"N", 3, 4, 4}), ints({0, 0, 1, 1, 0, 0, 1, 1})}, {}, 13).shape(),
            (Shape{"N", 3, 6, 6}));
  EXPECT_EQ(run("Pad", {f32({2, 3}), ints({0, 1, 0, 1}), float_scalar(0.5f)},
                attrs({{"mode", std::string("reflect")}}), 13)
                .shape(),
            (Shape{2, 5}));
  EXPECT_EQ(run("Pad", {f32({2, 3}), ints({-1, 0, 0, 0})}, {}, 13).shape(), (Shape{1, 3}));
  EXPECT_EQ(run("Pad", {f32({2, 3, 4}), ints({1, 2}), none(), ints({-1})}, {}, 18).shape(), (Shape{2, 3, 7}));
  EXPECT_EQ(run("Pad", {f32({2, 3}), i64({4})}, {}, 13).shape(), (Shape{kUnknown, kUnknown}));
  EXPECT_SHAPE_ERROR("Pad", run("Pad", {f32({2, 3}), ints({0, 1})}, {}, 13), "expected 4");
  EXPECT_SHAPE_ERROR("Pad", run("Pad", {f32({2, 3}), ints({-3, 0, 0, 0})}, {}, 13), "remove more than");
  EXPECT_SHAPE_ERROR("Pad", run("Pad", {f32({2}), ints({1, 1})}, attrs({{"mode", std::string("wrap")}}), 13),
                     "mode 'wrap' needs opset >= 19");
  EXPECT_SHAPE_ERROR("Pad",
                     run("Pad", {f32({2}), ints({1, 1})}, attrs({{"mode", std::string("circular")}}), 13),
                     "mode is 'circular'");
  EXPECT_SHAPE_ERROR("Pad", run("Pad", {f32({2})}, attrs({{"pads", std::vector<int64_t>{1, 1}}}), 11),
                     "attribute 'pads' is not valid at opset 11");
  EXPECT_SHAPE_ERROR("Pad", run("Pad", {f32({2}), ints({1, 1}), int_scalar(0)}, {}, 13), "same dtype");
  EXPECT_SHAPE_ERROR("Pad", run("Pad", {f32({2}), ints({1, 1}), none(), ints({0})}, {}, 13),
                     "at most 3 inputs");
}

// --- generators

TEST(OpInference, Constant) {
  Tensor t = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  Result r = run("Constant", {}, attrs({{"value", t}}));
  EXPECT_EQ(r.shape(), (Shape{2, 2}));
  EXPECT_EQ(r.dtype(), DType::kF32);
  EXPECT_EQ(folded("Constant", {}, attrs({{"value_ints", std::vector<int64_t>{3, 4}}})),
            (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(folded("Constant", {}, attrs({{"value_int", int64_t{5}}})), (std::vector<int64_t>{5}));
  EXPECT_EQ(run("Constant", {}, attrs({{"value_int", int64_t{5}}})).shape(), (Shape{}));
  EXPECT_EQ(run("Constant", {}, attrs({{"value_float", 0.5f}})).dtype(), DType::kF32);
  EXPECT_EQ(run("Constant", {}, attrs({{"value_floats", std::vector<float>{1, 2, 3}}})).shape(), (Shape{3}));
  EXPECT_SHAPE_ERROR("Constant", run("Constant", {}), "exactly one");
  EXPECT_SHAPE_ERROR("Constant", run("Constant", {}, attrs({{"value", t}, {"value_int", int64_t{1}}})),
                     "exactly one");
  EXPECT_SHAPE_ERROR("Constant", run("Constant", {}, attrs({{"value_int", int64_t{1}}}), 11),
                     "needs opset >= 12");
  expect_error(
      [] {
        run("Constant", {}, attrs({{"value_string", std::string("hi")}}));
      },
      ErrorCode::kUnsupported, {"Constant_7", "string"});
}

TEST(OpInference, ConstantOfShape) {
  Result r = run("ConstantOfShape", {ints({2, 3})});
  EXPECT_EQ(r.shape(), (Shape{2, 3}));
  EXPECT_EQ(r.dtype(), DType::kF32);
  EXPECT_EQ(
      run("ConstantOfShape", {ints({4})}, attrs({{"value", Tensor::from_vector<int64_t>({1}, {7})}})).dtype(),
      DType::kI64);
  EXPECT_EQ(
      folded("ConstantOfShape", {ints({3})}, attrs({{"value", Tensor::from_vector<int64_t>({1}, {7})}})),
      (std::vector<int64_t>{7, 7, 7}));
  EXPECT_EQ(run("ConstantOfShape", {ints({})}).shape(), (Shape{}));
  EXPECT_EQ(run("ConstantOfShape", {i64({3})}).shape(), (Shape{kUnknown, kUnknown, kUnknown}));
  EXPECT_SHAPE_ERROR("ConstantOfShape", run("ConstantOfShape", {ints({2, -1})}), "negative dim");
  // Too large to fold (and its element count overflows): only the shape is inferred.
  const int64_t kHuge = int64_t{1} << 40;
  EXPECT_EQ(run("ConstantOfShape", {ints({kHuge, kHuge})},
                attrs({{"value", Tensor::from_vector<int64_t>({1}, {1})}}))
                .shape(),
            (Shape{kHuge, kHuge}));
  EXPECT_SHAPE_ERROR(
      "ConstantOfShape",
      run("ConstantOfShape", {ints({2})}, attrs({{"value", Tensor::from_vector<float>({2}, {1, 2})}})),
      "exactly one element");
}

TEST(OpInference, Range) {
  EXPECT_EQ(folded("Range", {int_scalar(0), int_scalar(10), int_scalar(3)}),
            (std::vector<int64_t>{0, 3, 6, 9}));
  EXPECT_EQ(folded("Range", {int_scalar(5), int_scalar(1), int_scalar(-2)}), (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(run("Range", {int_scalar(5), int_scalar(1), int_scalar(1)}).shape(), (Shape{0}));
  Result f = run("Range", {float_scalar(0), float_scalar(1), float_scalar(0.25f)});
  EXPECT_EQ(f.shape(), (Shape{4}));
  EXPECT_EQ(f.dtype(), DType::kF32);
  EXPECT_EQ(run("Range", {i64({}), int_scalar(4), int_scalar(1)}).shape(), (Shape{kUnknown}));
  EXPECT_SHAPE_ERROR("Range", run("Range", {int_scalar(0), int_scalar(4), int_scalar(0)}), "delta is 0");
  const int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
  EXPECT_SHAPE_ERROR("Range", run("Range", {int_scalar(kMin), int_scalar(kMax), int_scalar(1)}), "overflows");
  EXPECT_SHAPE_ERROR("Range", run("Range", {float_scalar(0), float_scalar(1), float_scalar(1e-30f)}),
                     "no representable length");
  EXPECT_SHAPE_ERROR("Range", run("Range", {int_scalar(0), float_scalar(4), int_scalar(1)}), "same dtype");
  EXPECT_SHAPE_ERROR("Range", run("Range", {ints({0, 1}), int_scalar(4), int_scalar(1)}),
                     "start must be a scalar");
}

// --- logic

TEST(OpInference, Cast) {
  Result r = run("Cast", {i64({"N", 3})}, attrs({{"to", int64_t{1}}}));
  EXPECT_EQ(r.dtype(), DType::kF32);
  EXPECT_EQ(r.shape(), (Shape{"N", 3}));
  EXPECT_EQ(run("Cast", {f32({2})}, attrs({{"to", int64_t{9}}})).dtype(), DType::kBool);
  EXPECT_EQ(folded("Cast", {ints({0, 5})}, attrs({{"to", int64_t{9}}})), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(folded("Cast", {ints({3})}, attrs({{"to", int64_t{6}}})), (std::vector<int64_t>{3}));
  expect_error(
      [] {
        run("Cast", {f32({2})}, attrs({{"to", int64_t{8}}}));
      },
      ErrorCode::kUnsupported, {"node 'Cast_7' (Cast)", "ONNX data type 8"});
}

TEST(OpInference, Where) {
  Result r = run("Where", {in(DType::kBool, {"N", 1}), f32({1, 4}), f32({})});
  EXPECT_EQ(r.shape(), (Shape{"N", 4}));
  EXPECT_EQ(r.dtype(), DType::kF32);
  EXPECT_SHAPE_ERROR("Where", run("Where", {f32({2}), f32({2}), f32({2})}), "expected bool");
  EXPECT_SHAPE_ERROR("Where", run("Where", {in(DType::kBool, {2}), f32({2}), i64({2})}), "same dtype");
  EXPECT_SHAPE_ERROR("Where", run("Where", {in(DType::kBool, {3}), f32({2}), f32({2})}), "not broadcastable");
  Tensor cond = Tensor::from_vector<bool>({3}, {true, false, true});
  EXPECT_EQ(folded("Where", {val(cond), ints({1, 2, 3}), int_scalar(-1)}), (std::vector<int64_t>{1, -1, 3}));
}

TEST(OpInference, ComparisonsOutputBool) {
  for (const char* op : {"Equal", "Less", "Greater"}) {
    Result r = run(op, {f32({"N", 1}), f32({3})});
    EXPECT_EQ(r.dtype(), DType::kBool) << op;
    EXPECT_EQ(r.shape(), (Shape{"N", 3})) << op;
    EXPECT_SHAPE_ERROR(op, run(op, {f32({2}), i64({2})}), "same dtype");
    EXPECT_SHAPE_ERROR(op, run(op, {f32({2}), f32({3})}), "not broadcastable");
  }
  EXPECT_EQ(run("Equal", {in(DType::kBool, {2}), in(DType::kBool, {2})}).dtype(), DType::kBool);
  EXPECT_SHAPE_ERROR("Less", run("Less", {in(DType::kBool, {2}), in(DType::kBool, {2})}), "numeric");
  EXPECT_EQ(folded("Equal", {ints({1, 2, 3}), int_scalar(2)}), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(folded("Less", {ints({1, 2, 3}), int_scalar(2)}), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(folded("Greater", {ints({1, 2, 3}), int_scalar(2)}), (std::vector<int64_t>{0, 0, 1}));
}

// --- Shape arithmetic through a whole graph (how PyTorch exports x.view(x.size(0), -1)).

TEST(OpInference, ShapeArithmeticFoldsThroughTheGraph) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, {2, 3, 4});
  Value* zero = g.add_initializer("zero", Tensor::scalar<int64_t>(0));
  Value* axes = g.add_initializer("axes", Tensor::from_vector<int64_t>({1}, {0}));
  Value* minus_one = g.add_initializer("minus_one", Tensor::from_vector<int64_t>({1}, {-1}));
  Value* shape = g.op1("Shape", {x});
  Value* batch = g.op1("Gather", {shape, zero});
  Value* batch1 = g.op1("Unsqueeze", {batch, axes});
  Value* target = g.op1("Concat", {batch1, minus_one}, attrs({{"axis", int64_t{0}}}));
  Value* y = g.op1("Reshape", {x, target});
  g.add_output(y->name());
  validate(g);
  EXPECT_EQ(y->shape(), (Shape{2, 12}));

  // With a symbolic batch the Reshape still gets rank 2 from the shape's length.
  Graph s;
  Value* xs = s.add_input("x", DType::kF32, {"N", 3, 4});
  Value* zs = s.add_initializer("zero", Tensor::scalar<int64_t>(0));
  Value* as = s.add_initializer("axes", Tensor::from_vector<int64_t>({1}, {0}));
  Value* ms = s.add_initializer("minus_one", Tensor::from_vector<int64_t>({1}, {-1}));
  Value* t = s.op1("Concat", {s.op1("Unsqueeze", {s.op1("Gather", {s.op1("Shape", {xs}), zs}), as}), ms},
                   attrs({{"axis", int64_t{0}}}));
  Value* ys = s.op1("Reshape", {xs, t});
  s.add_output(ys->name());
  validate(s);
  EXPECT_EQ(ys->shape(), (Shape{kUnknown, kUnknown}));
}

TEST(OpInference, ShapeErrorsNameTheGraphAndNode) {
  Graph g;
  g.set_label("model.onnx");
  g.add_input("a", DType::kF32, {2, 3});
  g.add_input("b", DType::kF32, {4, 5});
  g.add_node({"MatMul", {"a", "b"}, {"c"}, {}, "MatMul_3"});
  g.add_output("c");
  expect_error([&] { validate(g); }, ErrorCode::kInvalidArgument,
               {"model.onnx: node 'MatMul_3' (MatMul): inner dims differ: [2,3] x [4,5]"});
}

// --- Robustness: random nodes (odd shapes, dtypes, attribute values, huge sizes) never crash
// inference, and every rejection is a kiln::Error. Run under ASan/UBSan to catch more.

class RandomNodes {
 public:
  explicit RandomNodes(uint64_t seed) : rng_(seed) {}

  int64_t pick(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }

  int64_t any_int() {
    switch (pick(0, 11)) {
      case 0:
        return int64_t{1} << 40;
      case 1:
        return -(int64_t{1} << 40);
      case 2:
        return std::numeric_limits<int64_t>::max();
      case 3:
        return std::numeric_limits<int64_t>::min();
      default:
        return pick(-3, 5);
    }
  }

  Shape shape() {
    if (pick(0, 9) == 0) return Shape::unknown_rank();
    std::vector<Dim> dims;
    for (int64_t i = pick(0, 4); i > 0; --i) {
      switch (pick(0, 5)) {
        case 0:
          dims.emplace_back("N");
          break;
        case 1:
          dims.emplace_back();
          break;
        default:
          dims.emplace_back(pick(0, 5));
      }
    }
    return Shape(std::move(dims));
  }

  DType dtype() {
    static const DType kTypes[] = {DType::kF32, DType::kI64, DType::kI32, DType::kBool, DType::kF64};
    return kTypes[pick(0, 4)];
  }

  Tensor small_tensor() {
    Dims shape = pick(0, 2) == 0 ? Dims{} : Dims{pick(0, 4)};
    auto n = static_cast<size_t>(checked_numel(shape));
    if (pick(0, 3) == 0) return Tensor::from_vector<float>(shape, std::vector<float>(n, 0.5f));
    std::vector<int64_t> v;
    for (size_t i = 0; i < n; ++i) v.push_back(any_int());
    return Tensor::from_vector<int64_t>(shape, v);
  }

  Attribute attribute(AttrType type) {
    static const char* const kStrings[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "none",
                                           "tanh",   "constant",   "reflect",    "edge",  "bogus"};
    std::vector<int64_t> ints;
    for (int64_t i = pick(0, 6); i > 0; --i) ints.push_back(any_int());
    switch (type) {
      case AttrType::kInt:
        return pick(0, 2) == 0 ? any_int() : pick(-1, 11);
      case AttrType::kFloat:
        return static_cast<float>(pick(-2, 2));
      case AttrType::kString:
        return std::string(kStrings[pick(0, 9)]);
      case AttrType::kTensor:
        return small_tensor();
      case AttrType::kInts:
        return ints;
      case AttrType::kFloats:
        return std::vector<float>(static_cast<size_t>(pick(0, 3)), 1.0f);
      case AttrType::kStrings:
        return std::vector<std::string>{"a"};
      case AttrType::kTensors:
        return std::vector<Tensor>{};
    }
    return int64_t{0};
  }

  // One random node for def inside a fresh graph.
  Graph graph(const OpDef& def) {
    Graph g;
    g.set_opset("", static_cast<int>(pick(std::max(def.since(), 1), def.until())));
    NodeSpec spec{def.name(), {}, {}, {}, "fuzz"};
    int64_t n_in = pick(def.min_inputs(), std::min<int64_t>(def.max_inputs(), def.min_inputs() + 4));
    for (int64_t i = 0; i < n_in; ++i) {
      if (i >= def.min_inputs() && pick(0, 4) == 0) {
        spec.inputs.emplace_back();
        continue;
      }
      std::string name = "in" + std::to_string(i);
      if (pick(0, 1) == 0)
        g.add_initializer(name, small_tensor());
      else
        g.add_input(name, dtype(), shape());
      spec.inputs.push_back(name);
    }
    int64_t n_out = pick(def.min_outputs(), std::min<int64_t>(def.max_outputs(), def.min_outputs() + 3));
    for (int64_t i = 0; i < n_out; ++i) spec.outputs.push_back("out" + std::to_string(i));
    for (const AttrSpec& a : def.attr_specs())
      if (a.required || pick(0, 1) == 0) spec.attrs.set(a.name, attribute(a.type));
    if (pick(0, 20) == 0) spec.attrs.set("bogus", int64_t{1});
    g.add_node(std::move(spec));
    for (int64_t i = 0; i < n_out; ++i) g.add_output("out" + std::to_string(i));
    return g;
  }

 private:
  std::mt19937_64 rng_;
};

TEST(OpInference, RandomNodesFailOnlyWithKilnErrors) {
  // KILN_OP_FUZZ_SEED picks another seed, for longer local runs.
  const char* seed = std::getenv("KILN_OP_FUZZ_SEED");
  RandomNodes random(seed ? std::strtoull(seed, nullptr, 10) : 20240611);
  size_t accepted = 0, rejected = 0;
  for (const OpDef* def : OpRegistry::builtin().all()) {
    for (int trial = 0; trial < 400; ++trial) {
      Graph g = random.graph(*def);
      try {
        validate(g);
        ++accepted;
        // An accepted node has typed outputs with sane dims.
        for (const Value* v : g.outputs()) {
          EXPECT_NE(v->dtype(), DType::kUndefined) << def->name();
          if (!v->shape().has_rank()) continue;
          for (const Dim& d : v->shape().dims()) {
            EXPECT_TRUE(!d.is_static() || d.value() >= 0) << def->name();
          }
        }
      } catch (const Error& e) {
        ++rejected;
        EXPECT_NE(std::string(e.what()).find("node 'fuzz' (" + def->name() + ")"), std::string::npos)
            << def->name() << ": " << e.what();
      }
    }
  }
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(rejected, 0u);
}

// --- Opsets 19 to 28: what changed for the ops kiln has (op_registry.h lists them)

TEST(OpInference, LatestOpsetIs28) {
  EXPECT_EQ(kLatestOpset, 28);
  EXPECT_EQ(run("Relu", {f32({2, 3})}, {}, 28).shape(), (Shape{2, 3}));
  expect_error([] { run("Relu", {f32({2})}, {}, 29); }, ErrorCode::kUnsupported,
               {"Relu_7", "opset 29 is not supported"});
}

TEST(OpInference, AveragePoolDilationsFromOpset19) {
  Attributes a = attrs({{"kernel_shape", std::vector<int64_t>{3, 2}},
                        {"dilations", std::vector<int64_t>{2, 3}},
                        {"strides", std::vector<int64_t>{1, 2}}});
  // extents 5 and 4: (9 - 5) / 1 + 1 = 5 and (10 - 4) / 2 + 1 = 4.
  EXPECT_EQ(run("AveragePool", {f32({1, 2, 9, 10})}, a, 19).shape(), (Shape{1, 2, 5, 4}));
  EXPECT_EQ(run("AveragePool", {f32({1, 2, 9, 10})}, a, 28).shape(), (Shape{1, 2, 5, 4}));
  a.set("ceil_mode", int64_t{1});
  a.set("pads", std::vector<int64_t>{1, 0, 1, 0});
  // ceil: (11 - 5) / 1 + 1 = 7; (10 - 4) / 2 = 3 exactly, + 1 = 4.
  EXPECT_EQ(run("AveragePool", {f32({1, 2, 9, 10})}, a, 22).shape(), (Shape{1, 2, 7, 4}));
  EXPECT_SHAPE_ERROR(
      "AveragePool",
      run("AveragePool", {f32({1, 1, 4, 4})},
          attrs({{"kernel_shape", std::vector<int64_t>{2, 2}}, {"dilations", std::vector<int64_t>{2}}}), 19),
      "'dilations' has 1 values");
}

TEST(OpInference, PoolCeilModeDropsAWindowStartingInTheEndPadding) {
  // Pool-22 says so explicitly; kiln applies the rule (PyTorch's) at every opset.
  Attributes a = attrs({{"kernel_shape", std::vector<int64_t>{2}},
                        {"strides", std::vector<int64_t>{2}},
                        {"pads", std::vector<int64_t>{0, 1}},
                        {"ceil_mode", int64_t{1}}});
  // span 5 + 1 - 2 = 4: ceil(4 / 2) + 1 = 3 windows, the last would start at 6 >= 5 + 0: dropped.
  for (int opset : {18, 22, 28}) {
    EXPECT_EQ(run("MaxPool", {f32({1, 1, 5})}, a, opset).shape(), (Shape{1, 1, 3})) << opset;
    EXPECT_EQ(run("AveragePool", {f32({1, 1, 5})}, a, opset).shape(), (Shape{1, 1, 3})) << opset;
  }
  a.set("pads", std::vector<int64_t>{0, 0});
  a.set("kernel_shape", std::vector<int64_t>{3});
  // span 6 - 3 = 3: ceil(3 / 2) + 1 = 3, the last would start at 4 < 6: kept.
  EXPECT_EQ(run("MaxPool", {f32({1, 1, 6})}, a, 22).shape(), (Shape{1, 1, 3}));
}

TEST(OpInference, PadWrapFromOpset19) {
  Arg pads = ints({1, 2, 0, 3});
  EXPECT_EQ(run("Pad", {f32({2, 3}), pads}, attrs({{"mode", std::string("wrap")}}), 19).shape(),
            (Shape{3, 8}));
  EXPECT_EQ(run("Pad", {f32({2, 3}), pads}, attrs({{"mode", std::string("wrap")}}), 25).shape(),
            (Shape{3, 8}));
  EXPECT_SHAPE_ERROR("Pad", run("Pad", {f32({2, 3}), pads}, attrs({{"mode", std::string("wrap")}}), 18),
                     "mode 'wrap' needs opset >= 19");
  EXPECT_SHAPE_ERROR("Pad", run("Pad", {f32({2, 3}), pads}, attrs({{"mode", std::string("circular")}}), 19),
                     "expected constant, reflect, edge or wrap");
}

TEST(OpInference, ResizeHalfPixelSymmetricFromOpset19) {
  Attributes a = attrs({{"coordinate_transformation_mode", std::string("half_pixel_symmetric")}});
  Arg scales = val(Tensor::from_vector<float>({4}, {1, 1, 0.7f, 1.7f}));
  EXPECT_EQ(run("Resize", {f32({1, 2, 5, 3}), none(), scales}, a, 19).shape(), (Shape{1, 2, 3, 5}));
  EXPECT_SHAPE_ERROR("Resize", run("Resize", {f32({1, 2, 5, 3}), none(), scales}, a, 18),
                     "'half_pixel_symmetric' needs opset >= 19");
}

TEST(OpInference, CastTakesSaturateFrom19AndRoundModeFrom24) {
  Attributes a = attrs({{"to", int64_t{1}}, {"saturate", int64_t{0}}});
  EXPECT_EQ(run("Cast", {i64({3})}, a, 19).dtype(), DType::kF32);
  EXPECT_SHAPE_ERROR("Cast", run("Cast", {i64({3})}, a, 18), "attribute 'saturate' needs opset >= 19");
  a.set("round_mode", std::string("nearest"));
  EXPECT_EQ(run("Cast", {i64({3})}, a, 24).dtype(), DType::kF32);
  EXPECT_SHAPE_ERROR("Cast", run("Cast", {i64({3})}, a, 23), "attribute 'round_mode' needs opset >= 24");
  EXPECT_SHAPE_ERROR(
      "Cast", run("Cast", {i64({3})}, attrs({{"to", int64_t{1}}, {"round_mode", std::string("odd")}}), 24),
      "round_mode is 'odd'");
  EXPECT_SHAPE_ERROR("Cast",
                     run("Cast", {i64({3})}, attrs({{"to", int64_t{1}}, {"saturate", int64_t{2}}}), 19),
                     "saturate is 2");
  EXPECT_EQ(run("CastLike", {i64({3}), f32({1})},
                attrs({{"saturate", int64_t{1}}, {"round_mode", std::string("down")}}), 28)
                .dtype(),
            DType::kF32);
  EXPECT_SHAPE_ERROR("CastLike", run("CastLike", {i64({3}), f32({1})}, attrs({{"saturate", int64_t{1}}}), 18),
                     "attribute 'saturate' needs opset >= 19");
  // The types these options are for (float8 = 17..20, int4 = 22, float4 = 23, float8e8m0 = 24,
  // int2 = 25..26) are not kiln dtypes: one clear line.
  for (int64_t code : {17, 19, 22, 23, 24, 25}) {
    expect_error(
        [&] {
          run("Cast", {f32({2})}, attrs({{"to", code}}), 28);
        },
        ErrorCode::kUnsupported, {"Cast_7", "kiln has no such dtype"});
  }
}

TEST(OpInference, ReduceMaxAndMinTakeBoolFromOpset20) {
  for (const char* op : {"ReduceMax", "ReduceMin"}) {
    Result r = run(op, {in(DType::kBool, {2, 3, 4}), ints({1})}, attrs({{"keepdims", int64_t{0}}}), 20);
    EXPECT_EQ(r.dtype(), DType::kBool) << op;
    EXPECT_EQ(r.shape(), (Shape{2, 4})) << op;
    EXPECT_SHAPE_ERROR(op, run(op, {in(DType::kBool, {2, 3}), ints({1})}, {}, 18),
                       "dtype bool, expected a numeric");
  }
  EXPECT_SHAPE_ERROR("ReduceSum", run("ReduceSum", {in(DType::kBool, {2, 3}), ints({1})}, {}, 20), "numeric");
}

TEST(OpInference, ReduceLogSumAndLogSumExpAreFloatingOnlyFromOpset28) {
  for (const char* op : {"ReduceLogSum", "ReduceLogSumExp"}) {
    EXPECT_EQ(run(op, {i64({2, 3}), ints({1})}, {}, 18).dtype(), DType::kI64) << op;
    EXPECT_SHAPE_ERROR(op, run(op, {i64({2, 3}), ints({1})}, {}, 28), "expected a floating-point dtype");
    EXPECT_EQ(run(op, {f32({2, 3}), ints({1})}, {}, 28).shape(), (Shape{2, 1})) << op;
  }
}

TEST(OpInference, ModOnFloatsTakesFmod0FromOpset28) {
  EXPECT_EQ(run("Mod", {f32({2, 3}), f32({3})}, {}, 28).shape(), (Shape{2, 3}));
  EXPECT_SHAPE_ERROR("Mod", run("Mod", {f32({2, 3}), f32({3})}, {}, 18), "requires fmod=1 before opset 28");
  EXPECT_EQ(run("Mod", {f32({2, 3}), f32({3})}, attrs({{"fmod", int64_t{1}}}), 18).shape(), (Shape{2, 3}));
}

TEST(OpInference, BitShiftTakesSignedIntegersFromOpset28) {
  Attributes a = attrs({{"direction", std::string("RIGHT")}});
  for (DType t : {DType::kI8, DType::kI32, DType::kI64}) {
    EXPECT_EQ(run("BitShift", {in(t, {2, 3}), in(t, {3})}, a, 28).dtype(), t);
    EXPECT_SHAPE_ERROR("BitShift", run("BitShift", {in(t, {2}), in(t, {2})}, a, 18), "signed integers");
  }
  EXPECT_EQ(run("BitShift", {in(DType::kU8, {2}), in(DType::kU8, {2})}, a, 11).dtype(), DType::kU8);
  expect_error(
      [&] {
        run("BitShift", {f32({2}), f32({2})}, a, 28);
      },
      ErrorCode::kUnsupported, {"BitShift_7", "not f32"});
}

TEST(OpInference, SpaceToDepthTakesModeFromOpset28) {
  for (const char* mode : {"DCR", "CRD"}) {
    EXPECT_EQ(run("SpaceToDepth", {f32({1, 3, 4, 6})},
                  attrs({{"blocksize", int64_t{2}}, {"mode", std::string(mode)}}), 28)
                  .shape(),
              (Shape{1, 12, 2, 3}));
  }
  EXPECT_SHAPE_ERROR("SpaceToDepth",
                     run("SpaceToDepth", {f32({1, 3, 4, 6})},
                         attrs({{"blocksize", int64_t{2}}, {"mode", std::string("CRD")}}), 18),
                     "attribute 'mode' needs opset >= 28");
  EXPECT_SHAPE_ERROR("SpaceToDepth",
                     run("SpaceToDepth", {f32({1, 3, 4, 6})},
                         attrs({{"blocksize", int64_t{2}}, {"mode", std::string("RDC")}}), 28),
                     "mode is 'RDC'");
}

TEST(OpInference, RangeTakesStashTypeFromOpset27) {
  Attributes a = attrs({{"stash_type", int64_t{1}}});
  EXPECT_EQ(run("Range", {float_scalar(0), float_scalar(2), float_scalar(0.5f)}, a, 27).shape(), (Shape{4}));
  EXPECT_SHAPE_ERROR("Range", run("Range", {float_scalar(0), float_scalar(2), float_scalar(0.5f)}, a, 26),
                     "attribute 'stash_type' needs opset >= 27");
}

}  // namespace
}  // namespace kiln
