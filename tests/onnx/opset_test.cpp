// ONNX import at the opsets after 18 (kiln's registry goes to 28, ONNX 1.23.2's newest): small
// models that use what those opsets changed load through onnx's own checker and shape
// inference, and compute what plain loops written from the spec compute.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/onnx/model.h"
#include "kiln/runtime/executor.h"
#include "kiln/runtime/op_registry.h"
#include "onnx_test_util.h"
#include "test_backends.h"
#include "test_errors.h"

namespace kiln::onnx_test {
namespace {

using kiln::onnx::load_model_from_bytes;

void add_ints_attribute(::onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& values) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void add_string_attribute(::onnx::NodeProto* n, const std::string& name, const std::string& value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::STRING);
  a->set_s(value);
}

std::vector<float> iota_floats(size_t n, float start, float step) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i);
  return v;
}

// Opset 23 (IR 11, onnx 1.18): Pad in wrap mode (19), a Cast with saturate (19) and an
// AveragePool with dilations (19).
ModelProto opset23_model() {
  ModelProto m = make_model(23, 11);
  add_input(m, "x", TensorProto::FLOAT, {int64_t{2}, int64_t{3}});
  add_input(m, "img", TensorProto::FLOAT, {int64_t{1}, int64_t{1}, int64_t{4}, int64_t{5}});
  *m.mutable_graph()->add_initializer() = raw_tensor<int64_t>("pads", TensorProto::INT64, {4}, {1, 1, 0, 1});
  auto* pad = add_node(m, "Pad", {"x", "pads"}, {"padded"}, "pad_wrap");
  add_string_attribute(pad, "mode", "wrap");
  auto* cast = add_node(m, "Cast", {"padded"}, {"wide"}, "to_double");
  add_int_attr(cast, "to", TensorProto::DOUBLE);
  add_int_attr(cast, "saturate", 0);
  auto* pool = add_node(m, "AveragePool", {"img"}, {"pooled"}, "dilated_pool");
  add_ints_attribute(pool, "kernel_shape", {2, 2});
  add_ints_attribute(pool, "dilations", {2, 2});
  add_output(m, "wide", TensorProto::DOUBLE, {int64_t{3}, int64_t{5}});
  add_output(m, "pooled", TensorProto::FLOAT, {int64_t{1}, int64_t{1}, int64_t{2}, int64_t{3}});
  return m;
}

// Opset 28 (IR 14, onnx 1.23): SpaceToDepth in CRD mode and Mod with fmod=0 on floats (28),
// ReduceMax on bool (20) and BitShift on signed integers (28).
ModelProto opset28_model() {
  ModelProto m = make_model(28, 14);
  add_input(m, "x", TensorProto::FLOAT, {int64_t{1}, int64_t{2}, int64_t{2}, int64_t{4}});
  add_input(m, "k", TensorProto::INT64, {int64_t{4}});
  *m.mutable_graph()->add_initializer() = float_tensor("divisor", {}, {-0.75f});
  *m.mutable_graph()->add_initializer() = float_tensor("zero", {}, {0.0f});
  *m.mutable_graph()->add_initializer() = raw_tensor<int64_t>("axes", TensorProto::INT64, {1}, {3});
  *m.mutable_graph()->add_initializer() =
      raw_tensor<int64_t>("shift", TensorProto::INT64, {4}, {1, 2, 64, -1});
  auto* s2d = add_node(m, "SpaceToDepth", {"x"}, {"depth"}, "s2d_crd");
  add_int_attr(s2d, "blocksize", 2);
  add_string_attribute(s2d, "mode", "CRD");
  add_node(m, "Mod", {"depth", "divisor"}, {"rem"}, "floor_mod");
  add_node(m, "Greater", {"x", "zero"}, {"positive"}, "positive");
  auto* any = add_node(m, "ReduceMax", {"positive", "axes"}, {"any"}, "any_positive");
  add_int_attr(any, "keepdims", 0);
  auto* shr = add_node(m, "BitShift", {"k", "shift"}, {"shifted"}, "arith_shift");
  add_string_attribute(shr, "direction", "RIGHT");
  add_output(m, "rem", TensorProto::FLOAT, {int64_t{1}, int64_t{8}, int64_t{1}, int64_t{2}});
  add_output(m, "any", TensorProto::BOOL, {int64_t{1}, int64_t{2}, int64_t{2}});
  add_output(m, "shifted", TensorProto::INT64, {int64_t{4}});
  return m;
}

TEST(OnnxOpsets, AModelAtOpset23LoadsAndRuns) {
  auto model = load_model_from_bytes(bytes_of(opset23_model()), "opset23.onnx");
  EXPECT_EQ(model.graph.opset(), 23);
  const std::vector<float> x = {1.0f, 1.5f, 2.0f, -3.0f, 4.0f, 5.5f};
  const std::vector<float> img = iota_floats(20, -2.0f, 0.25f);
  Executor ex(model.graph, ExecutorOptions{{"cpu"}}, test_registry());
  auto out = ex.run({Tensor::from_vector<float>({2, 3}, x), Tensor::from_vector<float>({1, 1, 4, 5}, img)});
  ASSERT_EQ(out.size(), 2u);

  // Pad wrap with pads [1, 1, 0, 1]: out[i][j] = x[(i - 1) mod 2][(j - 1) mod 3].
  ASSERT_EQ(out[0].dtype(), DType::kF64);
  ASSERT_EQ(out[0].shape(), (Dims{3, 5}));
  std::vector<double> want;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 5; ++j)
      want.push_back(x[static_cast<size_t>(((i - 1 + 2) % 2) * 3 + (j - 1 + 3) % 3)]);
  EXPECT_EQ(out[0].to_vector<double>(), want);

  // A 2x2 window with dilations 2 reads (r, c), (r, c+2), (r+2, c), (r+2, c+2).
  ASSERT_EQ(out[1].shape(), (Dims{1, 1, 2, 3}));
  const std::vector<float> pooled = out[1].to_vector<float>();
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t c = 0; c < 3; ++c) {
      auto at = [&](int64_t rr, int64_t cc) {
        return static_cast<double>(img[static_cast<size_t>(rr * 5 + cc)]);
      };
      const double mean = (at(r, c) + at(r, c + 2) + at(r + 2, c) + at(r + 2, c + 2)) / 4;
      EXPECT_NEAR(pooled[static_cast<size_t>(r * 3 + c)], mean, 1e-6) << r << "," << c;
    }
}

TEST(OnnxOpsets, AModelAtOpset28LoadsAndRuns) {
  auto model = load_model_from_bytes(bytes_of(opset28_model()), "opset28.onnx");
  EXPECT_EQ(model.graph.opset(), 28);
  const std::vector<float> x = {0.5f,  -1.25f, 2.0f,  -0.75f, 3.5f,  -2.5f, 0.0f,  1.0f,
                                -4.0f, 2.25f,  -0.5f, 1.5f,   -1.0f, -3.0f, -2.0f, -0.25f};
  const std::vector<int64_t> k = {-7, -8, 5, -5};
  Executor ex(model.graph, ExecutorOptions{{"cpu"}}, test_registry());
  auto out = ex.run({Tensor::from_vector<float>({1, 2, 2, 4}, x), Tensor::from_vector<int64_t>({4}, k)});
  ASSERT_EQ(out.size(), 3u);

  // SpaceToDepth CRD: output channel c*4 + i*2 + j at (0, w) reads x[0][c][i][2w + j]; then
  // Mod with fmod=0: a - floor(a / b) * b, the sign of b = -0.75.
  ASSERT_EQ(out[0].shape(), (Dims{1, 8, 1, 2}));
  const std::vector<float> rem = out[0].to_vector<float>();
  for (int64_t oc = 0; oc < 8; ++oc)
    for (int64_t w = 0; w < 2; ++w) {
      const int64_t c = oc / 4, i = (oc / 2) % 2, j = oc % 2;
      const double a = x[static_cast<size_t>(c * 8 + i * 4 + 2 * w + j)], b = -0.75;
      const double want = a - std::floor(a / b) * b;
      EXPECT_NEAR(rem[static_cast<size_t>(oc * 2 + w)], want, 1e-6) << oc << "," << w;
      EXPECT_LE(rem[static_cast<size_t>(oc * 2 + w)], 0.0f);
    }

  // ReduceMax over bool rows: is any x > 0 in each row of 4.
  ASSERT_EQ(out[1].dtype(), DType::kBool);
  ASSERT_EQ(out[1].shape(), (Dims{1, 2, 2}));
  std::vector<bool> any;
  for (size_t row = 0; row < 4; ++row) {
    bool a = false;
    for (size_t col = 0; col < 4; ++col) a = a || x[row * 4 + col] > 0;
    any.push_back(a);
  }
  EXPECT_EQ(out[1].to_vector<bool>(), any);

  // Arithmetic right shifts; by 64 or by -1 only the sign fill is left.
  EXPECT_EQ(out[2].to_vector<int64_t>(), (std::vector<int64_t>{-4, -2, 0, -1}));
}

TEST(OnnxOpsets, TheNewFormsAreRefusedAtOlderOpsets) {
  // Pad's wrap mode at opset 18 (the checker is off: it would stop the model first).
  ModelProto m = make_model(18, 8);
  add_input(m, "x", TensorProto::FLOAT, {int64_t{2}, int64_t{3}});
  *m.mutable_graph()->add_initializer() = raw_tensor<int64_t>("pads", TensorProto::INT64, {4}, {1, 1, 0, 1});
  add_string_attribute(add_node(m, "Pad", {"x", "pads"}, {"y"}, "pad_wrap"), "mode", "wrap");
  add_output(m, "y", TensorProto::FLOAT, {int64_t{3}, int64_t{5}});
  expect_error([&] { load_model_from_bytes(bytes_of(m), "old.onnx", "", {.run_checker = false}); },
               ErrorCode::kInvalidArgument, {"old.onnx", "pad_wrap", "mode 'wrap' needs opset >= 19"});
}

TEST(OnnxOpsets, OpsetsAfter28AreRefused) {
  ModelProto m = make_model(kLatestOpset + 1, 14);
  add_input(m, "x", TensorProto::FLOAT, {int64_t{3}});
  add_node(m, "Relu", {"x"}, {"y"});
  add_output(m, "y", TensorProto::FLOAT, {int64_t{3}});
  expect_error([&] { load_model_from_bytes(bytes_of(m), "future.onnx", "", {.run_checker = false}); },
               ErrorCode::kUnsupported, {"future.onnx", "opset 29", "1 to 28"});
}

}  // namespace
}  // namespace kiln::onnx_test
