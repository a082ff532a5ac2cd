// Convolutions that feed each other run channels-last. oneDNN's convolutions work on
// [N, H, W, C] data; with ONNX's [N, C, H, W] every conv reorders its input, its residual and its
// output (in ResNet-18, 15% of the time at batch 1). Here a conv whose input comes from another
// conv, or whose output feeds one, becomes a FusedConv with channels_last = 1, and Transposes
// convert only where such a chain meets other nodes.
#include <map>
#include <set>

#include "kiln/runtime/passes.h"
#include "kiln/runtime/op_registry.h"
#include "pass_util.h"

namespace kiln {
namespace {

bool is_conv_2d(const Node* n) {
  bool conv = passes::is_op(n, "Conv") ||
              (n->domain() == "kiln" && n->op_type() == "FusedConv" && n->attrs().get_int("channels_last", 0) == 0);
  if (!conv || !n->output(0) || n->output(0)->dtype() != DType::kF32) return false;
  const Shape& x = n->input(0)->shape();
  return x.has_rank() && x.rank() == 4 && n->output(0)->shape().has_rank();
}

// Inputs a conv reads as activations: X and FusedConv's residual Z.
std::vector<size_t> activation_inputs(const Node* n) {
  if (n->op_type() == "FusedConv" && n->input(3)) return {0, 3};
  return {0};
}

}  // namespace

size_t use_channels_last(Graph& graph) {
  validate(graph);  // the rules read inferred ranks
  std::vector<Node*> order = graph.topological_order();
  std::set<const Node*> convs;
  for (Node* n : order)
    if (is_conv_2d(n)) convs.insert(n);
  // A conv joins when it reads another conv's output or feeds another conv's activations.
  auto is_conv_input = [&](const Value* v) {
    for (const Use& u : v->uses())
      if (convs.count(u.node))
        for (size_t i : activation_inputs(u.node))
          if (i == u.input_index) return true;
    return false;
  };
  std::set<const Node*> chosen;
  for (const Node* n : convs) {
    bool joins = is_conv_input(n->output(0));
    for (size_t i : activation_inputs(n)) joins = joins || convs.count(n->input(i)->producer());
    if (joins) chosen.insert(n);
  }
  if (chosen.empty()) return 0;
  if (!graph.opsets().count("kiln")) graph.set_opset("kiln", 1);
  // Only the chosen convs read channels-last values; others read the originals.
  std::map<const Value*, std::string> channels_last_of;  // NCHW value -> its NHWC twin
  auto nhwc = [&](Value* v) {
    auto it = channels_last_of.find(v);
    if (it != channels_last_of.end()) return it->second;
    std::string name = passes::unique_name(graph, v->name() + "_nhwc");
    Attributes perm;
    perm.set("perm", std::vector<int64_t>{0, 2, 3, 1});
    graph.add_node(NodeSpec{"Transpose", {v->name()}, {name}, perm, "", ""});
    return channels_last_of[v] = name;
  };
  std::vector<Value*> outputs;  // the original (NCHW) outputs of the chosen convs
  for (Node* n : order) {
    if (!chosen.count(n)) continue;
    NodeSpec spec{"FusedConv", {}, {}, n->attrs(), n->name(), "kiln"};
    for (size_t i = 0; i < n->inputs().size(); ++i) {
      Value* in = n->input(i);
      bool activation = i == 0 || i == 3;
      spec.inputs.push_back(!in ? "" : activation ? nhwc(in) : in->name());
    }
    spec.attrs.set("channels_last", int64_t{1});
    Value* y = n->output(0);
    spec.outputs.push_back(passes::unique_name(graph, y->name() + "_nhwc"));
    channels_last_of[y] = spec.outputs.back();
    outputs.push_back(y);
    graph.remove_node(n);
    graph.add_node(std::move(spec));
  }
  // Where the originals are still read (by other nodes, or as graph outputs), they come back
  // from the NHWC twins.
  for (Value* y : outputs) {
    if (y->uses().empty() && !y->is_graph_output()) continue;
    Attributes perm;
    perm.set("perm", std::vector<int64_t>{0, 3, 1, 2});
    graph.add_node(NodeSpec{"Transpose", {channels_last_of[y]}, {y->name()}, perm, "", ""});
  }
  return chosen.size();
}

}  // namespace kiln
