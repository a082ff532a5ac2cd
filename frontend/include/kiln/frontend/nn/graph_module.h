#pragma once
// GraphModule: an imported graph (an ONNX model PyTorch exported) as an nn::Module. Its
// initializers become parameters and buffers under the names PyTorch gave them, nested as
// PyTorch nests them ("layer1.0.bn1.running_mean"), after trainability repair (graph_repair.h).
// forward runs the graph node by node through eager ops, so every parameter gets its gradient.
// train() switches BatchNormalization to batch statistics with running-stat updates and turns
// Dropout on, whatever mode the file was exported in; eval() switches both back.

#include <map>
#include <string>
#include <vector>

#include "kiln/frontend/nn/graph_repair.h"
#include "kiln/frontend/nn/module.h"
#include "kiln/frontend/tensor.h"
#include "kiln/runtime/graph.h"

namespace kiln::nn {

/// The form of an exported graph.
enum class ExportForm {
  kInference,  // BatchNorm on running statistics, Dropout removed
  kAsTrained,  // the imported graph as it was, with the trained values
};

class GraphModuleImpl : public Module {
 public:
  /// Takes the graph (validated here) and repairs it for training. Throws kiln::Error naming the
  /// graph's label when it does not validate. dropout_generator (may be null: the default
  /// generator) draws Dropout's masks.
  explicit GraphModuleImpl(Graph graph, Generator* dropout_generator = nullptr);

  /// Runs the graph on inputs given in graph-input order; returns outputs in graph-output order.
  /// Throws Error(kInvalidArgument) naming the input whose count, dtype, rank or dims differ
  /// from the model's declaration.
  std::vector<Tensor> forward_all(const std::vector<Tensor>& inputs);
  /// forward_all by name.
  std::map<std::string, Tensor> forward_named(const std::map<std::string, Tensor>& inputs);
  /// The one output of a one-input, one-output model. Throws Error(kInvalidArgument) otherwise.
  Tensor forward(const Tensor& input) override;

  /// Stops training the parameters whose dotted names match the glob (fnmatch: *, ?, [...]).
  /// Returns how many matched.
  size_t freeze(const std::string& glob);
  /// Trains only the parameters matching glob (the others freeze). Returns how many matched.
  size_t train_only(const std::string& glob);
  /// The parameters that require grad (what an optimizer should get).
  std::vector<Tensor> trainable_parameters() const;
  /// Names of the trainable and of the frozen parameters.
  std::vector<std::string> trainable_names() const;
  std::vector<std::string> frozen_names() const;

  /// Turns the graph's Dropout nodes off (identity) even in train() when false, e.g. to compare
  /// training with PyTorch, whose dropout masks cannot be reproduced. On by default.
  void set_dropout_enabled(bool enabled) { dropout_enabled_ = enabled; }
  bool dropout_enabled() const { return dropout_enabled_; }

  const TrainabilityReport& report() const { return report_; }
  /// The repaired graph (initializers hold the values from import).
  const Graph& graph() const { return graph_; }
  /// A copy of the graph with the current parameter and buffer values, in the given form. The
  /// opset, input and output names and the dynamic dims stay as imported.
  Graph to_graph(ExportForm form = ExportForm::kInference) const;

  std::string extra_repr() const override;

 private:
  struct Slot {
    const Value* value;
    Tensor* tensor;  // the handle registered in the scope module (to() keeps it current)
  };
  Tensor& register_initializer(const std::string& name, const Tensor& value, InitializerRole role);
  void check_inputs(const std::vector<Tensor>& inputs) const;
  std::vector<Tensor> run_node(const Node& node, const std::vector<Tensor>& inputs);

  Graph graph_;
  TrainabilityReport report_;
  std::vector<const Node*> order_;
  std::map<const Value*, Tensor*> slots_;  // parameters and buffers
  Generator* dropout_generator_;
  bool dropout_enabled_ = true;
};

KILN_MODULE(GraphModule);

}  // namespace kiln::nn
