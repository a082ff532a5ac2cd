#include "kiln/runtime/executor.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <variant>

#include "kiln/runtime/op_registry.h"
#include "memory_planner.h"
#include "node_desc.h"

namespace kiln {
namespace {

using DeviceKey = std::pair<Backend*, int32_t>;
DeviceKey key_of(Device d) { return {d.backend, d.index}; }

// One buffer a run reads or writes.
struct Slot {
  enum Kind { kInput, kConstant, kArena, kOutput } kind = kArena;
  Device device;
  DType dtype = DType::kUndefined;
  Dims shape;
  size_t bytes = 0;
  size_t input_index = 0;  // kInput
  Tensor constant;         // kConstant: contiguous, on device
  size_t arena_offset = 0; // kArena
  BufferRequest lifetime;  // kArena
};

struct KernelStep {
  const Node* node = nullptr;
  Backend* backend = nullptr;
  kiln_kernel* kernel = nullptr;
  std::vector<int> inputs;  // slot ids; -1 for an omitted optional input
  std::vector<int> outputs;
};

struct CopyStep {
  int from = -1, to = -1;
};

using Step = std::variant<KernelStep, CopyStep>;

// Copies bytes between two slots' memory, through the host when neither side is host accessible.
void copy_between(Device from, const void* src, Device to, void* dst, size_t bytes) {
  if (bytes == 0) return;
  if (from.host_accessible() && to.host_accessible()) {
    std::memcpy(dst, src, bytes);
  } else if (from.host_accessible()) {
    to.backend->copy_from_host(to.index, dst, src, bytes);
  } else if (to.host_accessible()) {
    from.backend->copy_to_host(from.index, dst, src, bytes);
  } else {
    std::vector<unsigned char> bounce(bytes);
    from.backend->copy_to_host(from.index, bounce.data(), src, bytes);
    to.backend->copy_from_host(to.index, dst, bounce.data(), bytes);
  }
}

}  // namespace

struct Plan {
  // What the plan was built for.
  std::vector<DType> input_dtypes;
  std::vector<Dims> input_shapes;
  std::vector<std::optional<Tensor>> input_values;  // for inputs whose values shape the graph

  std::vector<Slot> slots;
  std::vector<Step> steps;
  std::vector<int> output_slots;  // per graph output
  std::map<DeviceKey, std::shared_ptr<Storage>> arenas;
  std::vector<Backend*> backends_used;  // synced after each run
  PlacementReport report;
  MemoryStats stats;

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    for (Step& s : steps)
      if (auto* k = std::get_if<KernelStep>(&s)) k->backend->release_kernel(k->kernel);
  }
};

struct Executor::Impl {
  Graph graph;
  ExecutorOptions options;
  BackendRegistry& registry;
  PlacementOptions placement_options;
  std::vector<std::string> unavailable;
  std::vector<Node*> order;                // live nodes, topological
  std::vector<bool> input_shapes_graph;    // graph input i's values feed shape inference
  std::unique_ptr<Plan> plan;
  size_t num_plans = 0;

  Impl(const Graph& g, ExecutorOptions o, BackendRegistry& r)
      : graph(g.clone()), options(std::move(o)), registry(r) {
    validate(graph);
    placement_options = {options.backends, options.strict};
    if (options.backends.empty()) raise(ErrorCode::kInvalidArgument, "the backend list is empty");
    bool any = false;
    for (const std::string& name : options.backends) {
      Backend* b = registry.find(name);
      if (!b) {
        unavailable.push_back(fmt::format("{}: {}", name, registry.why_missing(name)));
        if (options.strict && name == options.backends.front())
          raise(ErrorCode::kUnsupported, "backend '{}' is unavailable ({}) and strict mode forbids falling back",
                name, registry.why_missing(name));
        continue;
      }
      any = true;
      if (options.threads > 0) b->set_option("threads", std::to_string(options.threads));
    }
    if (!any)
      raise(ErrorCode::kNotFound, "none of the listed backends is available: {}", fmt::join(unavailable, "; "));
    order = live_nodes();
    input_shapes_graph.assign(graph.inputs().size(), false);
  }

  // Nodes that contribute to a graph output, in topological order.
  std::vector<Node*> live_nodes() const {
    std::set<const Node*> live;
    std::vector<const Value*> stack(graph.outputs().begin(), graph.outputs().end());
    while (!stack.empty()) {
      const Value* v = stack.back();
      stack.pop_back();
      if (!v || !v->producer() || !live.insert(v->producer()).second) continue;
      for (const Value* in : v->producer()->inputs()) stack.push_back(in);
    }
    std::vector<Node*> out;
    for (Node* n : graph.topological_order())
      if (live.count(n)) out.push_back(n);
    return out;
  }

  size_t input_index(const Value* v) const {
    auto it = std::find(graph.inputs().begin(), graph.inputs().end(), v);
    return static_cast<size_t>(it - graph.inputs().begin());
  }

  // Checks user inputs against the graph's declarations; returns contiguous host-accessible tensors.
  std::vector<Tensor> check_inputs(const std::vector<Tensor>& inputs) const {
    const auto& declared = graph.inputs();
    if (inputs.size() != declared.size())
      raise(ErrorCode::kInvalidArgument, "{}: expected {} inputs, got {}", graph.label(), declared.size(),
            inputs.size());
    std::map<std::string, std::pair<int64_t, std::string>> symbols;  // symbol -> (size, where)
    std::vector<Tensor> out;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Value& v = *declared[i];
      const Tensor& t = inputs[i];
      if (!t.defined()) raise(ErrorCode::kInvalidArgument, "{}: input '{}' is not set", graph.label(), v.name());
      if (v.dtype() != DType::kUndefined && t.dtype() != v.dtype())
        raise(ErrorCode::kInvalidArgument, "{}: input '{}' has dtype {}, expected {}", graph.label(), v.name(),
              to_string(t.dtype()), to_string(v.dtype()));
      if (v.shape().has_rank()) {
        if (t.rank() != v.shape().rank())
          raise(ErrorCode::kInvalidArgument, "{}: input '{}' has shape {}, expected rank {} ({})", graph.label(),
                v.name(), to_string(t.shape()), v.shape().rank(), v.shape().to_string());
        for (size_t d = 0; d < t.rank(); ++d) {
          const Dim& dim = v.shape()[d];
          if (dim.is_static() && dim.value() != t.shape()[d])
            raise(ErrorCode::kInvalidArgument, "{}: input '{}' has shape {}, expected {}", graph.label(), v.name(),
                  to_string(t.shape()), v.shape().to_string());
          if (dim.is_symbolic()) {
            auto [it, fresh] = symbols.emplace(dim.symbol(), std::make_pair(t.shape()[d], v.name()));
            if (!fresh && it->second.first != t.shape()[d])
              raise(ErrorCode::kInvalidArgument,
                    "{}: dim '{}' is {} in input '{}' but {} in input '{}'", graph.label(), dim.symbol(),
                    t.shape()[d], v.name(), it->second.first, it->second.second);
          }
        }
      }
      Tensor c = t.contiguous();
      out.push_back(c.device().host_accessible() ? c : c.to(Device::host()));
    }
    return out;
  }

  bool plan_matches(const std::vector<Tensor>& inputs) const {
    if (!plan) return false;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].dtype() != plan->input_dtypes[i] || inputs[i].shape() != plan->input_shapes[i]) return false;
      if (const auto& v = plan->input_values[i]) {
        size_t n = v->nbytes();
        if (std::memcmp(v->raw_data(), inputs[i].raw_data(), n) != 0) return false;
      }
    }
    return true;
  }

  std::vector<const Tensor*> known_inputs(const Node& n, const std::map<const Value*, Tensor>& known) const {
    std::vector<const Tensor*> out;
    for (const Value* in : n.inputs()) {
      auto it = in ? known.find(in) : known.end();
      out.push_back(it == known.end() ? nullptr : &it->second);
    }
    return out;
  }

  static std::vector<ValueType> types_of(const std::vector<Value*>& values,
                                         const std::map<const Value*, ValueType>& types) {
    std::vector<ValueType> out;
    for (const Value* v : values) out.push_back(v ? types.at(v) : ValueType{});
    return out;
  }

  int opset_of(const Node& n) const { return graph.opset(n.domain()); }

  // Runs one node once on its backend with host inputs; returns host outputs.
  std::vector<Tensor> evaluate(const Node& node, const std::map<const Value*, ValueType>& types,
                               const std::map<const Value*, Tensor>& known, NodePlacement& placement) {
    const OpDef& def = OpRegistry::builtin().lookup(node, opset_of(node));
    std::vector<const Tensor*> values = known_inputs(node, known);
    NodeDesc desc(node, def, opset_of(node), types_of(node.inputs(), types), types_of(node.outputs(), types), values);
    placement = place_node(node, desc.get(), placement_options, registry);
    Device device{placement.backend, 0};
    std::vector<Tensor> ins, outs;
    std::vector<kiln_tensor> abi_in, abi_out;
    for (const Tensor* t : values) {
      if (!t) {
        abi_in.push_back(kiln_tensor{nullptr, KILN_DTYPE_UNDEFINED, 0, nullptr});
        continue;
      }
      ins.push_back(t->to(device));
      abi_in.push_back(abi_tensor(ins.back()));
    }
    for (const Value* out : node.outputs()) {
      if (!out) {  // omitted optional output
        outs.emplace_back();
        abi_out.push_back(kiln_tensor{nullptr, KILN_DTYPE_UNDEFINED, 0, nullptr});
        continue;
      }
      const ValueType& t = types.at(out);
      outs.push_back(Tensor::empty(t.shape.concrete(), t.dtype, device));
      abi_out.push_back(abi_tensor(outs.back()));
    }
    kiln_kernel* kernel = placement.backend->prepare(0, desc.get());
    try {
      placement.backend->run(kernel, abi_in.data(), abi_in.size(), abi_out.data(), abi_out.size());
      placement.backend->sync(0);
    } catch (...) {
      placement.backend->release_kernel(kernel);
      throw;
    }
    placement.backend->release_kernel(kernel);
    for (Tensor& t : outs)
      if (t.defined()) t = t.to(Device::host());
    return outs;
  }

  void build_plan(const std::vector<Tensor>& inputs) {
    auto p = std::make_unique<Plan>();
    std::map<const Value*, ValueType> types;
    std::map<const Value*, Tensor> known;
    std::set<const Node*> folded;
    std::map<const Node*, NodePlacement> folded_placement;

    for (size_t i = 0; i < inputs.size(); ++i) {
      const Value* v = graph.inputs()[i];
      types[v] = ValueType{inputs[i].dtype(), Shape::of(inputs[i].shape())};
      p->input_dtypes.push_back(inputs[i].dtype());
      p->input_shapes.push_back(inputs[i].shape());
    }
    p->input_values.resize(inputs.size());
    for (const Value* v : graph.initializers()) {
      types[v] = ValueType{v->dtype(), v->shape()};
      known.emplace(v, *v->initializer());
    }

    // Makes a value known on the host by evaluating its producers (shape arithmetic).
    std::function<void(const Value*)> ensure_known = [&](const Value* v) {
      if (known.count(v)) return;
      if (v->is_graph_input()) {
        size_t i = input_index(v);
        input_shapes_graph[i] = true;
        known.emplace(v, inputs[i].clone());
        p->input_values[i] = known.at(v);
        return;
      }
      const Node* producer = v->producer();
      for (const Value* in : producer->inputs())
        if (in) ensure_known(in);
      NodePlacement placement;
      std::vector<Tensor> outs = evaluate(*producer, types, known, placement);
      for (size_t i = 0; i < outs.size(); ++i)
        if (producer->output(i)) known.emplace(producer->output(i), std::move(outs[i]));
      placement.folded = true;
      folded_placement[producer] = placement;
      folded.insert(producer);
    };
    // Inputs whose values earlier plans found to matter are part of the plan key.
    for (size_t i = 0; i < inputs.size(); ++i)
      if (input_shapes_graph[i]) ensure_known(graph.inputs()[i]);

    // Inference with concrete shapes, folding what shape inputs need.
    for (const Node* node : order) {
      const OpDef& def = OpRegistry::builtin().lookup(*node, opset_of(*node));
      for (int i : def.shape_input_indices())
        if (const Value* in = node->input(static_cast<size_t>(i))) ensure_known(in);
      try {
        InferContext c = infer_node(*node, def, opset_of(*node), types_of(node->inputs(), types),
                                    known_inputs(*node, known));
        for (size_t i = 0; i < node->outputs().size(); ++i) {
          if (!node->output(i)) continue;
          const ValueType& t = c.outputs()[i];
          if (!t.shape.is_static())
            raise(ErrorCode::kInternal, "{}: output '{}' has no static shape ({}) for these inputs",
                  node->describe(), node->output(i)->name(), t.shape.to_string());
          types[node->output(i)] = t;
          if (c.output_values()[i] && !known.count(node->output(i)))
            known.emplace(node->output(i), *c.output_values()[i]);
        }
      } catch (const Error& e) {
        throw Error(e.code(), graph.label() + ": " + e.what());
      }
    }

    // Placement and steps for nodes that still have work at run time.
    std::map<std::pair<const Value*, DeviceKey>, int> slot_of;  // value copy on a device
    std::map<const Value*, int> home;                           // where a value was produced
    auto new_slot = [&](Slot s) {
      s.bytes = static_cast<size_t>(checked_numel(s.shape)) * size_of(s.dtype);
      p->slots.push_back(std::move(s));
      return static_cast<int>(p->slots.size() - 1);
    };
    auto mark_read = [&](int slot) {
      Slot& s = p->slots[static_cast<size_t>(slot)];
      s.lifetime.last_step = std::max(s.lifetime.last_step, p->steps.size());
    };
    // The slot holding v on device d, adding an upload or a copy when needed.
    auto slot_on = [&](const Value* v, Device d) -> int {
      auto key = std::make_pair(v, key_of(d));
      if (auto it = slot_of.find(key); it != slot_of.end()) return it->second;
      const ValueType& t = types.at(v);
      if (auto k = known.find(v); k != known.end()) {
        Slot s{Slot::kConstant, d, t.dtype, t.shape.concrete()};
        // Host-accessible devices read the host copy in place; others get an upload, once per plan.
        s.constant = d.host_accessible() ? k->second.contiguous() : k->second.to(d);
        return slot_of[key] = new_slot(std::move(s));
      }
      int from = v->is_graph_input() ? -1 : home.at(v);
      if (from < 0) {
        Slot s{Slot::kInput, Device::host(), t.dtype, t.shape.concrete()};
        s.input_index = input_index(v);
        from = new_slot(std::move(s));
        slot_of[std::make_pair(v, key_of(Device::host()))] = from;
      }
      Device src = p->slots[static_cast<size_t>(from)].device;
      if (src == d || (src.host_accessible() && d.host_accessible())) return slot_of[key] = from;
      Slot s{Slot::kArena, d, t.dtype, t.shape.concrete()};
      s.lifetime.first_step = s.lifetime.last_step = p->steps.size();
      int to = new_slot(std::move(s));
      mark_read(from);
      p->steps.push_back(CopyStep{from, to});
      ++p->report.num_copies;
      return slot_of[key] = to;
    };

    for (const Node* node : order) {
      bool all_known = std::all_of(node->outputs().begin(), node->outputs().end(),
                                   [&](const Value* v) { return !v || known.count(v) > 0; });
      if (all_known) {
        NodePlacement np = folded.count(node) ? folded_placement[node] : NodePlacement{node, nullptr, false, true, ""};
        np.folded = true;
        p->report.nodes.push_back(np);
        ++p->report.num_folded;
        continue;
      }
      const OpDef& def = OpRegistry::builtin().lookup(*node, opset_of(*node));
      NodeDesc desc(*node, def, opset_of(*node), types_of(node->inputs(), types), types_of(node->outputs(), types),
                    known_inputs(*node, known));
      NodePlacement np = place_node(*node, desc.get(), placement_options, registry);
      Device device{np.backend, 0};
      KernelStep step{node, np.backend, nullptr, {}, {}};
      for (const Value* in : node->inputs()) step.inputs.push_back(in ? slot_on(in, device) : -1);
      for (int s : step.inputs)
        if (s >= 0) mark_read(s);
      for (const Value* out : node->outputs()) {
        if (!out) {
          step.outputs.push_back(-1);
          continue;
        }
        const ValueType& t = types.at(out);
        Slot s{out->is_graph_output() ? Slot::kOutput : Slot::kArena, device, t.dtype, t.shape.concrete()};
        s.lifetime.first_step = s.lifetime.last_step = p->steps.size();
        int id = new_slot(std::move(s));
        home[out] = id;
        slot_of[std::make_pair(out, key_of(device))] = id;
        step.outputs.push_back(id);
      }
      step.kernel = np.backend->prepare(0, desc.get());
      if (std::find(p->backends_used.begin(), p->backends_used.end(), np.backend) == p->backends_used.end())
        p->backends_used.push_back(np.backend);
      p->steps.push_back(std::move(step));
      p->report.nodes.push_back(np);
    }
    for (const Value* out : graph.outputs()) {
      auto it = home.find(out);
      p->output_slots.push_back(it != home.end() ? it->second : slot_on(out, Device::host()));
    }
    p->report.unavailable = unavailable;
    plan_memory(*p);
    plan = std::move(p);
    ++num_plans;
  }

  static void plan_memory(Plan& p) {
    std::map<DeviceKey, std::vector<size_t>> by_device;
    for (size_t i = 0; i < p.slots.size(); ++i)
      if (p.slots[i].kind == Slot::kArena) by_device[key_of(p.slots[i].device)].push_back(i);
    for (const auto& [key, ids] : by_device) {
      std::vector<BufferRequest> requests;
      for (size_t i : ids) {
        BufferRequest r = p.slots[i].lifetime;
        r.bytes = p.slots[i].bytes;
        requests.push_back(r);
        p.stats.unshared_bytes += r.bytes;
      }
      ArenaPlan arena = plan_arena(requests);
      for (size_t k = 0; k < ids.size(); ++k) p.slots[ids[k]].arena_offset = arena.offsets[k];
      p.arenas[key] = Storage::allocate(Device{key.first, key.second}, arena.arena_bytes);
      p.stats.planned_bytes += arena.arena_bytes;
      p.stats.num_values += ids.size();
    }
  }

  std::vector<Tensor> execute(const std::vector<Tensor>& inputs) {
    Plan& p = *plan;
    std::vector<void*> data(p.slots.size(), nullptr);
    std::vector<Tensor> fresh(p.slots.size());  // output slots allocated for this run
    for (size_t i = 0; i < p.slots.size(); ++i) {
      Slot& s = p.slots[i];
      switch (s.kind) {
        case Slot::kInput: data[i] = inputs[s.input_index].raw_data(); break;
        case Slot::kConstant: data[i] = s.constant.raw_data(); break;
        case Slot::kArena:
          data[i] = static_cast<char*>(p.arenas.at(key_of(s.device))->data()) + s.arena_offset;
          break;
        case Slot::kOutput: {
          Tensor t = Tensor::empty(s.shape, s.dtype, s.device);
          data[i] = t.raw_data();
          fresh[i] = std::move(t);
          break;
        }
      }
    }
    std::vector<kiln_tensor> ins, outs;
    for (Step& step : p.steps) {
      if (const auto* c = std::get_if<CopyStep>(&step)) {
        const Slot& from = p.slots[static_cast<size_t>(c->from)];
        const Slot& to = p.slots[static_cast<size_t>(c->to)];
        copy_between(from.device, data[static_cast<size_t>(c->from)], to.device, data[static_cast<size_t>(c->to)],
                     from.bytes);
        continue;
      }
      auto& k = std::get<KernelStep>(step);
      auto bind = [&](const std::vector<int>& ids, std::vector<kiln_tensor>& out) {
        out.clear();
        for (int id : ids) {
          if (id < 0) {
            out.push_back(kiln_tensor{nullptr, KILN_DTYPE_UNDEFINED, 0, nullptr});
            continue;
          }
          const Slot& s = p.slots[static_cast<size_t>(id)];
          out.push_back(kiln_tensor{data[static_cast<size_t>(id)], static_cast<int32_t>(s.dtype),
                                    static_cast<int32_t>(s.shape.size()), s.shape.empty() ? nullptr : s.shape.data()});
        }
      };
      bind(k.inputs, ins);
      bind(k.outputs, outs);
      try {
        k.backend->run(k.kernel, ins.data(), ins.size(), outs.data(), outs.size());
      } catch (const Error& e) {
        throw Error(e.code(), fmt::format("{}: {}: {}", graph.label(), k.node->describe(), e.what()));
      }
    }
    for (Backend* b : p.backends_used) b->sync(0);

    std::vector<Tensor> results;
    for (int id : p.output_slots) {
      const Slot& s = p.slots[static_cast<size_t>(id)];
      Tensor t;
      if (fresh[static_cast<size_t>(id)].defined()) t = fresh[static_cast<size_t>(id)];
      else if (s.kind == Slot::kConstant) t = s.constant.clone();
      else if (s.kind == Slot::kInput) t = inputs[s.input_index].clone();
      else raise(ErrorCode::kInternal, "{}: an output lives in the arena", graph.label());
      results.push_back(t.device().host_accessible() ? t : t.to(Device::host()));
    }
    return results;
  }
};

Executor::Executor(const Graph& graph, ExecutorOptions options, BackendRegistry& registry)
    : impl_(std::make_unique<Impl>(graph, std::move(options), registry)) {}

Executor::~Executor() = default;

void Executor::plan(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> checked = impl_->check_inputs(inputs);
  if (!impl_->plan_matches(checked)) impl_->build_plan(checked);
}

std::vector<Tensor> Executor::run(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> checked = impl_->check_inputs(inputs);
  if (!impl_->plan_matches(checked)) impl_->build_plan(checked);
  return impl_->execute(checked);
}

std::map<std::string, Tensor> Executor::run_named(const std::map<std::string, Tensor>& inputs) {
  std::vector<Tensor> ordered;
  for (const Value* v : impl_->graph.inputs()) {
    auto it = inputs.find(v->name());
    if (it == inputs.end())
      raise(ErrorCode::kInvalidArgument, "{}: input '{}' is missing", impl_->graph.label(), v->name());
    ordered.push_back(it->second);
  }
  for (const auto& [name, tensor] : inputs) {
    const Value* v = impl_->graph.find_value(name);
    if (!v || !v->is_graph_input())
      raise(ErrorCode::kInvalidArgument, "{}: '{}' is not an input of the graph", impl_->graph.label(), name);
  }
  std::vector<Tensor> outs = run(ordered);
  std::map<std::string, Tensor> named;
  for (size_t i = 0; i < outs.size(); ++i) named.emplace(impl_->graph.outputs()[i]->name(), std::move(outs[i]));
  return named;
}

const Graph& Executor::graph() const { return impl_->graph; }

const PlacementReport& Executor::placement() const {
  if (!impl_->plan) raise(ErrorCode::kInvalidArgument, "no plan yet: call run() or plan() first");
  return impl_->plan->report;
}

MemoryStats Executor::memory() const { return impl_->plan ? impl_->plan->stats : MemoryStats{}; }

size_t Executor::num_plans() const { return impl_->num_plans; }

}  // namespace kiln
