#include "kiln/runtime/trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "kiln/runtime/op_registry.h"

namespace kiln {
namespace {

thread_local Tracer* g_active = nullptr;

// One view of a storage that the graph has a value for.
struct Entry {
  DType dtype;
  int64_t offset;
  Dims shape, strides;
  std::string value;
};

int64_t numel_of(const Dims& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

// Strides of dims of size 1 do not matter: two layouts that differ only there are the same view.
bool same_strides(const Dims& shape, const Dims& a, const Dims& b) {
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] > 1 && a[i] != b[i]) return false;
  return true;
}

bool is_compact(const Dims& shape, const Dims& strides) {
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] > 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

bool same_view(const Entry& e, const Tensor& t) {
  return e.dtype == t.dtype() && e.offset == t.offset() && e.shape == t.shape() &&
         same_strides(e.shape, e.strides, t.strides());
}

Tensor int_constant(const std::vector<int64_t>& values) {
  return Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values);
}

// A host copy of t that later writes to t do not change.
Tensor snapshot(const Tensor& t) {
  Tensor host = t.detach().to(Device::host());
  return host.storage() == t.storage() ? host.clone() : host;
}

}  // namespace

struct Tracer::Impl {
  struct Recorded {
    NodeSpec spec;
  };
  struct Named {
    std::string name;
    Tensor tensor;
    bool materialized = false;
  };
  struct Output {
    std::string name, value;
    DType dtype;
    Shape shape;
  };

  std::map<const Storage*, std::vector<Entry>> entries;
  std::vector<std::shared_ptr<Storage>> alive;  // storages seen, kept so addresses are not reused
  std::map<const Storage*, std::vector<Named>> named;
  std::set<std::string> names_given;
  std::vector<std::pair<std::string, Tensor>> initializers;
  std::vector<std::pair<std::string, ValueType>> inputs;
  std::vector<Output> outputs;
  std::vector<Recorded> nodes;
  std::map<std::string, std::set<int>> opsets;  // per domain
  std::set<std::string> taken;                  // every value and node name
  size_t counter = 0;
  bool copying = false;

  std::string fresh(std::string_view stem) {
    for (;;) {
      std::string name = fmt::format("{}_{}", stem, counter++);
      if (taken.insert(name).second) return name;
    }
  }

  void add_entry(const Tensor& t, const std::string& value) {
    const Storage* s = t.storage().get();
    if (!entries.count(s)) alive.push_back(t.storage());
    entries[s].push_back(Entry{t.dtype(), t.offset(), t.shape(), t.strides(), value});
  }

  std::string add_initializer(const std::string& name, const Tensor& t) {
    taken.insert(name);
    initializers.emplace_back(name, snapshot(t));
    add_entry(t, name);
    return name;
  }

  std::string add_node(const std::string& op, std::vector<std::string> ins, Attributes attrs = {}) {
    const std::string node = fresh(op);
    std::string out = node + "_output";
    taken.insert(out);
    nodes.push_back({NodeSpec{op, std::move(ins), {out}, std::move(attrs), node, ""}});
    return out;
  }

  std::string constant(const std::vector<int64_t>& values, std::string_view stem) {
    std::string name = fresh(stem);
    initializers.emplace_back(name, int_constant(values));
    return name;
  }

  // t as a Reshape (or Flatten) of the compact view `from`: dims kept at the front are copied
  // (0) and the first changed dim is inferred (-1), so a leading batch dim stays symbolic.
  std::string reshape(const std::string& from, const Dims& in, const Dims& out) {
    if (out.size() == 2 && !in.empty()) {
      int64_t prefix = 1;
      for (size_t k = 1; k <= in.size(); ++k) {
        prefix *= in[k - 1];
        if (prefix == out[0] && numel_of(in) / std::max<int64_t>(prefix, 1) == out[1]) {
          Attributes a;
          a.set("axis", static_cast<int64_t>(k));
          return add_node("Flatten", {from}, std::move(a));
        }
      }
    }
    std::vector<int64_t> shape(out.begin(), out.end());
    size_t keep = 0;
    while (keep < in.size() && keep < out.size() && in[keep] == out[keep] && in[keep] != 0) ++keep;
    for (size_t i = 0; i < keep; ++i) shape[i] = 0;
    if (keep < shape.size()) shape[keep] = -1;
    return add_node("Reshape", {from, constant(shape, "shape")});
  }

  // The node that gives view t of the storage that entry b views, if one simple op does.
  std::optional<std::string> derive(const Entry& b, const Tensor& t) {
    if (b.dtype != t.dtype()) return std::nullopt;
    const Dims& ts = t.shape();
    const Dims& tst = t.strides();
    const int64_t n = numel_of(ts);
    if (t.offset() == b.offset && n == numel_of(b.shape)) {
      if (is_compact(b.shape, b.strides) && is_compact(ts, tst)) return reshape(b.value, b.shape, ts);
      if (ts.size() == b.shape.size()) {  // a permutation of b's axes
        std::vector<int64_t> perm;
        std::vector<bool> used(ts.size(), false);
        for (size_t i = 0; i < ts.size(); ++i) {
          for (size_t j = 0; j < b.shape.size(); ++j) {
            if (!used[j] && b.shape[j] == ts[i] && (ts[i] <= 1 || b.strides[j] == tst[i])) {
              used[j] = true;
              perm.push_back(static_cast<int64_t>(j));
              break;
            }
          }
        }
        if (perm.size() == ts.size()) {
          Attributes a;
          a.set("perm", perm);
          return add_node("Transpose", {b.value}, std::move(a));
        }
      }
    }
    if (ts.size() == b.shape.size() && t.offset() >= b.offset && n > 0) {  // a Slice
      const size_t rank = ts.size();
      std::vector<int64_t> step(rank, 1), start(rank, 0);
      bool ok = true;
      for (size_t a = 0; a < rank && ok; ++a) {
        if (ts[a] > b.shape[a]) ok = false;
        if (ts[a] > 1) {
          if (b.strides[a] == 0 || tst[a] % b.strides[a] != 0 || tst[a] / b.strides[a] < 1)
            ok = false;
          else
            step[a] = tst[a] / b.strides[a];
        }
      }
      if (ok) {
        std::vector<size_t> order(rank);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t x, size_t y) { return b.strides[x] > b.strides[y]; });
        int64_t delta = t.offset() - b.offset;
        for (size_t a : order) {
          if (b.shape[a] <= 1 || b.strides[a] <= 0) continue;
          start[a] = delta / b.strides[a];
          delta -= start[a] * b.strides[a];
        }
        for (size_t a = 0; a < rank && ok; ++a) ok = start[a] + (ts[a] - 1) * step[a] < b.shape[a];
        if (ok && delta == 0) {
          std::vector<int64_t> starts, ends, axes, steps;
          for (size_t a = 0; a < rank; ++a) {
            if (start[a] == 0 && step[a] == 1 && ts[a] == b.shape[a]) continue;
            starts.push_back(start[a]);
            ends.push_back(start[a] + (ts[a] - 1) * step[a] + 1);
            axes.push_back(static_cast<int64_t>(a));
            steps.push_back(step[a]);
          }
          if (axes.empty()) return b.value;
          return add_node("Slice", {b.value, constant(starts, "starts"), constant(ends, "ends"),
                                    constant(axes, "axes"), constant(steps, "steps")});
        }
      }
    }
    if (t.offset() == b.offset && ts.size() >= b.shape.size()) {  // an Expand (stride-0 dims)
      const size_t lead = ts.size() - b.shape.size();
      bool ok = true;
      for (size_t i = 0; i < ts.size() && ok; ++i) {
        if (i < lead) {
          ok = tst[i] == 0 || ts[i] <= 1;
          continue;
        }
        const int64_t size = b.shape[i - lead];
        if (ts[i] == size)
          ok = ts[i] <= 1 || tst[i] == b.strides[i - lead];
        else
          ok = size == 1 && (tst[i] == 0 || ts[i] <= 1);
      }
      if (ok)
        return add_node("Expand", {b.value, constant(std::vector<int64_t>(ts.begin(), ts.end()), "shape")});
    }
    return std::nullopt;
  }

  std::string lookup(const Tensor& t, std::string_view op, size_t index) {
    if (!t.defined()) return "";
    const Storage* s = t.storage().get();
    auto find_exact = [&]() -> std::optional<std::string> {
      auto it = entries.find(s);
      if (it == entries.end()) return std::nullopt;
      for (auto e = it->second.rbegin(); e != it->second.rend(); ++e)
        if (same_view(*e, t)) return e->value;
      return std::nullopt;
    };
    if (auto v = find_exact()) return *v;
    if (auto it = named.find(s); it != named.end()) {
      for (Named& nm : it->second) {
        if (nm.materialized) continue;
        nm.materialized = true;
        add_initializer(nm.name, nm.tensor);
      }
      if (auto v = find_exact()) return *v;
    }
    if (auto it = entries.find(s); it != entries.end()) {
      const std::vector<Entry> views = it->second;  // derive() may add entries
      for (auto e = views.rbegin(); e != views.rend(); ++e) {
        if (auto v = derive(*e, t)) {
          add_entry(t, *v);
          return *v;
        }
      }
      const Entry& last = views.back();
      raise(ErrorCode::kUnsupported,
            "trace: input {} of {} is a view of '{}' (shape {} strides {} offset {} of that storage: shape "
            "{} strides {} "
            "offset {}) that no single Reshape, Transpose, Slice or Expand gives; make it contiguous with an "
            "op first",
            index, op, last.value, to_string(t.shape()), to_string(t.strides()), t.offset(),
            to_string(last.shape), to_string(last.strides), last.offset);
    }
    return add_initializer(fresh(t.requires_grad() ? "param" : "const"), t);
  }
};

Tracer::Tracer() : impl_(std::make_unique<Impl>()) {}
Tracer::~Tracer() = default;

void Tracer::add_input(const std::string& name, const Tensor& t, Shape shape) {
  if (!t.defined()) raise(ErrorCode::kInvalidArgument, "trace: input '{}' is undefined", name);
  if (!impl_->taken.insert(name).second)
    raise(ErrorCode::kInvalidArgument, "trace: the name '{}' is taken", name);
  if (shape.has_rank() && shape.rank() != t.rank())
    raise(ErrorCode::kInvalidArgument, "trace: input '{}' has rank {}, its declared shape {} has rank {}",
          name, t.rank(), shape.to_string(), shape.rank());
  impl_->inputs.emplace_back(name, ValueType{t.dtype(), std::move(shape)});
  impl_->add_entry(t, name);
}

void Tracer::name_tensor(const std::string& name, const Tensor& t) {
  if (!t.defined()) return;
  if (!impl_->names_given.insert(name).second || !impl_->taken.insert(name).second)
    raise(ErrorCode::kInvalidArgument, "trace: the name '{}' is given twice", name);
  impl_->named[t.storage().get()].push_back(Impl::Named{name, t, false});
  if (std::find(impl_->alive.begin(), impl_->alive.end(), t.storage()) == impl_->alive.end())
    impl_->alive.push_back(t.storage());
}

void Tracer::add_output(const std::string& name, const Tensor& t, Shape shape) {
  if (!t.defined()) raise(ErrorCode::kInvalidArgument, "trace: output '{}' is undefined", name);
  std::string value = impl_->lookup(t, "the graph output", 0);
  impl_->outputs.push_back(Impl::Output{name, value, t.dtype(), std::move(shape)});
}

void Tracer::record(const OpDef& def, std::string_view domain, int opset, const Attributes& attrs,
                    const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs) {
  std::vector<std::string> ins;
  ins.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) ins.push_back(impl_->lookup(inputs[i], def.name(), i));
  const std::string node = impl_->fresh(def.name());
  std::vector<std::string> outs;
  for (size_t i = 0; i < outputs.size(); ++i) {
    std::string out = outputs.size() == 1 ? node + "_output" : fmt::format("{}_output_{}", node, i);
    impl_->taken.insert(out);
    impl_->add_entry(outputs[i], out);
    outs.push_back(std::move(out));
  }
  impl_->opsets[std::string(domain)].insert(opset);
  impl_->nodes.push_back(
      {NodeSpec{def.name(), std::move(ins), std::move(outs), attrs, node, std::string(domain)}});
}

void Tracer::record_copy(const Tensor& src, const Tensor& copy) {
  if (impl_->copying) return;  // the tracer's own snapshots
  impl_->copying = true;
  try {
    impl_->add_entry(copy, impl_->lookup(src, "a copy", 0));
  } catch (...) {
    impl_->copying = false;
    throw;
  }
  impl_->copying = false;
}

size_t Tracer::num_nodes() const { return impl_->nodes.size(); }

Graph Tracer::finish(const std::string& label) {
  Impl& m = *impl_;
  if (m.outputs.empty()) raise(ErrorCode::kInvalidArgument, "trace '{}': no output was added", label);
  Graph g;
  g.set_label(label);
  for (const auto& [domain, versions] : m.opsets) {
    if (versions.size() > 1)
      raise(ErrorCode::kInvalidArgument,
            "trace '{}': ops of domain '{}' ran at opsets {} and {}; one graph has one "
            "opset per domain",
            label, domain, *versions.begin(), *versions.rbegin());
    g.set_opset(domain, *versions.begin());
  }
  // Graph outputs take the names asked for: the producing node's output is renamed, or, for a
  // value that is an input, an initializer or another output, an Identity is added.
  std::map<std::string, std::string> rename;
  std::set<std::string> produced;
  for (const auto& r : m.nodes)
    for (const auto& o : r.spec.outputs) produced.insert(o);
  std::vector<NodeSpec> identities;
  for (const auto& out : m.outputs) {
    if (produced.count(out.value) && !rename.count(out.value)) {
      rename[out.value] = out.name;
    } else {
      auto it = rename.find(out.value);
      identities.push_back(NodeSpec{"Identity",
                                    {it == rename.end() ? out.value : it->second},
                                    {out.name},
                                    {},
                                    m.fresh("Identity"),
                                    ""});
    }
  }
  auto renamed = [&](const std::string& v) {
    auto it = rename.find(v);
    return it == rename.end() ? v : it->second;
  };
  for (const auto& [name, type] : m.inputs) g.add_input(name, type.dtype, type.shape);
  for (const auto& [name, value] : m.initializers) g.add_initializer(name, value);
  for (auto& r : m.nodes) {
    NodeSpec spec = r.spec;
    for (auto& v : spec.inputs) v = renamed(v);
    for (auto& v : spec.outputs) v = renamed(v);
    g.add_node(std::move(spec));
  }
  for (auto& spec : identities) g.add_node(std::move(spec));
  for (const auto& out : m.outputs) {
    g.add_output(out.name);
    g.find_value(out.name)->set_type(out.dtype, out.shape);
  }
  g.remove_dead_nodes();
  for (Value* v : g.initializers())
    if (v->uses().empty() && !v->is_graph_output()) g.remove_initializer(v);
  return g;
}

TraceGuard::TraceGuard(Tracer& tracer) : previous_(g_active) { g_active = &tracer; }
TraceGuard::~TraceGuard() { g_active = previous_; }

Tracer* active_tracer() { return g_active; }

}  // namespace kiln
