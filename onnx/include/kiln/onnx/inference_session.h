#pragma once
// InferenceSession: load an ONNX model (or take a Graph), optimize it for inference, and run it
// through the executor with checked, named inputs.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/runtime/executor.h"
#include "kiln/runtime/graph.h"

namespace kiln {

struct SessionOptions {
  std::vector<std::string> backends{"cpu"};  // preference order
  bool strict = false;                       // any fallback is an error
  int threads = 0;                           // 0: each backend's default
  bool optimize = true;                      // run the inference passes (runtime/passes.h)
};

/// Name, dtype and (possibly symbolic) shape of a model input or output.
struct ValueInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;
};

class InferenceSession {
 public:
  /// Loads and prepares a model. Throws kiln::Error naming the file and what is wrong.
  explicit InferenceSession(const std::string& model_path, SessionOptions options = {});
  explicit InferenceSession(const Graph& graph, SessionOptions options = {});
  ~InferenceSession();

  /// Runs with named inputs; returns named outputs (host-accessible). Throws
  /// Error(kInvalidArgument) naming an input that is missing, unknown, or of the wrong dtype or
  /// shape.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs);

  const std::vector<ValueInfo>& inputs() const;
  const std::vector<ValueInfo>& outputs() const;
  const Graph& graph() const;  // after optimization
  /// The placement of the latest run (throws before the first run).
  const PlacementReport& placement() const;
  MemoryStats memory() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln
