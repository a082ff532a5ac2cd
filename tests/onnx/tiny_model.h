#pragma once
// The small model the session and CLI tests run, and its reference output.

#include <algorithm>
#include <vector>

#include "kiln/runtime/graph.h"

namespace kiln {

inline const std::vector<float> kTinyW = {0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f};  // [3,2]
inline const std::vector<float> kTinyB = {0.1f, -0.2f};

/// y = relu(x @ W + b), z = x * 2 (a second output), with a symbolic batch dim N.
inline Graph tiny_graph() {
  Graph g;
  g.set_label("tiny.onnx");
  g.add_input("x", DType::kF32, Shape{"N", 3});
  g.add_initializer("w", Tensor::from_vector<float>({3, 2}, kTinyW));
  g.add_initializer("b", Tensor::from_vector<float>({2}, kTinyB));
  g.add_initializer("two", Tensor::scalar<float>(2.0f));
  g.add_node({"MatMul", {"x", "w"}, {"xw"}, {}, "matmul"});
  g.add_node({"Add", {"xw", "b"}, {"xwb"}, {}, "add"});
  g.add_node({"Relu", {"xwb"}, {"y"}, {}, "relu"});
  g.add_node({"Mul", {"x", "two"}, {"z"}, {}, "double"});
  g.add_output("y");
  g.add_output("z");
  return g;
}

/// tiny_graph's y for x given row by row ([N,3] flattened), computed with plain loops.
inline std::vector<float> tiny_expected_y(const std::vector<float>& x) {
  std::vector<float> y;
  for (size_t r = 0; r < x.size() / 3; ++r)
    for (size_t c = 0; c < 2; ++c) {
      float s = kTinyB[c];
      for (size_t k = 0; k < 3; ++k) s += x[r * 3 + k] * kTinyW[k * 2 + c];
      y.push_back(std::max(s, 0.0f));
    }
  return y;
}

}  // namespace kiln
