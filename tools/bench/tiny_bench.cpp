// Per-op overhead on tiny tensors: a chain of N Add (or Relu) nodes over f32 [4] run through
// kiln's executor, reported as time per node, against oneDNN's binary add primitive on [4]
// executed N times directly. Add runs on oneDNN inside kiln too, so kiln minus direct is
// kiln's own cost per node; kiln's Relu is plain C++, so its time is nearly all overhead.

#include <algorithm>
#include <unordered_map>

#include "bench_util.h"

namespace kiln::bench {
namespace {

constexpr int64_t kSize = 4;

// x -> op(x[, c]) -> op(.[, c]) ... N nodes; c is a [4] initializer for Add.
Graph chain(const std::string& op, int64_t n) {
  Graph g;
  g.set_label("tiny_" + op);
  Value* v = g.add_input("x", DType::kF32, {kSize});
  Value* c = g.add_initializer("c", Tensor::from_vector<float>({kSize}, {0.25f, -0.5f, 0.125f, 1.f}));
  for (int64_t i = 0; i < n; ++i) v = op == "Add" ? g.op1("Add", {v, c}) : g.op1(op, {v});
  g.add_output(v->name());
  return g;
}

void run_chain(benchmark::State& state, const std::string& op) {
  int64_t n = state.range(0);
  Executor ex = make_executor(chain(op, n));
  std::vector<Tensor> inputs{Tensor::from_vector<float>({kSize}, {1.f, -2.f, 3.f, -4.f})};
  std::vector<Tensor> first = ex.run(inputs);
  // The same chain on the host, as a check that kiln ran all n nodes.
  std::vector<float> want = {1.f, -2.f, 3.f, -4.f};
  const float c[kSize] = {0.25f, -0.5f, 0.125f, 1.f};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < kSize; ++j) want[j] = op == "Add" ? want[j] + c[j] : std::max(want[j], 0.f);
  if (!check_same(state, first[0], want.data())) return;
  for (auto _ : state) benchmark::DoNotOptimize(ex.run(inputs));
  set_time_per_op(state, n);
}

void BM_TinyAdd_kiln(benchmark::State& state) {
  guarded(state, [&] { run_chain(state, "Add"); });
}
void BM_TinyRelu_kiln(benchmark::State& state) {
  guarded(state, [&] { run_chain(state, "Relu"); });
}

// n executions of dst = src0 + src1 on [4], each waited for, as kiln's CPU kernels do.
void direct_add(benchmark::State& state) {
  apply_threads();
  int64_t n = state.range(0);
  Dnnl& d = Dnnl::get();
  auto md = plain_md({kSize}, dnnl::memory::format_tag::a);
  dnnl::binary prim(dnnl::binary::primitive_desc(dnnl::binary::desc(dnnl::algorithm::binary_add, md, md, md),
                                                 d.engine));
  std::vector<float> a = {1.f, -2.f, 3.f, -4.f}, b = {0.25f, -0.5f, 0.125f, 1.f}, y(kSize);
  dnnl::memory a_mem(md, d.engine, a.data()), b_mem(md, d.engine, b.data()), y_mem(md, d.engine, y.data());
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC_0, a_mem}, {DNNL_ARG_SRC_1, b_mem}, {DNNL_ARG_DST, y_mem}};
  for (auto _ : state) {
    for (int64_t i = 0; i < n; ++i) {
      prim.execute(d.stream, args);
      d.stream.wait();
    }
    benchmark::DoNotOptimize(y.data());
  }
  set_time_per_op(state, n);
}

void BM_TinyAdd_onednn(benchmark::State& state) {
  guarded(state, [&] { direct_add(state); });
}

}  // namespace

// N = 1 shows the fixed cost of one run(); N = 100 the cost per node once that is spread out.
BENCHMARK(BM_TinyAdd_kiln)->Arg(1)->Arg(100)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TinyRelu_kiln)->Arg(1)->Arg(100)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TinyAdd_onednn)->Arg(1)->Arg(100)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace kiln::bench
