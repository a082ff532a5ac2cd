#include "kiln/runtime/eager.h"

#include <cstring>
#include <mutex>
#include <unordered_map>

#include "kiln/runtime/autograd.h"
#include "kiln/runtime/trace.h"
#include "node_desc.h"

namespace kiln {
namespace {

// Entries beyond this are dropped all at once: shapes that vary without end (the last batch of
// each epoch is one more shape, not thousands) would otherwise grow the cache forever.
constexpr size_t kMaxEagerKernels = 4096;

// One prepared kernel for an op, its opset, attributes, input dtypes, shapes and shape-input
// values.
struct EagerKernel {
  Graph graph;  // the one node the definition and the NodeDesc refer to
  const OpDef* def = nullptr;
  int opset = kLatestOpset;
  Attributes attrs;  // with the schema's defaults, as the tape saves them
  std::vector<ValueType> outputs;
  std::unique_ptr<NodeDesc> desc;
  Backend* backend = nullptr;
  int device = 0;
  kiln_kernel* kernel = nullptr;
  std::mutex run_mutex;  // a kernel may keep scratch state: one run at a time

  ~EagerKernel() {
    if (kernel) backend->release_kernel(kernel);
  }
};

struct EagerState {
  std::mutex mutex;
  BackendRegistry* registry = nullptr;
  std::unordered_map<std::string, std::shared_ptr<EagerKernel>> kernels;
};

// Never destroyed: kernels must not be released after the plugins are unloaded at exit.
EagerState& state() {
  static auto* s = new EagerState();
  return *s;
}

void append_bytes(std::string& key, const void* data, size_t bytes) {
  key.append(static_cast<const char*>(data), bytes);
}

void append_tensor(std::string& key, const Tensor& t) {
  key += to_string(t.dtype());
  key += to_string(t.shape());
  Tensor host = t.to(Device::host());
  append_bytes(key, host.raw_data(), host.nbytes());
}

void append_attr(std::string& key, const Attribute& a) {
  key += static_cast<char>('0' + static_cast<int>(type_of(a)));
  std::visit(
      [&key](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, float>) {
          append_bytes(key, &v, sizeof v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          key += v;
          key += '\0';
        } else if constexpr (std::is_same_v<T, Tensor>) {
          append_tensor(key, v);
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<float>>) {
          append_bytes(key, v.data(), v.size() * sizeof(v[0]));
          key += ';';
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          for (const auto& s : v) key += s + '\0';
          key += ';';
        } else {
          for (const auto& t : v) append_tensor(key, t);
          key += ';';
        }
      },
      a);
}

Backend& cpu_backend(BackendRegistry& registry) {
  Backend* cpu = registry.find("cpu");
  if (!cpu) raise(ErrorCode::kNotFound, "eager ops need the cpu backend: {}", registry.why_missing("cpu"));
  return *cpu;
}

// The device an op runs on: the one non-host device among its inputs, else the host.
Device compute_device(std::string_view op, const std::vector<Tensor>& inputs) {
  Device device = Device::host();
  for (const Tensor& t : inputs) {
    if (!t.defined() || t.device().is_host()) continue;
    if (device.is_host()) {
      device = t.device();
    } else if (!(t.device() == device)) {
      raise(ErrorCode::kInvalidArgument, "{}: inputs are on different devices ({} and {}); move them with to()", op,
            device.to_string(), t.device().to_string());
    }
  }
  return device;
}

// The opset an eager call runs at: `requested`, or the latest one the op is defined at for 0.
int resolve_opset(const OpDef& def, std::string_view domain, int requested) {
  if (requested == 0) return def.until();
  if (requested < def.since() || requested > def.until()) {
    raise(ErrorCode::kUnsupported, "op '{}{}{}' is not defined at opset {} (kiln supports {}..{})", domain,
          domain.empty() ? "" : ".", def.name(), requested, def.since(), def.until());
  }
  return requested;
}

std::shared_ptr<EagerKernel> build(const OpDef& def, std::string_view domain, int opset,
                                   const std::vector<Tensor>& inputs, const Attributes& attrs,
                                   size_t num_outputs, Backend& backend, int device) {
  auto k = std::make_shared<EagerKernel>();
  k->def = &def;
  k->opset = opset;
  k->graph.set_opset(std::string(domain), k->opset);
  NodeSpec spec{def.name(), {}, {}, attrs, def.name(), std::string(domain)};
  std::vector<ValueType> types;
  std::vector<Tensor> known;  // host copies of shape-input values
  std::vector<const Tensor*> values;
  known.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined()) {
      spec.inputs.emplace_back();
      types.emplace_back();
      values.push_back(nullptr);
      continue;
    }
    std::string name = "input" + std::to_string(i);
    k->graph.add_input(name, t.dtype(), Shape::of(t.shape()));
    spec.inputs.push_back(name);
    types.push_back({t.dtype(), Shape::of(t.shape())});
    values.push_back(def.is_shape_input(i) ? &known.emplace_back(t.to(Device::host())) : nullptr);
  }
  for (size_t i = 0; i < num_outputs; ++i) spec.outputs.push_back("output" + std::to_string(i));
  const Node* node = k->graph.add_node(std::move(spec));
  check_node(*node, def);
  InferContext c = infer_node(*node, def, k->opset, types, values);
  for (size_t i = 0; i < num_outputs; ++i) {
    const ValueType& out = c.outputs()[i];
    if (out.dtype == DType::kUndefined || !out.shape.is_static()) {
      raise(ErrorCode::kInternal, "{}: output {} has no concrete type after inference", node->describe(), i);
    }
    k->outputs.push_back(out);
  }
  k->desc = std::make_unique<NodeDesc>(*node, def, k->opset, types, k->outputs, values);
  std::string reason;
  if (!backend.supports(k->desc->get(), &reason)) {
    raise(ErrorCode::kUnsupported, "{}: backend '{}' cannot run it: {}", node->describe(), backend.name(), reason);
  }
  k->backend = &backend;
  k->device = device;
  k->kernel = backend.prepare(device, k->desc->get());
  k->attrs = attrs;
  for (const AttrSpec& s : def.attr_specs())
    if (!k->attrs.has(s.name) && s.default_value) k->attrs.set(s.name, *s.default_value);
  return k;
}

}  // namespace

void set_eager_registry(BackendRegistry& registry) {
  std::lock_guard lock(state().mutex);
  state().registry = &registry;
  state().kernels.clear();
}

size_t eager_kernel_count() {
  std::lock_guard lock(state().mutex);
  return state().kernels.size();
}

std::vector<Tensor> run_op(std::string_view op, const std::vector<Tensor>& inputs, const Attributes& attrs,
                           size_t num_outputs, std::string_view domain, int opset) {
  const OpDef* def = OpRegistry::builtin().find(op, domain);
  if (!def) {
    raise(ErrorCode::kUnsupported, "op '{}{}{}' is not defined", domain, domain.empty() ? "" : ".", op);
  }
  opset = resolve_opset(*def, domain, opset);
  const Device device = compute_device(op, inputs);
  EagerState& s = state();
  std::shared_ptr<EagerKernel> k;
  {
    std::lock_guard lock(s.mutex);
    BackendRegistry& registry = s.registry ? *s.registry : BackendRegistry::global();
    Backend& backend = device.is_host() ? cpu_backend(registry) : *device.backend;
    std::string key = backend.name() + ':' + std::to_string(device.index) + ':' + std::string(domain) + ':' +
                      std::string(op) + ':' + std::to_string(opset) + ':' + std::to_string(num_outputs) + '|';
    for (const auto& [name, value] : attrs.all()) {
      key += name + '=';
      append_attr(key, value);
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& t = inputs[i];
      key += '|';
      if (!t.defined()) continue;
      if (def->is_shape_input(i)) {
        append_tensor(key, t);
      } else {
        key += to_string(t.dtype());
        key += to_string(t.shape());
      }
    }
    auto it = s.kernels.find(key);
    if (it != s.kernels.end()) {
      k = it->second;
    } else {
      k = build(*def, domain, opset, inputs, attrs, num_outputs, backend, device.index);
      if (s.kernels.size() >= kMaxEagerKernels) s.kernels.clear();
      s.kernels.emplace(std::move(key), k);
    }
  }
  const Device out_device = device.is_host() ? Device::host() : device;
  std::vector<Tensor> args, outputs;
  std::vector<kiln_tensor> abi_in, abi_out;
  for (const Tensor& t : inputs) {
    if (!t.defined()) {
      abi_in.push_back(kiln_tensor{nullptr, KILN_DTYPE_UNDEFINED, 0, nullptr});
      continue;
    }
    const bool usable = t.device() == out_device || (out_device.is_host() && t.device().host_accessible());
    args.push_back(usable ? t.detach().contiguous() : t.to(out_device));
    abi_in.push_back(abi_tensor(args.back()));
  }
  for (const ValueType& type : k->outputs) {
    outputs.push_back(Tensor::empty(type.shape.concrete(), type.dtype, out_device));
    abi_out.push_back(abi_tensor(outputs.back()));
  }
  {
    std::lock_guard lock(k->run_mutex);
    k->backend->run(k->kernel, abi_in.data(), abi_in.size(), abi_out.data(), abi_out.size());
  }
  autograd::record(*def, k->opset, k->attrs, inputs, outputs);
  if (Tracer* tracer = active_tracer()) tracer->record(*def, domain, k->opset, attrs, inputs, outputs);
  return outputs;
}

Tensor run_op1(std::string_view op, const std::vector<Tensor>& inputs, const Attributes& attrs,
               std::string_view domain, int opset) {
  return std::move(run_op(op, inputs, attrs, 1, domain, opset)[0]);
}

}  // namespace kiln
