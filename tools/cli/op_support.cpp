#include "op_support.h"

#include <set>

#include "kiln/runtime/error.h"
#include "kiln/runtime/executor.h"
#include "kiln/runtime/op_registry.h"

namespace kiln::cli {

namespace {

std::pair<std::string, std::string> key_of(const Node& n) { return {n.domain(), n.op_type()}; }

// Why a node cannot be tried alone; empty when it can.
std::string why_not_alone(const Node& node, const OpDef& def) {
  for (size_t i = 0; i < node.inputs().size(); ++i) {
    const Value* in = node.input(i);
    if (!in || in->initializer()) continue;
    if (def.is_shape_input(i)) return "its shape input '" + in->name() + "' is computed at run time";
    if (in->dtype() == DType::kUndefined || !in->shape().is_static())
      return "the type of its input '" + in->name() + "' is not known for the example inputs";
  }
  return "";
}

// A graph of this one node: constant inputs stay initializers, the others become graph inputs.
Graph single_node_graph(const Graph& source, const Node& node, std::vector<Tensor>& inputs) {
  Graph g;
  g.set_label(source.label());
  for (const auto& [domain, version] : source.opsets()) g.set_opset(domain, version);
  std::set<std::string> defined;
  std::vector<std::string> in_names, out_names;
  for (const Value* in : node.inputs()) {
    in_names.push_back(in ? in->name() : "");
    if (!in || !defined.insert(in->name()).second) continue;
    if (in->initializer()) {
      g.add_initializer(in->name(), *in->initializer());
    } else {
      g.add_input(in->name(), in->dtype(), in->shape());
      inputs.push_back(Tensor::zeros(in->shape().concrete(), in->dtype()));
    }
  }
  for (const Value* out : node.outputs()) out_names.push_back(out ? out->name() : "");
  g.add_node(NodeSpec{node.op_type(), in_names, out_names, node.attrs(), node.name(), node.domain()});
  for (const std::string& name : out_names)
    if (!name.empty()) g.add_output(name);
  return g;
}

void check_nodes_alone(const Graph& graph, const std::vector<Tensor>& example_inputs,
                       BackendSupport& result) {
  // Types inferred for the example shapes, so that each node alone has concrete inputs.
  Graph typed = graph.clone();
  for (size_t i = 0; i < typed.inputs().size() && i < example_inputs.size(); ++i)
    typed.inputs()[i]->set_type(example_inputs[i].dtype(), Shape::of(example_inputs[i].shape()));
  try {
    validate(typed);
  } catch (const Error&) {
    // Nodes before the failure keep their inferred types; the others are reported unchecked.
  }
  ExecutorOptions options{{result.backend}, false, 0};
  for (const Node* node : typed.nodes()) {
    OpSupport& s = result.ops[key_of(*node)];
    const OpDef* def = OpRegistry::builtin().find(node->op_type(), node->domain());
    if (!def) {
      s.unsupported.emplace_back(node->name(), "kiln has no definition of this op");
      continue;
    }
    if (std::string why = why_not_alone(*node, *def); !why.empty()) {
      s.unchecked.emplace_back(node->name(), why);
      continue;
    }
    try {
      std::vector<Tensor> inputs;
      Graph one = single_node_graph(typed, *node, inputs);
      Executor executor(one, options);
      executor.plan(inputs);
      ++s.supported;
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kUnsupported)
        s.unsupported.emplace_back(node->name(), e.what());
      else
        s.unchecked.emplace_back(node->name(), e.what());
    }
  }
}

}  // namespace

BackendSupport check_backend(const Graph& graph, const std::vector<Tensor>& example_inputs,
                             const std::string& backend) {
  BackendSupport result;
  result.backend = backend;
  try {
    Executor executor(graph, ExecutorOptions{{backend}, false, 0});
    executor.plan(example_inputs);
    for (const NodePlacement& p : executor.placement().nodes) ++result.ops[key_of(*p.node)].supported;
    return result;
  } catch (const Error& e) {
    result.plan_error = e.what();
  }
  result.ops.clear();
  check_nodes_alone(graph, example_inputs, result);
  return result;
}

}  // namespace kiln::cli
