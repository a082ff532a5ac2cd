// A small graph built in code and run through the executor: a two-layer MLP with softmax.
// Shows the placement report and the memory plan; `make demo` runs it.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kiln/runtime/executor.h"
#include "kiln/runtime/op_registry.h"

int main() try {
  using namespace kiln;
  Graph g;
  g.set_label("small_graph");
  Value* x = g.add_input("x", DType::kF32, {"N", 4});
  std::vector<float> w1(4 * 8), w2(8 * 3);
  for (size_t i = 0; i < w1.size(); ++i) w1[i] = 0.05f * static_cast<float>(static_cast<int>(i % 7) - 3);
  for (size_t i = 0; i < w2.size(); ++i) w2[i] = 0.1f * static_cast<float>(static_cast<int>(i % 5) - 2);
  Value* fc1_w = g.add_initializer("fc1.weight", Tensor::from_vector<float>({4, 8}, w1));
  Value* fc1_b = g.add_initializer("fc1.bias", Tensor::from_vector<float>({8}, std::vector<float>(8, 0.1f)));
  Value* fc2_w = g.add_initializer("fc2.weight", Tensor::from_vector<float>({8, 3}, w2));
  Value* h = g.op1("Relu", {g.op1("Add", {g.op1("MatMul", {x, fc1_w}), fc1_b})});
  Value* logits = g.op1("MatMul", {h, fc2_w});
  Attributes softmax_axis;
  softmax_axis.set("axis", int64_t{-1});
  Value* probs = g.op1("Softmax", {logits}, softmax_axis);
  g.add_output(probs->name());
  validate(g);

  Executor ex(g, ExecutorOptions{{"cpu"}, false, 0});
  std::vector<float> batch = {1, 2, 3, 4, -1, 0, 1, 2};
  auto out = ex.run({Tensor::from_vector<float>({2, 4}, batch)});
  fmt::print("{}", ex.placement().to_string());
  MemoryStats m = ex.memory();
  fmt::print("memory plan: {} bytes planned for {} intermediate values ({} bytes without reuse)\n",
             m.planned_bytes, m.num_values, m.unshared_bytes);
  std::vector<float> p = out[0].to_vector<float>();
  fmt::print("probs[0] = {:.4f}\nprobs[1] = {:.4f}\n", fmt::join(p.begin(), p.begin() + 3, ", "),
             fmt::join(p.begin() + 3, p.end(), ", "));
  // A second batch size re-plans once; the same size runs on the existing plan.
  ex.run({Tensor::from_vector<float>({1, 4}, {0.5f, 0.5f, 0.5f, 0.5f})});
  ex.run({Tensor::from_vector<float>({1, 4}, {0.f, 1.f, 0.f, 1.f})});
  fmt::print("plans built for 3 runs over 2 batch sizes: {}\n", ex.num_plans());
  return 0;
} catch (const kiln::Error& e) {
  fmt::print(stderr, "small_graph: error: {}\n", e.what());
  return 1;
}
