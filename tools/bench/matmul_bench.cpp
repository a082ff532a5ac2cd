// 1024x1024x1024 f32 MatMul: kiln's executor (one MatMul node, B an initializer) against
// oneDNN's matmul primitive driven directly, both on plain row-major memory as kiln's CPU
// kernel uses it.

#include <cstdlib>
#include <memory>

#include "bench_util.h"

namespace kiln::bench {
namespace {

constexpr int64_t kN = 1024;

// C = A x B with A, B and C row-major [kN, kN]; the same primitive kiln's MatMul kernel makes.
struct DirectMatMul {
  std::vector<float> a = random_floats(kN * kN, 1), b = random_floats(kN * kN, 2);
  std::vector<float> c = std::vector<float>(kN * kN);
  dnnl::memory::desc md = plain_md({kN, kN}, dnnl::memory::format_tag::ab);
  dnnl::matmul prim{dnnl::matmul::primitive_desc(dnnl::matmul::desc(md, md, md), Dnnl::get().engine)};
  dnnl::memory a_mem{md, Dnnl::get().engine, a.data()}, b_mem{md, Dnnl::get().engine, b.data()};
  dnnl::memory c_mem{md, Dnnl::get().engine, c.data()};

  void run() {
    prim.execute(Dnnl::get().stream, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
    Dnnl::get().stream.wait();
  }
};

void run_kiln(benchmark::State& state) {
  Graph g;
  g.set_label("matmul_bench");
  Value* a = g.add_input("a", DType::kF32, {kN, kN});
  Value* b = g.add_initializer("b", Tensor::from_vector<float>({kN, kN}, random_floats(kN * kN, 2)));
  g.add_output(g.op1("MatMul", {a, b})->name());
  Executor ex = make_executor(g);
  std::vector<Tensor> inputs{Tensor::from_vector<float>({kN, kN}, random_floats(kN * kN, 1))};
  std::vector<Tensor> first = ex.run(inputs);  // plans and prepares
  DirectMatMul ref;
  ref.run();
  if (!check_same(state, first[0], ref.c.data())) return;
  for (auto _ : state) benchmark::DoNotOptimize(ex.run(inputs));
  set_time_per_op(state, 1);
}

void run_direct(benchmark::State& state) {
  apply_threads();
  DirectMatMul m;
  m.run();
  for (auto _ : state) m.run();
  set_time_per_op(state, 1);
}

// The direct primitive plus a fresh 4 MiB output per run, freed after it, as kiln's executor
// does for graph outputs: separates that cost from the rest of kiln's overhead.
void run_direct_fresh_output(benchmark::State& state) {
  apply_threads();
  DirectMatMul m;
  m.run();
  size_t bytes = static_cast<size_t>(kN * kN) * sizeof(float);
  for (auto _ : state) {
    void* out = std::aligned_alloc(64, bytes);
    m.c_mem.set_data_handle(out);
    m.run();
    benchmark::DoNotOptimize(out);
    std::free(out);
  }
  set_time_per_op(state, 1);
}

void BM_MatMul_kiln(benchmark::State& s) {
  guarded(s, [&] { run_kiln(s); });
}
void BM_MatMul_onednn(benchmark::State& s) {
  guarded(s, [&] { run_direct(s); });
}
void BM_MatMul_onednn_fresh_output(benchmark::State& s) {
  guarded(s, [&] { run_direct_fresh_output(s); });
}

}  // namespace

BENCHMARK(BM_MatMul_kiln)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_onednn)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_onednn_fresh_output)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace kiln::bench
