#include "graph_repair_dynamo.h"

#include <fmt/format.h>

#include <map>
#include <optional>
#include <set>

namespace kiln::nn {
namespace {

constexpr const char* kScopes = "pkg.torch.onnx.name_scopes";
constexpr const char* kClasses = "pkg.torch.onnx.class_hierarchy";
constexpr const char* kRule = "pkg.onnxscript.rewriter.rule_name";
constexpr const char* kSignature = "pkg.torch.export.ExportedProgram.graph_signature";

bool is_op(const Node* n, std::string_view op) { return n && n->domain().empty() && n->op_type() == op; }
bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string metadata(const Node& n, const char* key) {
  auto it = n.metadata().find(key);
  return it == n.metadata().end() ? std::string() : it->second;
}

// The strings of a Python list repr: "['', 'encoder', 'encoder.layers.0']".
std::vector<std::string> python_strings(const std::string& text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size(); ++i) {
    const char quote = text[i];
    if (quote != '\'' && quote != '"') continue;
    std::string s;
    for (++i; i < text.size() && text[i] != quote; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) ++i;
      s += text[i];
    }
    out.push_back(std::move(s));
  }
  return out;
}

// The innermost PyTorch module a node comes from: its dotted path ("encoder.layers.1.norm1")
// and its class's short name ("LayerNorm"). The last entry of both lists is the aten op itself.
struct Owner {
  std::string path, cls;
};

std::optional<Owner> owner_of(const Node& n) {
  const std::vector<std::string> scopes = python_strings(metadata(n, kScopes));
  const std::vector<std::string> classes = python_strings(metadata(n, kClasses));
  if (scopes.size() < 2 || scopes.size() != classes.size()) return std::nullopt;
  const std::string& cls = classes[classes.size() - 2];
  return Owner{scopes[scopes.size() - 2], cls.substr(cls.rfind('.') + 1)};
}

// The parameter (and, unless parameters_only, buffer) names of the exported program
// ("PARAMETER target='fc.weight'"); empty when the graph has no signature.
std::set<std::string> signature_targets(const Graph& g, bool parameters_only = false) {
  std::set<std::string> out;
  auto it = g.metadata().find(kSignature);
  if (it == g.metadata().end()) return out;
  const std::string& text = it->second;
  for (const char* kind : {": PARAMETER target='", ": BUFFER target='"}) {
    const std::string key = kind;
    if (parameters_only && key != ": PARAMETER target='") continue;
    for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
      const size_t begin = at + key.size(), end = text.find('\'', begin);
      if (end != std::string::npos) out.insert(text.substr(begin, end - begin));
    }
  }
  return out;
}

// A parameter's name relative to its module ("weight", "in_proj_bias") and whether the graph
// stores it transposed ([in, out], PyTorch keeps [out, in]).
struct Role {
  std::string suffix;
  bool transposed = false;
};

// nn.Linear (and MultiheadAttention's packed in_proj and its out_proj) as MatMul or Gemm.
std::optional<Role> linear_role(const Node& lin, bool bias, const std::string& cls) {
  const Value* w = lin.input(1);
  if (!w || !w->initializer() || w->initializer()->rank() != 2) return std::nullopt;
  bool transposed = true;
  if (is_op(&lin, "Gemm")) {
    if (lin.attrs().get_float("alpha", 1.0f) != 1.0f || lin.attrs().get_float("beta", 1.0f) != 1.0f)
      return std::nullopt;
    transposed = lin.attrs().get_int("transB", 0) == 0;
  } else if (!is_op(&lin, "MatMul")) {
    return std::nullopt;
  }
  const Dims& s = w->initializer()->shape();
  const int64_t out = transposed ? s[1] : s[0], in = transposed ? s[0] : s[1];
  std::string stem;
  if (cls == "MultiheadAttention") {
    stem = out == 3 * in ? "in_proj_" : "out_proj.";
  } else if (!ends_with(cls, "Linear")) {
    return std::nullopt;
  }
  return Role{stem + (bias ? "bias" : "weight"), !bias && transposed};
}

std::optional<Role> role_of(const Node& n, size_t index, const Owner& owner) {
  const std::string& cls = owner.cls;
  const Value* v = n.input(index);
  if (ends_with(cls, "Linear") || cls == "MultiheadAttention") {
    if (is_op(&n, "Gemm") && (index == 1 || index == 2)) return linear_role(n, index == 2, cls);
    if (is_op(&n, "MatMul") && index == 1) return linear_role(n, false, cls);
    if (is_op(&n, "Add") && n.inputs().size() == 2 && v && v->initializer() &&
        v->initializer()->rank() == 1) {
      const Node* mm = n.input(1 - index) ? n.input(1 - index)->producer() : nullptr;
      std::optional<Owner> mm_owner = mm ? owner_of(*mm) : std::nullopt;
      if (is_op(mm, "MatMul") && mm_owner && mm_owner->path == owner.path) return linear_role(*mm, true, cls);
    }
    return std::nullopt;
  }
  if (cls.find("Norm") != std::string::npos) {
    if (is_op(&n, "BatchNormalization") && index >= 1 && index <= 4)
      return Role{std::vector<std::string>{"", "weight", "bias", "running_mean", "running_var"}[index]};
    for (const char* op :
         {"LayerNormalization", "RMSNormalization", "GroupNormalization", "InstanceNormalization"})
      if (is_op(&n, op) && (index == 1 || index == 2)) return Role{index == 1 ? "weight" : "bias"};
    // Decomposed norms (RMSNorm before opset 23): the elementwise affine after normalizing.
    const bool vector =
        v && v->initializer() && v->initializer()->rank() >= 1 && v->initializer()->numel() > 1;
    if (is_op(&n, "Mul") && vector) return Role{"weight"};
    if (is_op(&n, "Add") && vector && cls != "RMSNorm") return Role{"bias"};
    return std::nullopt;
  }
  if (cls.rfind("Conv", 0) == 0 && (is_op(&n, "Conv") || is_op(&n, "ConvTranspose")) &&
      (index == 1 || index == 2))
    return Role{index == 1 ? "weight" : "bias"};
  if (cls == "Embedding" && is_op(&n, "Gather") && index == 0) return Role{"weight"};
  return std::nullopt;
}

// A parameter a module reads in its own forward (no layer class says its role), merged with an
// equal one of another module: its name relative to the module of the use it is named after
// ("enc.0.gamma" read in "enc.0" -> "gamma", so "enc.1.gamma" in "enc.1"). Only names the
// signature lists.
std::optional<Role> relative_role(const Value& v, const Owner& owner, const std::set<std::string>& targets) {
  if (!targets.count(v.name())) return std::nullopt;
  std::optional<std::string> home;
  for (const Use& u : v.uses()) {
    std::optional<Owner> o = owner_of(*u.node);
    if (!o || o->path.empty() || v.name().rfind(o->path + ".", 0) != 0) continue;
    if (!home || o->path.size() > home->size()) home = o->path;
  }
  if (!home || owner.path == *home || owner.path.empty()) return std::nullopt;
  const std::string relative = v.name().substr(home->size() + 1);
  if (!targets.count(owner.path + "." + relative)) return std::nullopt;
  return Role{relative};
}

std::string full_name(const Owner& owner, const Role& role) {
  return owner.path.empty() ? role.suffix : owner.path + "." + role.suffix;
}

// One input of one node to point at the tensor PyTorch names `name`.
struct Rewire {
  Node* node;
  size_t index;
  std::string name;
  bool transposed;
  const Value* source;  // nullptr: a zero bias the rewriter removed
  Dims zero_shape;
  DType zero_dtype = DType::kF32;
  std::string rule;
};

// The same node with some inputs replaced (or added: an omitted trailing optional input).
void rebuild(Graph& g, Node* n, const std::map<size_t, Value*>& replace) {
  NodeSpec spec{n->op_type(), {}, {}, n->attrs(), n->name(), n->domain(), n->metadata()};
  size_t count = n->inputs().size();
  for (const auto& [index, v] : replace) count = std::max(count, index + 1);
  for (size_t i = 0; i < count; ++i) {
    auto it = replace.find(i);
    const Value* v = it != replace.end() ? it->second : n->input(i);
    spec.inputs.push_back(v ? v->name() : "");
  }
  for (const Value* o : n->outputs()) spec.outputs.push_back(o ? o->name() : "");
  g.remove_node(n);
  g.add_node(std::move(spec));
}

}  // namespace

bool dynamo_named(const std::string& name) {
  const size_t start = name.rfind("_val_", 0) == 0 ? 5 : name.rfind("val_", 0) == 0 ? 4 : std::string::npos;
  if (start == std::string::npos || start == name.size()) return false;
  return name.find_first_not_of("0123456789", start) == std::string::npos;
}

bool batchnorm_folded_into(const Node& node) {
  return metadata(node, kRule).find("FuseBatchNormInto") != std::string::npos;
}

void repair_dynamo_export(Graph& g, TrainabilityReport& report) {
  const std::set<std::string> targets = signature_targets(g);
  auto known = [&](const std::string& name) { return targets.empty() || targets.count(name) > 0; };
  std::vector<Rewire> rewires;
  for (Node* n : g.nodes()) {
    std::optional<Owner> owner = owner_of(*n);
    if (!owner) continue;
    for (size_t i = 0; i < n->inputs().size(); ++i) {
      const Value* v = n->input(i);
      if (!v || !v->initializer() || !is_floating(v->dtype()) || v->is_graph_input() || v->is_graph_output())
        continue;
      std::optional<Role> role = role_of(*n, i, *owner);
      if (!role) role = relative_role(*v, *owner, targets);
      if (!role) continue;
      const std::string name = full_name(*owner, *role);
      if (name == v->name() || !known(name)) continue;
      rewires.push_back({n, i, name, role->transposed, v, {}, DType::kF32, ""});
    }
    // A zero bias the rewriter dropped (RemoveOptionalBiasFromGemm/Conv/ConvTranspose; the
    // metadata lists every rule applied to the node: "RemoveOptionalBiasFromConv, ...").
    const std::string rule = "RemoveOptionalBiasFrom" + n->op_type();
    const bool conv = is_op(n, "Conv") || is_op(n, "ConvTranspose");
    if (metadata(*n, kRule).find(rule) != std::string::npos && (is_op(n, "Gemm") || conv) && !n->input(2) &&
        n->input(1) && n->input(1)->initializer() && n->inputs().size() >= 2) {
      const Tensor& w = *n->input(1)->initializer();
      std::optional<Role> role;
      int64_t features = 0;
      if (is_op(n, "Gemm") && w.rank() == 2) {
        role = linear_role(*n, true, owner->cls);
        features = n->attrs().get_int("transB", 0) ? w.shape()[0] : w.shape()[1];
      } else if (conv && w.rank() >= 3 && owner->cls.rfind("Conv", 0) == 0) {
        role = Role{"bias"};
        features = is_op(n, "Conv") ? w.shape()[0] : w.shape()[1] * n->attrs().get_int("group", 1);
      }
      if (!role) continue;
      const std::string name = full_name(*owner, *role);
      if (known(name)) rewires.push_back({n, 2, name, false, nullptr, {features}, w.dtype(), rule});
    }
  }
  // One tensor per PyTorch name (the first source that maps to it; a name the graph already has
  // for another tensor is left alone).
  std::map<std::string, Value*> made;
  std::map<Node*, std::map<size_t, Value*>> replace;
  std::set<const Value*> sources;
  for (const Rewire& r : rewires) {
    auto it = made.find(r.name);
    if (it == made.end()) {
      if (g.find_value(r.name)) continue;
      Value* fresh = nullptr;
      if (!r.source) {
        fresh = g.add_initializer(r.name, Tensor::zeros(r.zero_shape, r.zero_dtype));
        report.mapped.push_back(
            fmt::format("{} <- zeros (the exporter's {} dropped this zero bias)", r.name, r.rule));
      } else {
        const Tensor& t = *r.source->initializer();
        fresh = g.add_initializer(r.name, r.transposed ? t.transpose(0, 1).contiguous() : t.clone());
        const bool exporter = dynamo_named(r.source->name()) || r.source->name().rfind("onnx::", 0) == 0;
        if (exporter)
          report.mapped.push_back(
              fmt::format("{} <- {}{}", r.name, r.source->name(), r.transposed ? " (transposed)" : ""));
        else
          report.untied.push_back(fmt::format("{} (was shared with {})", r.name, r.source->name()));
      }
      Value* use = fresh;
      if (r.transposed) {
        Attributes perm;
        perm.set("perm", std::vector<int64_t>{1, 0});
        use = g.op1("Transpose", {fresh}, perm);
      }
      it = made.emplace(r.name, use).first;
    }
    replace[r.node][r.index] = it->second;
    if (r.source) sources.insert(r.source);
  }
  for (auto& [node, inputs] : replace) rebuild(g, node, inputs);
  for (const Value* v : sources) {
    Value* mutable_v = g.find_value(v->name());
    if (mutable_v && mutable_v->uses().empty() && !mutable_v->is_graph_output() &&
        !mutable_v->is_graph_input())
      g.remove_initializer(mutable_v);
  }
  for (const std::string& name : signature_targets(g, true)) {
    const Value* v = g.find_value(name);
    if (!v || !v->initializer()) report.missing_parameters.push_back(name);
  }
  for (const Node* n : g.nodes()) {
    if (!batchnorm_folded_into(*n) || !n->input(1)) continue;
    report.folded_batchnorm.push_back(
        fmt::format("{} ({}): a BatchNorm folded in at export ({}); trained as the folded {} (export with "
                    "optimize=False to "
                    "fine-tune the BatchNorm)",
                    n->input(1)->name(), n->describe(), metadata(*n, kRule), n->op_type()));
  }
}

}  // namespace kiln::nn
