#include "kiln/train/export.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "kiln/frontend/safetensors.h"
#include "kiln/onnx/model.h"
#include "kiln/runtime/autograd.h"
#include "kiln/runtime/op_registry.h"
#include "kiln/runtime/trace.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;

constexpr int kTraceOpset = 17;  // read by ONNX Runtime 1.13 and later and most other runtimes

bool is_op(const Node& n, std::string_view op) { return n.domain().empty() && n.op_type() == op; }

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ", ") + i;
  return s;
}

void save(Graph graph, const std::string& path, int opset = 0) {
  onnx::Model model;
  model.graph = std::move(graph);
  model.producer_name = "kiln";
  onnx::SaveOptions options;
  options.opset = opset;
  onnx::save_model(model, path, options);
}

// ---- Comparing two traces ----

std::string tensor_text(const Tensor& t) {
  Tensor h = t.to(Device::host()).contiguous();
  std::string s = std::string(to_string(h.dtype())) + to_string(h.shape()) + ":";
  s.append(static_cast<const char*>(h.raw_data()), h.nbytes());
  return s;
}

std::string values_text(const Tensor& t) {
  if (t.dtype() != DType::kI64 || t.numel() > 16)
    return fmt::format("{} {}", to_string(t.dtype()), to_string(t.shape()));
  return to_string(t.to_vector<int64_t>());
}

std::string attr_text(const Attribute& a) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, float> ||
                      std::is_same_v<T, std::string>) {
          return fmt::format("{}", v);
        } else if constexpr (std::is_same_v<T, Tensor>) {
          return tensor_text(v);
        } else if constexpr (std::is_same_v<T, std::vector<Tensor>>) {
          std::string s;
          for (const Tensor& t : v) s += tensor_text(t) + ";";
          return s;
        } else {
          return fmt::format("[{}]", fmt::join(v, ","));
        }
      },
      a);
}

std::string node_text(const Node& n) {
  std::string s = n.domain() + "." + n.op_type() + "(";
  for (const Value* v : n.inputs()) s += (v ? v->name() : "") + ",";
  s += ")";
  for (const auto& [k, v] : n.attrs().all()) s += " " + k + "=" + attr_text(v);
  return s;
}

// Throws naming the first difference between two traces of the same module on different inputs.
void check_same_trace(const Graph& a, const Graph& b, const std::string& why) {
  std::vector<Node*> na = a.nodes(), nb = b.nodes();
  for (size_t i = 0; i < std::min(na.size(), nb.size()); ++i) {
    if (node_text(*na[i]) != node_text(*nb[i]))
      raise(ErrorCode::kInvalidArgument, "export: {} ({} vs {}); {}", na[i]->describe(), node_text(*na[i]),
            node_text(*nb[i]), why);
    for (size_t j = 0; j < na[i]->inputs().size(); ++j) {
      const Value* va = na[i]->input(j);
      const Value* vb = nb[i]->input(j);
      if (!va || !va->initializer() || !vb || !vb->initializer()) continue;
      if (tensor_text(*va->initializer()) != tensor_text(*vb->initializer()))
        raise(ErrorCode::kInvalidArgument,
              "export: {} reads constant '{}' = {} in one trace and {} in the other; {}", na[i]->describe(),
              va->name(), values_text(*va->initializer()), values_text(*vb->initializer()), why);
    }
  }
  if (na.size() != nb.size())
    raise(ErrorCode::kInvalidArgument, "export: the traces have {} and {} nodes; {}", na.size(), nb.size(),
          why);
}

// ---- Opset 18 -> 17 for traced graphs ----

Tensor scalar_of(double v, DType dtype) {
  if (dtype == DType::kF64) return Tensor::scalar<double>(v);
  return Tensor::scalar<float>(static_cast<float>(v));
}

// Rewrites the default-domain nodes of a traced graph (validated, so values have types) into
// their opset-17 forms.
Graph lower_to_opset17(const Graph& g) {
  static const std::set<std::string> kReduceAxesInput = {
      "ReduceMean", "ReduceMax",    "ReduceMin",       "ReduceProd",     "ReduceL1",
      "ReduceL2",   "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
  Graph out;
  out.set_label(g.label());
  for (const auto& [domain, version] : g.opsets())
    out.set_opset(domain, domain.empty() ? kTraceOpset : version);
  for (const Value* in : g.inputs()) out.add_input(in->name(), in->dtype(), in->shape());
  for (const Value* v : g.initializers()) out.add_initializer(v->name(), *v->initializer());
  size_t counter = 0;
  auto fresh = [&](const std::string& stem) {
    for (;;) {
      std::string name = fmt::format("{}_lowered_{}", stem, counter++);
      if (!g.find_value(name) && !out.find_value(name)) return name;
    }
  };
  auto constant = [&](double v, DType dtype) {
    std::string name = fresh("const");
    out.add_initializer(name, scalar_of(v, dtype));
    return name;
  };
  auto node = [&](const std::string& op, std::vector<std::string> ins, std::string output = {}) {
    if (output.empty()) output = fresh(op);
    out.add_node(NodeSpec{op, std::move(ins), {output}, {}, fresh(op + "_node"), ""});
    return output;
  };
  for (const Node* n : g.nodes()) {
    NodeSpec spec{n->op_type(), {}, {}, n->attrs(), n->name(), n->domain()};
    for (const Value* v : n->inputs()) spec.inputs.push_back(v ? v->name() : "");
    for (const Value* v : n->outputs()) spec.outputs.push_back(v ? v->name() : "");
    if (is_op(*n, "Gelu")) {
      const std::string x = spec.inputs[0];
      const DType dt = n->input(0)->dtype();
      const std::string y = spec.outputs[0];
      std::string inner;
      if (n->attrs().get_string("approximate", "none") == "tanh") {
        std::string cube = node("Mul", {node("Mul", {x, x}), x});
        std::string u = node("Add", {x, node("Mul", {cube, constant(0.044715, dt)})});
        inner = node("Tanh", {node("Mul", {u, constant(std::sqrt(2.0 / M_PI), dt)})});
      } else {
        inner = node("Erf", {node("Mul", {x, constant(M_SQRT1_2, dt)})});
      }
      std::string gate = node("Add", {inner, constant(1.0, dt)});
      node("Mul", {node("Mul", {x, gate}), constant(0.5, dt)}, y);
      continue;
    }
    if (n->domain().empty() && kReduceAxesInput.count(n->op_type())) {
      const Value* axes = n->input(1);
      if (axes) {
        if (!axes->initializer())
          raise(ErrorCode::kUnsupported,
                "export: {} takes its axes from a computed value, which opset 17 cannot", n->describe());
        spec.attrs.set("axes", axes->initializer()->to_vector<int64_t>());
        spec.inputs.resize(1);
      } else if (n->attrs().get_int("noop_with_empty_axes", 0) != 0) {
        raise(ErrorCode::kUnsupported, "export: {} has noop_with_empty_axes, which opset 17 lacks",
              n->describe());
      }
      spec.attrs.erase("noop_with_empty_axes");
    }
    out.add_node(std::move(spec));
  }
  for (const Value* o : g.outputs()) {
    out.add_output(o->name());
    out.find_value(o->name())->set_type(o->dtype(), o->shape());
  }
  for (Value* v : out.initializers())
    if (v->uses().empty() && !v->is_graph_output()) out.remove_initializer(v);
  return out;
}

// Restores a module's training flag on scope exit.
struct ModeGuard {
  nn::Module& module;
  bool training;
  ~ModeGuard() { module.train(training); }
};

Graph trace_once(nn::Module& module, const Tensor& x, bool dynamic_batch) {
  Tracer tracer;
  for (const auto& item : module.named_parameters()) tracer.name_tensor(item.first, item.second);
  for (const auto& item : module.named_buffers()) tracer.name_tensor(item.first, item.second);
  Shape in_shape = Shape::of(x.shape());
  if (dynamic_batch) in_shape[0] = Dim("batch");
  tracer.add_input("input", x, in_shape);
  Tensor y;
  {
    TraceGuard guard(tracer);
    y = module.forward(x);
  }
  Shape out_shape = Shape::of(y.shape());
  if (dynamic_batch) {
    if (y.rank() == 0 || y.dim(0) != x.dim(0))
      raise(ErrorCode::kInvalidArgument,
            "export: the output {} does not keep the input's batch dim ({} rows), so the batch cannot be "
            "dynamic; "
            "export with dynamic_batch=false",
            to_string(y.shape()), x.dim(0));
    out_shape[0] = Dim("batch");
  }
  tracer.add_output("output", y, out_shape);
  return tracer.finish(module.name());
}

}  // namespace

void check_output_folder(const std::string& path) {
  const fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) return;
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (!fs::exists(st)) raise(ErrorCode::kNotFound, "{}: folder '{}' does not exist", path, dir.string());
  if (!fs::is_directory(st))
    raise(ErrorCode::kInvalidArgument, "{}: '{}' is not a folder", path, dir.string());
}

void export_onnx(const nn::GraphModule& module, const std::string& path, nn::ExportForm form, int opset) {
  check_output_folder(path);
  save(module->to_graph(form), path, opset);
}

Graph trace_module(nn::Module& module, const Tensor& example_input, bool dynamic_batch) {
  if (!example_input.defined()) raise(ErrorCode::kInvalidArgument, "export: the example input is undefined");
  if (dynamic_batch && example_input.rank() == 0)
    raise(ErrorCode::kInvalidArgument,
          "export: a rank-0 example input has no batch dim; use dynamic_batch=false");
  ModeGuard restore{module, module.is_training()};
  module.eval();
  NoGradGuard no_grad;
  const Tensor x = example_input.detach();
  Graph graph = trace_once(module, x, dynamic_batch);
  // A second trace on another input must give the same graph: a shape constant that holds the
  // batch size, or an activation copied outside the eager ops (baked in as a constant), differs.
  Tensor other;
  std::string why;
  if (dynamic_batch) {
    other = concat({x, x.slice(0, 0, 1)}, 0);
    why = fmt::format(
        "the traced graph depends on the batch size ({} vs {} rows), so it cannot have a dynamic "
        "batch; export with dynamic_batch=false",
        x.dim(0), other.dim(0));
  } else {
    other = is_floating(x.dtype()) ? x + 0.5 : x.clone();
    why = "the traced graph depends on the input's values (a copy made outside kiln's eager ops?)";
  }
  Graph second = trace_once(module, other, dynamic_batch);
  check_same_trace(graph, second, why);
  validate(graph);
  Graph lowered = lower_to_opset17(graph);
  validate(lowered);
  return lowered;
}

void export_onnx(nn::Module& module, const Tensor& example_input, const std::string& path,
                 bool dynamic_batch) {
  check_output_folder(path);
  Graph graph = trace_module(module, example_input, dynamic_batch);
  graph.set_label(path);
  save(std::move(graph), path);
}

SafetensorsExportResult export_safetensors(const nn::GraphModule& module, const std::string& path,
                                           const SafetensorsExportOptions& options) {
  check_output_folder(path);
  const std::vector<std::string>& unmapped = module->report().unmapped_parameters;
  const std::set<std::string> unmapped_set(unmapped.begin(), unmapped.end());
  if (!unmapped.empty() && !options.skip_unmapped)
    raise(ErrorCode::kInvalidArgument,
          "{}: parameters {} have ONNX names PyTorch's model does not have (load_state_dict(strict=True) "
          "would reject "
          "them); export with skip_unmapped to leave them out",
          path, join(unmapped));
  SafetensorsExportResult result;
  std::map<std::string, Tensor> tensors;
  auto add = [&](const std::string& name, const Tensor& t) {
    if (unmapped_set.count(name)) {
      result.skipped_unmapped.push_back(name);
      return;
    }
    tensors[name] = t.detach();
    result.written.push_back(name);
  };
  for (const auto& item : module->named_parameters()) add(item.first, item.second);
  for (const auto& item : module->named_buffers()) add(item.first, item.second);
  const std::string suffix = ".running_mean";
  for (const Node* n : module->graph().nodes()) {
    if (!is_op(*n, "BatchNormalization") || !n->input(3)) continue;
    const std::string& mean = n->input(3)->name();
    if (mean.size() <= suffix.size() || mean.compare(mean.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string name = mean.substr(0, mean.size() - suffix.size()) + ".num_batches_tracked";
    if (tensors.count(name)) continue;
    tensors[name] = Tensor::scalar<int64_t>(options.num_batches_tracked);
    result.written.push_back(name);
    result.added.push_back(name);
  }
  write_safetensors(path, tensors, {{"format", "pt"}, {"producer", "kiln"}});
  return result;
}

}  // namespace kiln::train
