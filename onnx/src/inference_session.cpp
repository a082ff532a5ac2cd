#include "kiln/onnx/inference_session.h"

#include <fmt/ranges.h>

#include <utility>

#include "kiln/onnx/model.h"
#include "kiln/runtime/error.h"
#include "kiln/runtime/passes.h"

namespace kiln {

namespace {

std::vector<ValueInfo> infos_of(const std::vector<Value*>& values) {
  std::vector<ValueInfo> out;
  for (const Value* v : values) out.push_back({v->name(), v->dtype(), v->shape()});
  return out;
}

ExecutorOptions executor_options(const SessionOptions& o) { return {o.backends, o.strict, o.threads}; }

// Fused nodes (kiln.FusedConv...) have kernels only on the cpu backend: fusing for another
// preferred backend would move those nodes to the cpu, so other lists get every pass but fusion.
void optimize(Graph& graph, const SessionOptions& o) {
  if (o.backends.empty() || o.backends.front() == "cpu") {
    optimize_for_inference(graph);
    return;
  }
  fold_constants(graph);
  eliminate_dead_code(graph);
  fold_batch_norm(graph);
  eliminate_dead_code(graph);
}

}  // namespace

struct InferenceSession::Impl {
  std::string label;
  std::unique_ptr<Executor> executor;
  std::vector<ValueInfo> inputs, outputs;

  Impl(Graph graph, const SessionOptions& options) : label(graph.label()) {
    if (options.optimize) optimize(graph, options);
    // The executor validates its own copy; its values carry the inferred types.
    executor = std::make_unique<Executor>(graph, executor_options(options));
    inputs = infos_of(executor->graph().inputs());
    outputs = infos_of(executor->graph().outputs());
  }

  // Names are checked here so the message can list what the model expects.
  void check_names(const std::map<std::string, Tensor>& given) const {
    std::vector<std::string> expected;
    for (const ValueInfo& i : inputs) expected.push_back(i.name);
    for (const auto& [name, tensor] : given) {
      bool known = false;
      for (const ValueInfo& i : inputs) known = known || i.name == name;
      if (!known)
        raise(ErrorCode::kInvalidArgument, "{}: '{}' is not an input of the model (inputs: {})", label, name,
              fmt::join(expected, ", "));
    }
    for (const ValueInfo& i : inputs)
      if (!given.count(i.name))
        raise(ErrorCode::kInvalidArgument, "{}: input '{}' ({} {}) is missing", label, i.name,
              to_string(i.dtype), i.shape.to_string());
  }
};

InferenceSession::InferenceSession(const std::string& model_path, SessionOptions options)
    : impl_(std::make_unique<Impl>(onnx::load_model(model_path).graph, options)) {}

InferenceSession::InferenceSession(const Graph& graph, SessionOptions options)
    : impl_(std::make_unique<Impl>(graph.clone(), options)) {}

InferenceSession::~InferenceSession() = default;

std::map<std::string, Tensor> InferenceSession::run(const std::map<std::string, Tensor>& inputs) {
  impl_->check_names(inputs);
  return impl_->executor->run_named(inputs);
}

const std::vector<ValueInfo>& InferenceSession::inputs() const { return impl_->inputs; }
const std::vector<ValueInfo>& InferenceSession::outputs() const { return impl_->outputs; }
const Graph& InferenceSession::graph() const { return impl_->executor->graph(); }

const PlacementReport& InferenceSession::placement() const {
  try {
    return impl_->executor->placement();
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: {}", impl_->label, e.what()));
  }
}

MemoryStats InferenceSession::memory() const { return impl_->executor->memory(); }

}  // namespace kiln
