#pragma once
// Shared pieces of the micro-benchmark: deterministic data, the thread count both sides use,
// a directly driven oneDNN engine/stream, and a check that kiln's output matches oneDNN's.

#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <dnnl.hpp>

#include "kiln/runtime/executor.h"

namespace kiln::bench {

/// Threads for both kiln (ExecutorOptions::threads) and direct oneDNN (omp_set_num_threads):
/// KILN_BENCH_THREADS, or 0 for the OpenMP default on both sides.
inline int bench_threads() {
  const char* s = std::getenv("KILN_BENCH_THREADS");
  return s ? std::atoi(s) : 0;
}

/// Applies bench_threads() to this (the benchmark's) thread, as kiln's CPU plugin does.
inline void apply_threads() {
  if (int n = bench_threads(); n > 0) omp_set_num_threads(n);
}

/// Values in [-1, 1) from a fixed LCG: the same data on every run, no denormals.
inline std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t x = seed * 2654435761u + 1u;
  for (float& f : v) {
    x = x * 1664525u + 1013904223u;
    f = static_cast<float>(x >> 8) / static_cast<float>(1u << 23) - 1.f;
  }
  return v;
}

inline int64_t product(const Dims& d) {
  int64_t n = 1;
  for (int64_t x : d) n *= x;
  return n;
}

/// The oneDNN engine and stream the direct side uses (its own, like kiln's plugin has its own).
struct Dnnl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  static Dnnl& get() {
    static Dnnl d;
    return d;
  }
};

inline dnnl::memory::desc plain_md(const Dims& dims, dnnl::memory::format_tag tag) {
  return dnnl::memory::desc(dnnl::memory::dims(dims.begin(), dims.end()), dnnl::memory::data_type::f32, tag);
}

/// The executor as an application would build it: cpu backend, no strict mode, bench threads.
inline Executor make_executor(const Graph& g) {
  return Executor(g, ExecutorOptions{{"cpu"}, false, bench_threads()});
}

/// Runs a benchmark body; an exception (no cpu backend, a oneDNN error...) marks this
/// benchmark failed with its message instead of ending the whole program.
template <class F>
void guarded(benchmark::State& state, F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

/// Marks the benchmark failed (and returns false) when the largest difference between kiln's
/// and oneDNN's results exceeds tol relative to the largest magnitude: the two sides must
/// compute the same thing for the timing comparison to mean anything.
inline bool check_same(benchmark::State& state, const Tensor& got, const float* want, float tol = 1e-4f) {
  std::vector<float> g = got.to_vector<float>();
  float max_diff = 0.f, max_abs = 1e-6f;
  for (size_t i = 0; i < g.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(g[i] - want[i]));
    max_abs = std::max(max_abs, std::abs(want[i]));
  }
  if (!(max_diff <= tol * max_abs)) {
    state.SkipWithError(("kiln and oneDNN results differ by " + std::to_string(max_diff)).c_str());
    return false;
  }
  return true;
}

/// "per_op": real time per iteration divided by ops_per_iteration, in seconds (the console
/// shows it with an SI prefix, e.g. "1.2us").
inline void set_time_per_op(benchmark::State& state, int64_t ops_per_iteration) {
  // A rate of ops per second, inverted: seconds per op.
  state.counters["per_op"] = benchmark::Counter(
      static_cast<double>(ops_per_iteration),
      static_cast<benchmark::Counter::Flags>(benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert));
}

}  // namespace kiln::bench
