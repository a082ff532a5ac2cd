// Convolutions and pools that feed each other run channels-last. oneDNN's convolutions work on
// [N, H, W, C] data, and its pools are faster there; with ONNX's [N, C, H, W] every conv
// reorders its input, its residual and its output (in ResNet-18, 15% of the time at batch 1).
// Here a conv or pool whose input comes from another, or whose output feeds one, becomes
// FusedConv with channels_last = 1 or MaxPoolChannelsLast / AveragePoolChannelsLast (domain
// kiln), and Transposes convert only where such a chain meets other nodes.
#include <map>
#include <set>

#include "kiln/runtime/passes.h"
#include "kiln/runtime/op_registry.h"
#include "pass_util.h"

namespace kiln {
namespace {

// A 2-D f32 node over [N, C, H, W] that has a channels-last form: Conv, FusedConv, MaxPool
// without Indices, AveragePool (not when it counts pads and ceil_mode pads further, which the
// CPU kernel does only on plain data).
bool has_channels_last_form(const Node* n) {
  bool conv = passes::is_op(n, "Conv") ||
              (n->domain() == "kiln" && n->op_type() == "FusedConv" && n->attrs().get_int("channels_last", 0) == 0);
  bool max_pool = passes::is_op(n, "MaxPool") && n->outputs().size() == 1 && n->attrs().get_int("storage_order", 0) == 0;
  bool avg_pool = passes::is_op(n, "AveragePool") &&
                  !(n->attrs().get_int("count_include_pad", 0) != 0 && n->attrs().get_int("ceil_mode", 0) != 0);
  if (!(conv || max_pool || avg_pool) || !n->output(0) || n->output(0)->dtype() != DType::kF32) return false;
  const Shape& x = n->input(0)->shape();
  return x.has_rank() && x.rank() == 4 && n->output(0)->shape().has_rank();
}

// Inputs a node reads as activations: X and FusedConv's residual Z.
std::vector<size_t> activation_inputs(const Node* n) {
  if (n->op_type() == "FusedConv" && n->input(3)) return {0, 3};
  return {0};
}

// The channels-last op for n.
std::string channels_last_op(const Node* n) {
  if (n->op_type() == "MaxPool" || n->op_type() == "AveragePool") return n->op_type() + "ChannelsLast";
  return "FusedConv";
}

}  // namespace

size_t use_channels_last(Graph& graph) {
  validate(graph);  // the rules read inferred ranks
  std::vector<Node*> order = graph.topological_order();
  std::set<const Node*> candidates;
  for (Node* n : order)
    if (has_channels_last_form(n)) candidates.insert(n);
  // A node joins when it reads another candidate's output or feeds another's activations.
  auto feeds_candidate = [&](const Value* v) {
    for (const Use& u : v->uses())
      if (candidates.count(u.node))
        for (size_t i : activation_inputs(u.node))
          if (i == u.input_index) return true;
    return false;
  };
  std::set<const Node*> chosen;
  for (const Node* n : candidates) {
    bool joins = feeds_candidate(n->output(0));
    for (size_t i : activation_inputs(n)) joins = joins || candidates.count(n->input(i)->producer());
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
  std::vector<Value*> outputs;  // the original (NCHW) outputs of the chosen nodes
  for (Node* n : order) {
    if (!chosen.count(n)) continue;
    NodeSpec spec{channels_last_op(n), {}, {}, n->attrs(), n->name(), "kiln"};
    for (size_t i = 0; i < n->inputs().size(); ++i) {
      Value* in = n->input(i);
      bool activation = i == 0 || i == 3;
      spec.inputs.push_back(!in ? "" : activation ? nhwc(in) : in->name());
    }
    if (spec.op_type == "FusedConv") spec.attrs.set("channels_last", int64_t{1});
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
