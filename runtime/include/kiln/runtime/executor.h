#pragma once
// The executor: takes a Graph and a placement, prepares every kernel once, plans memory
// statically, and runs many times. It re-plans when input shapes change.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/runtime/backend.h"
#include "kiln/runtime/graph.h"
#include "kiln/runtime/placement.h"
#include "kiln/runtime/tensor.h"

namespace kiln {

struct ExecutorOptions {
  std::vector<std::string> backends{"cpu"};  // preference order
  bool strict = false;                       // any fallback is an error
  int threads = 0;                           // 0: each backend's default
};

struct MemoryStats {
  size_t planned_bytes = 0;   // arena bytes over all devices
  size_t unshared_bytes = 0;  // bytes if every intermediate value had its own buffer
  size_t num_values = 0;      // intermediate values placed in arenas
};

class Executor {
 public:
  /// Copies and validates the graph. Throws kiln::Error on an invalid graph, when no listed
  /// backend is available, or (strict) when the first listed backend is unavailable. Other
  /// unavailable backends are listed in the placement report with their reasons.
  explicit Executor(const Graph& graph, ExecutorOptions options = {},
                    BackendRegistry& registry = BackendRegistry::global());
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  /// Runs with inputs in graph-input order; returns outputs in graph-output order as host
  /// tensors. Throws Error(kInvalidArgument) on a missing input or a dtype/rank/dim that
  /// contradicts the graph's declaration, naming the input.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  /// Like run(), with inputs and outputs by name. Throws on a missing or unknown name.
  std::map<std::string, Tensor> run_named(const std::map<std::string, Tensor>& inputs);

  const Graph& graph() const;
  /// The placement of the current plan. Throws Error(kInvalidArgument) before the first run
  /// unless plan() was called.
  const PlacementReport& placement() const;
  MemoryStats memory() const;
  /// Plans (placement, kernels, memory) for these inputs without running.
  void plan(const std::vector<Tensor>& inputs);
  /// How many times a plan was built (a changed input shape builds a new one).
  size_t num_plans() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln
