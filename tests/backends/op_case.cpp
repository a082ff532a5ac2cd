#include "op_case.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>

#include "kiln/runtime/executor.h"
#include "kiln/runtime/graph.h"
#include "kiln/runtime/op_registry.h"
#include "kiln/runtime/placement.h"
#include "node_desc.h"  // runtime-private: runs a folded node's kernel directly
#include "test_backends.h"

namespace kiln::test {

Tensor f32(const Dims& shape, const std::vector<float>& values) { return Tensor::from_vector<float>(shape, values); }
Tensor f64(const Dims& shape, const std::vector<double>& values) { return Tensor::from_vector<double>(shape, values); }
Tensor i64(const Dims& shape, const std::vector<int64_t>& values) {
  return Tensor::from_vector<int64_t>(shape, values);
}
Tensor i32(const Dims& shape, const std::vector<int32_t>& values) {
  return Tensor::from_vector<int32_t>(shape, values);
}
Tensor boolean(const Dims& shape, const std::vector<int>& values) {
  Tensor t = Tensor::empty(shape, DType::kBool);
  if (static_cast<int64_t>(values.size()) != t.numel()) throw std::logic_error("boolean: value count mismatch");
  bool* p = t.data<bool>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i] != 0;
  return t;
}
Tensor f32_scalar(float value) { return Tensor::scalar<float>(value); }
Tensor i64_scalar(int64_t value) { return Tensor::scalar<int64_t>(value); }

uint64_t Gen::next() {
  // PCG-style LCG step with an xorshift output; plenty for test data.
  state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
  uint64_t x = state_;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

Tensor Gen::uniform(const Dims& shape, double lo, double hi) {
  std::vector<float> values(static_cast<size_t>(numel_of(shape)));
  const auto steps = static_cast<uint64_t>((hi - lo) * 1024.0);
  for (float& v : values) v = static_cast<float>(lo + static_cast<double>(next() % steps) / 1024.0);
  return f32(shape, values);
}

Tensor Gen::integers(const Dims& shape, int64_t lo, int64_t hi) {
  std::vector<int64_t> values(static_cast<size_t>(numel_of(shape)));
  for (int64_t& v : values) v = lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  return i64(shape, values);
}

namespace {

// Every family's cases; parameters point into them, so they are kept for the whole run.
std::vector<std::unique_ptr<std::vector<OpCase>>>& declared_cases() {
  static std::vector<std::unique_ptr<std::vector<OpCase>>> storage;
  return storage;
}

}  // namespace

OpCase f64_twin(const OpCase& c) {
  OpCase twin = c;
  twin.name += "F64";
  for (CaseInput& in : twin.inputs) {
    if (!in.value.defined() || in.value.dtype() != DType::kF32) continue;
    Tensor wide = Tensor::empty(in.value.shape(), DType::kF64);
    const float* src = in.value.data<float>();
    double* dst = wide.data<double>();
    for (int64_t i = 0; i < wide.numel(); ++i) dst[i] = src[i];
    in.value = wide;
  }
  twin.reference = [ref = c.reference](const Refs& inputs) {
    Refs outs = ref(inputs);
    for (Ref& out : outs) {
      if (out.dtype == DType::kF32) out.dtype = DType::kF64;
    }
    return outs;
  };
  return twin;
}

std::vector<OpCaseParam> with_backends(std::vector<OpCase> cases) {
  const size_t declared = cases.size();
  for (size_t i = 0; i < declared; ++i) {
    const OpCase& c = cases[i];
    bool has_f32 = false;
    for (const CaseInput& in : c.inputs) has_f32 = has_f32 || (in.value.defined() && in.value.dtype() == DType::kF32);
    if (has_f32) cases.push_back(f64_twin(c));
  }
  auto& storage = declared_cases();
  storage.push_back(std::make_unique<std::vector<OpCase>>(std::move(cases)));
  std::vector<OpCaseParam> params;
  for (const OpCase& c : *storage.back()) {
    for (const std::vector<std::string>& list : backend_lists()) params.push_back({&c, list});
  }
  return params;
}

void PrintTo(const OpCaseParam& param, std::ostream* os) {
  *os << param.op_case->name << " (" << param.op_case->op_type << ", opset " << param.op_case->opset << ") on";
  for (const std::string& b : param.backends) *os << " " << b;
}

std::string param_name(const ::testing::TestParamInfo<OpCaseParam>& info) {
  std::string name = info.param.op_case->name;
  for (const std::string& b : info.param.backends) name += "_" + b;
  return name;
}

bool test_backend_claims(const OpCase& c) {
  static const std::set<std::string> kClaimed{"Add", "Sub", "Mul", "Div", "Relu", "Neg", "Abs", "Identity"};
  if (kClaimed.count(c.op_type) == 0) return false;
  for (const CaseInput& in : c.inputs) {
    if (!in.value.defined() || in.value.dtype() != DType::kF32) return false;
  }
  return true;
}

namespace {

std::string show_index(const Dims& shape, int64_t flat) {
  Dims index(shape.size());
  for (size_t i = shape.size(); i-- > 0;) {
    index[i] = flat % shape[i];
    flat /= shape[i];
  }
  return kiln::to_string(index);
}

bool close(double got, double want, double rtol, double atol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= atol + rtol * std::fabs(want);
}

/// Compares one output with its reference: dtype and shape exactly, values within tolerance
/// (exactly for integers and bools). Reports up to a few mismatching elements.
void expect_matches(const Tensor& out, const Ref& want, const OpCase& c, size_t index) {
  SCOPED_TRACE("output " + std::to_string(index));
  ASSERT_TRUE(out.defined());
  EXPECT_EQ(to_string(out.dtype()), to_string(want.dtype));
  ASSERT_EQ(kiln::to_string(out.shape()), kiln::to_string(want.shape));
  const Ref got = to_ref(out);
  const bool exact = !is_floating(want.dtype);
  // f64 results must be accurate to double precision (finite-difference gradient checks).
  const bool f64 = want.dtype == DType::kF64;
  const double rtol = f64 ? std::min(c.rtol, 1e-10) : c.rtol, atol = f64 ? std::min(c.atol, 1e-12) : c.atol;
  int reported = 0, mismatches = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = got.v[static_cast<size_t>(i)], w = want.v[static_cast<size_t>(i)];
    if (exact ? g == w : close(g, w, rtol, atol)) continue;
    ++mismatches;
    if (reported++ < 5) {
      ADD_FAILURE() << "at " << show_index(want.shape, i) << ": got " << g << ", expected " << w;
    }
  }
  EXPECT_EQ(mismatches, 0) << "elements out of tolerance (rtol " << rtol << ", atol " << atol << ")";
}

/// The expected backend: ops the test backend claims go to "test" when it leads the list, the
/// rest fall back to cpu; any other leading backend runs what it supports, cpu the rest.
void expect_backend(const Backend* backend, bool fell_back, const OpCase& c, const std::vector<std::string>& backends,
                    const std::string& report) {
  ASSERT_NE(backend, nullptr) << report;
  if (backends.front() == "test")
    EXPECT_EQ(backend->name(), test_backend_claims(c) ? "test" : "cpu") << report;
  else
    EXPECT_TRUE(backend->name() == backends.front() || backend->name() == "cpu") << report;
  EXPECT_EQ(fell_back, backends.front() != backend->name()) << report;
  ::testing::Test::RecordProperty("placed_on", backend->name());
}

/// The executor computes some nodes once at plan time from their inference rule (Constant,
/// Shape, i64 shape arithmetic), so no kernel runs for them. To test the backends' kernels
/// too, such a node also runs here directly on the backend that placement picks, the way the
/// executor runs a node it folds through a kernel. Returns the host outputs.
std::vector<Tensor> run_kernel_directly(const Graph& graph, const Node& node, const OpCase& c,
                                        const std::vector<std::string>& backends) {
  const OpDef& def = OpRegistry::builtin().lookup(node, graph.opset());
  std::vector<ValueType> in_types;
  std::vector<const Tensor*> known;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const CaseInput& in = c.inputs[i];
    in_types.push_back(in.value.defined() ? ValueType{in.value.dtype(), Shape::of(in.value.shape())} : ValueType{});
    // As in the executor: constants and shape inputs are known, run-time inputs are not.
    known.push_back(in.value.defined() && (in.initializer || def.is_shape_input(i)) ? &in.value : nullptr);
  }
  const InferContext inferred = infer_node(node, def, graph.opset(), in_types, known);
  NodeDesc desc(node, def, graph.opset(), in_types, inferred.outputs(), known);
  const NodePlacement placed = place_node(node, desc.get(), PlacementOptions{backends, false}, test_registry());
  expect_backend(placed.backend, placed.fell_back, c, backends, "(direct kernel run)");
  const Device device{placed.backend, 0};
  std::vector<Tensor> ins, outs;
  std::vector<kiln_tensor> abi_in, abi_out;
  ins.reserve(c.inputs.size());
  for (const CaseInput& in : c.inputs) {
    if (!in.value.defined()) {
      abi_in.push_back(kiln_tensor{nullptr, KILN_DTYPE_UNDEFINED, 0, nullptr});
      continue;
    }
    ins.push_back(in.value.to(device));
    abi_in.push_back(abi_tensor(ins.back()));
  }
  for (const ValueType& t : inferred.outputs()) {
    outs.push_back(Tensor::empty(t.shape.concrete(), t.dtype, device));
    abi_out.push_back(abi_tensor(outs.back()));
  }
  kiln_kernel* kernel = placed.backend->prepare(0, desc.get());
  try {
    placed.backend->run(kernel, abi_in.data(), abi_in.size(), abi_out.data(), abi_out.size());
    placed.backend->sync(0);
  } catch (...) {
    placed.backend->release_kernel(kernel);
    throw;
  }
  placed.backend->release_kernel(kernel);
  for (Tensor& t : outs) t = t.to(Device::host());
  return outs;
}

}  // namespace

TEST_P(OpCaseTest, Run) {
  const OpCase& c = *GetParam().op_case;
  const std::vector<std::string>& backends = GetParam().backends;

  Graph graph;
  graph.set_opset("", c.opset);
  if (!c.domain.empty()) graph.set_opset(c.domain, 1);
  NodeSpec spec{c.op_type, {}, {}, c.attrs, c.name, c.domain};
  std::vector<Tensor> feeds;
  Refs ref_inputs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const CaseInput& in = c.inputs[i];
    if (!in.value.defined()) {
      spec.inputs.emplace_back();
      ref_inputs.push_back(Ref::absent());
      continue;
    }
    const std::string name = "in" + std::to_string(i);
    spec.inputs.push_back(name);
    ref_inputs.push_back(to_ref(in.value));
    if (in.initializer) {
      graph.add_initializer(name, in.value);
    } else {
      graph.add_input(name, in.value.dtype(), Shape::of(in.value.shape()));
      feeds.push_back(in.value);
    }
  }
  for (size_t i = 0; i < c.num_outputs; ++i) spec.outputs.push_back("out" + std::to_string(i));
  const Node* node = graph.add_node(spec);
  for (const std::string& out : spec.outputs) graph.add_output(out);

  const Refs want = c.reference(ref_inputs);
  ASSERT_EQ(want.size(), c.num_outputs) << "the case's reference returned the wrong number of outputs";

  Executor ex(graph, ExecutorOptions{backends, /*strict=*/false, 0}, test_registry());
  // Twice: the second run reuses the prepared kernels and the memory plan.
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("executor run " + std::to_string(round + 1));
    const std::vector<Tensor> outs = ex.run(feeds);
    ASSERT_EQ(outs.size(), c.num_outputs);
    for (size_t i = 0; i < outs.size(); ++i) expect_matches(outs[i], want[i], c, i);
  }

  const PlacementReport& report = ex.placement();
  const NodePlacement* placed = nullptr;
  for (const NodePlacement& p : report.nodes) {
    if (p.node != nullptr && p.node->name() == c.name) placed = &p;
  }
  ASSERT_NE(placed, nullptr) << "node '" << c.name << "' is missing from the placement report:\n"
                             << report.to_string();
  if (!placed->folded) {
    expect_backend(placed->backend, placed->fell_back, c, backends, report.to_string());
    return;
  }
  SCOPED_TRACE("folded at plan time; direct kernel run");
  const std::vector<Tensor> outs = run_kernel_directly(graph, *node, c, backends);
  ASSERT_EQ(outs.size(), c.num_outputs);
  for (size_t i = 0; i < outs.size(); ++i) expect_matches(outs[i], want[i], c, i);
}

// Every op of ONNX's domain in the registry has at least one case (and so runs on every backend
// list); an op added without cases fails here. kiln's own fused ops are tested against their
// unfused graphs in tests/runtime/passes_test.cpp; its backward ops have cases too
// (backward_ops_test.cpp) besides the gradient checks of tests/runtime.
TEST(OpCaseCoverage, EveryOpHasCases) {
  std::set<std::string> covered;
  for (const auto& family : declared_cases()) {
    for (const OpCase& c : *family) covered.insert(c.op_type);
  }
  size_t checked = 0;
  for (const OpDef* def : OpRegistry::builtin().all()) {
    if (!def->domain().empty()) continue;
    ++checked;
    EXPECT_TRUE(covered.count(def->name())) << def->name() << " has no op case";
  }
  EXPECT_GE(checked, 54u);
}

}  // namespace kiln::test
