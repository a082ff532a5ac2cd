// `kiln info MODEL.onnx [--json] [--train [--freeze GLOB]... [--train-only GLOB]...]`: inputs and
// outputs, opsets, producer, parameters, an op histogram, which backend can run each op, and with
// --train what kiln train would train and refuse.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "kiln/onnx/model.h"
#include "kiln/runtime/backend.h"
#include "kiln/runtime/op_registry.h"
#include "kiln/train/driver.h"
#include "model_inputs.h"
#include "op_support.h"

namespace kiln::cli {

namespace {

struct InfoArgs {
  std::string model;
  std::string backend;  // empty: every loaded backend
  bool json = false;
  bool train = false;  // --train: the preflight report of kiln train
  std::vector<std::string> freeze, train_only;
};

using OpKey = std::pair<std::string, std::string>;  // (domain, op_type)

std::string op_label(const OpKey& k) { return k.first.empty() ? k.second : k.first + "::" + k.second; }
std::string domain_label(const std::string& d) { return d.empty() ? "ai.onnx" : d; }

nlohmann::json shape_json(const Shape& s) {
  if (!s.has_rank()) return nullptr;
  nlohmann::json dims = nlohmann::json::array();
  for (const Dim& d : s.dims()) {
    if (d.is_static())
      dims.push_back(d.value());
    else if (d.is_symbolic())
      dims.push_back(d.symbol());
    else
      dims.push_back(nullptr);
  }
  return dims;
}

// Declared types, completed by inference where the file leaves an output's type out.
std::vector<ValueInfo> value_infos(const std::vector<Value*>& values, const Graph* inferred) {
  std::vector<ValueInfo> out;
  for (const Value* v : values) {
    ValueInfo info{v->name(), v->dtype(), v->shape()};
    if (inferred && (info.dtype == DType::kUndefined || !info.shape.has_rank()))
      if (const Value* w = inferred->find_value(v->name())) info = {v->name(), w->dtype(), w->shape()};
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<std::string> backends_to_check(const std::string& list, std::vector<std::string>& notes) {
  std::vector<std::string> out;
  try {
    BackendRegistry& registry = BackendRegistry::global();
    if (list.empty()) {
      for (const auto& b : registry.backends()) out.push_back(b->name());
      for (const BackendFailure& f : registry.failures()) notes.push_back(f.name + ": " + f.reason);
      return out;
    }
    for (const std::string& name : parse_backend_list(list)) {
      if (registry.find(name))
        out.push_back(name);
      else
        notes.push_back(name + ": " + registry.why_missing(name));
    }
  } catch (const Error& e) {
    notes.push_back(e.what());
  }
  return out;
}

// `--train`: what kiln train would train, freeze and refuse, before it starts.
nlohmann::json train_report(const InfoArgs& a, const onnx::Model& model) {
  nn::GraphModule net(model.graph.clone());
  const train::FreezeResult freezing = train::apply_freezing(net, a.freeze, a.train_only);
  const train::PreflightReport r = train::preflight(net, freezing);
  return {{"trainable", r.trainable},
          {"frozen", r.frozen},
          {"buffers", r.buffers},
          {"unmapped_constants", r.unmapped_constants},
          {"unmapped_parameters", r.unmapped_parameters},
          {"non_differentiable", r.non_differentiable},
          {"notes", r.notes},
          {"problems", r.problems},
          {"ready", r.problems.empty()}};
}

void print_train_report(const nlohmann::json& t) {
  fmt::print("training (kiln train preflight): {}\n", t["ready"].get<bool>() ? "ready" : "NOT ready");
  for (const char* key : {"trainable", "frozen", "buffers", "unmapped_constants", "non_differentiable", "notes", "problems"}) {
    const auto& list = t[key];
    fmt::print("  {} ({}){}\n", key, list.size(), list.empty() ? "" : ":");
    for (const auto& item : list) fmt::print("    {}\n", item.get<std::string>());
  }
}

int info(const InfoArgs& a) {
  onnx::Model model = onnx::load_model(a.model);
  std::optional<nlohmann::json> train;
  if (a.train) train = train_report(a, model);
  const Graph& graph = model.graph;

  // Inference fills in output types the file does not declare; a failure is reported, not fatal.
  std::string inference_error;
  Graph inferred = graph.clone();
  try {
    validate(inferred);
  } catch (const Error& e) {
    inference_error = e.what();
  }
  std::vector<ValueInfo> inputs = value_infos(graph.inputs(), inference_error.empty() ? &inferred : nullptr);
  std::vector<ValueInfo> outputs =
      value_infos(graph.outputs(), inference_error.empty() ? &inferred : nullptr);

  int64_t params = 0;
  size_t param_bytes = 0;
  std::vector<Value*> initializers = graph.initializers();
  for (const Value* v : initializers) {
    params += v->initializer()->numel();
    param_bytes += v->initializer()->nbytes();
  }

  std::map<OpKey, size_t> histogram;
  for (const Node* n : graph.nodes()) ++histogram[{n->domain(), n->op_type()}];
  std::vector<std::pair<OpKey, size_t>> ops(histogram.begin(), histogram.end());
  std::stable_sort(ops.begin(), ops.end(), [](const auto& x, const auto& y) { return x.second > y.second; });

  // Placement on example inputs: symbolic dims 1, zeros (valid indices for Gather-like inputs).
  std::vector<std::string> notes;
  std::vector<std::string> backends = backends_to_check(a.backend, notes);
  std::vector<BackendSupport> support;
  std::string example_error;
  std::vector<Tensor> examples;
  try {
    std::vector<Dims> dims = choose_input_dims(inputs, DimChoice{});
    for (size_t i = 0; i < dims.size(); ++i) examples.push_back(zero_tensor(inputs[i].dtype, dims[i]));
  } catch (const Error& e) {
    example_error = e.what();
  }
  if (example_error.empty())
    for (const std::string& b : backends) support.push_back(check_backend(graph, examples, b));

  auto runs_all = [](const OpSupport& s) {
    return s.supported > 0 && s.unsupported.empty() && s.unchecked.empty();
  };

  if (a.json) {
    nlohmann::json out;
    out["model"] = a.model;
    out["ir_version"] = model.ir_version;
    out["producer"] = {{"name", model.producer_name}, {"version", model.producer_version}};
    out["opsets"] = nlohmann::json::object();
    for (const auto& [domain, version] : graph.opsets()) out["opsets"][domain_label(domain)] = version;
    for (const auto& [key, list] : {std::pair{"inputs", &inputs}, std::pair{"outputs", &outputs}}) {
      out[key] = nlohmann::json::array();
      for (const ValueInfo& v : *list)
        out[key].push_back({{"name", v.name}, {"dtype", to_string(v.dtype)}, {"shape", shape_json(v.shape)}});
    }
    out["parameters"] = {{"count", params}, {"bytes", param_bytes}, {"initializers", initializers.size()}};
    out["nodes"] = graph.num_nodes();
    out["ops"] = nlohmann::json::array();
    for (const auto& [key, count] : ops) {
      nlohmann::json op = {{"op_type", key.second},
                           {"domain", key.first},
                           {"count", count},
                           {"backends", nlohmann::json::array()},
                           {"unsupported", nlohmann::json::array()},
                           {"unchecked", nlohmann::json::array()}};
      for (const BackendSupport& b : support) {
        auto it = b.ops.find(key);
        if (it == b.ops.end()) continue;
        if (runs_all(it->second)) op["backends"].push_back(b.backend);
        for (const auto& [node, reason] : it->second.unsupported)
          op["unsupported"].push_back({{"backend", b.backend}, {"node", node}, {"reason", reason}});
        for (const auto& [node, reason] : it->second.unchecked)
          op["unchecked"].push_back({{"backend", b.backend}, {"node", node}, {"reason", reason}});
      }
      out["ops"].push_back(std::move(op));
    }
    out["backends_checked"] = backends;
    out["unavailable"] = notes;
    out["plan_errors"] = nlohmann::json::object();
    for (const BackendSupport& b : support)
      if (!b.plan_error.empty()) out["plan_errors"][b.backend] = b.plan_error;
    if (!inference_error.empty()) out["inference_error"] = inference_error;
    if (!example_error.empty()) out["example_error"] = example_error;
    if (train) out["train"] = *train;
    fmt::print("{}\n", out.dump(2));
    return 0;
  }

  fmt::print("model: {}\n", a.model);
  fmt::print("ir_version: {}\n", model.ir_version);
  fmt::print("producer: {} {}\n", model.producer_name.empty() ? "(none)" : model.producer_name,
             model.producer_version);
  std::vector<std::string> opsets;
  for (const auto& [domain, version] : graph.opsets())
    opsets.push_back(fmt::format("{} {}", domain_label(domain), version));
  fmt::print("opsets: {}\n", fmt::join(opsets, ", "));
  for (const auto& [title, list] : {std::pair{"inputs", &inputs}, std::pair{"outputs", &outputs}}) {
    fmt::print("{}:\n", title);
    for (const ValueInfo& v : *list)
      fmt::print("  {}: {} {}\n", v.name, to_string(v.dtype), v.shape.to_string());
  }
  fmt::print("parameters: {} in {} initializers ({} bytes)\n", params, initializers.size(), param_bytes);
  fmt::print("nodes: {}\n", graph.num_nodes());
  size_t width = 2;
  for (const auto& [key, count] : ops) width = std::max(width, op_label(key).size());
  fmt::print("ops:\n  {:<{}}  {:>5}  {}\n", "op", width, "count", "backends");
  for (const auto& [key, count] : ops) {
    std::vector<std::string> can;
    for (const BackendSupport& b : support)
      if (auto it = b.ops.find(key); it != b.ops.end() && runs_all(it->second)) can.push_back(b.backend);
    fmt::print("  {:<{}}  {:>5}  {}\n", op_label(key), width, count,
               can.empty() ? "-" : fmt::format("{}", fmt::join(can, ",")));
  }
  for (const BackendSupport& b : support) {
    if (b.plan_error.empty()) continue;
    fmt::print("{}: the model does not plan: {}\n", b.backend, b.plan_error);
    // Runtime messages already start with "node 'name' (Op)"; others get that prefix here.
    auto line = [&](const char* what, const OpKey& key, const std::string& node, const std::string& reason) {
      std::string prefix = fmt::format("node '{}' ({})", node, op_label(key));
      bool named = reason.find(prefix) != std::string::npos;
      fmt::print("  {} on {}: {}{}\n", what, b.backend, named ? "" : prefix + ": ", reason);
    };
    for (const auto& [key, s] : b.ops) {
      for (const auto& [node, reason] : s.unsupported) line("unsupported", key, node, reason);
      for (const auto& [node, reason] : s.unchecked) line("not checked", key, node, reason);
    }
  }
  if (backends.empty()) fmt::print("no backend to check placement on\n");
  for (const std::string& n : notes) fmt::print("unavailable backend: {}\n", n);
  if (!inference_error.empty()) fmt::print("shape inference failed: {}\n", inference_error);
  if (!example_error.empty()) fmt::print("placement not checked: {}\n", example_error);
  if (train) print_train_report(*train);
  return 0;
}

}  // namespace

Action add_info_command(CLI::App& app) {
  CLI::App* sub =
      app.add_subcommand("info", "Describe a model: inputs, outputs, opsets, parameters, ops, backends");
  auto a = std::make_shared<InfoArgs>();
  sub->add_option("model", a->model, "The .onnx model")->required();
  sub->add_option("--backend", a->backend, "Backends to check ops against (default: every loaded backend)");
  sub->add_flag("--json", a->json, "Print JSON");
  sub->add_flag("--train", a->train,
                "Also the training preflight: trainable and frozen parameters, unmapped constants, ops without a "
                "gradient, repair notes");
  sub->add_option("--freeze", a->freeze, "With --train: freeze parameters matching GLOB (repeatable)");
  sub->add_option("--train-only", a->train_only, "With --train: train only parameters matching GLOB (repeatable)");
  return [a] { return info(*a); };
}

}  // namespace kiln::cli
