// kiln_microbench: Google Benchmark's runner plus a summary of kiln against direct oneDNN,
// computed from the medians the runner measured.
//
// Defaults (each may be overridden on the command line): 5 repetitions, aggregates only, and
// random interleaving of the repetitions, so that load drifting on a shared machine hits the
// kiln and the oneDNN runs alike.
//
// KILN_BENCH_THREADS=N sets the thread count of both sides. On a busy or virtualized machine
// with few cores, multi-threaded timings measure OpenMP wake-ups more than kernels; with
// KILN_BENCH_THREADS=1 all work runs on the benchmark thread and the summary adds CPU-time
// ratios, which other processes barely disturb.

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench_util.h"

namespace kiln::bench {
namespace {

// Per-op times of one benchmark, in nanoseconds.
struct Figures {
  double real = 0;  // wall clock
  double cpu = 0;   // CPU time of the benchmark thread: all the work when threads = 1
};

// The console output as usual, plus each benchmark's median for the summary: the "median"
// aggregate when there are repetitions, else the median of the single runs.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      std::string name = r.run_name.function_name + (r.run_name.args.empty() ? "" : "/" + r.run_name.args);
      double to_ns = 1e9 / benchmark::GetTimeUnitMultiplier(r.time_unit);
      double real_per_iteration = r.GetAdjustedRealTime() * to_ns;
      auto c = r.counters.find("per_op");  // seconds of real time per op
      double ops = c != r.counters.end() && c->second.value > 0 ? real_per_iteration / (c->second.value * 1e9) : 1;
      Figures f{real_per_iteration / ops, r.GetAdjustedCPUTime() * to_ns / ops};
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") medians_[name] = f;
      else if (r.run_type == Run::RT_Iteration) singles_[name].push_back(f);
    }
  }

  std::optional<Figures> find(const std::string& name) const {
    if (auto it = medians_.find(name); it != medians_.end()) return it->second;
    auto it = singles_.find(name);
    if (it == singles_.end() || it->second.empty()) return std::nullopt;
    std::vector<Figures> v = it->second;
    std::sort(v.begin(), v.end(), [](const Figures& a, const Figures& b) { return a.real < b.real; });
    return v[v.size() / 2];
  }

 private:
  std::map<std::string, Figures> medians_;
  std::map<std::string, std::vector<Figures>> singles_;
};

double pick(const Figures& f, bool cpu) { return cpu ? f.cpu : f.real; }

// kiln / oneDNN for one large op against each baseline.
void print_ratio(const SummaryReporter& r, bool cpu, const std::string& what, const std::string& kiln,
                 const std::vector<std::pair<std::string, std::string>>& baselines) {
  std::optional<Figures> k = r.find(kiln);
  if (!k) return;  // filtered out, or failed (the console output says why)
  for (const auto& [label, name] : baselines) {
    std::optional<Figures> d = r.find(name);
    if (!d) {
      fmt::print("  {:<28} {:<32} not measured\n", what, label);
      continue;
    }
    double kt = pick(*k, cpu), dt = pick(*d, cpu), ratio = kt / dt;
    fmt::print("  {:<28} {:<32} kiln {:8.3f} ms  oneDNN {:8.3f} ms  ratio {:.4f} ({:+.2f}%)\n", what, label,
               kt / 1e6, dt / 1e6, ratio, (ratio - 1) * 100);
  }
}

void print_tiny(const SummaryReporter& r, bool cpu) {
  auto add = r.find("BM_TinyAdd_kiln/100"), relu = r.find("BM_TinyRelu_kiln/100");
  auto direct = r.find("BM_TinyAdd_onednn/100");
  auto add1 = r.find("BM_TinyAdd_kiln/1"), direct1 = r.find("BM_TinyAdd_onednn/1");
  if (add && direct)
    fmt::print("  {:<61} kiln {:7.3f} us  oneDNN {:7.3f} us  kiln overhead {:.3f} us/node\n",
               "tiny Add [4], chain of 100 (per node)", pick(*add, cpu) / 1e3, pick(*direct, cpu) / 1e3,
               (pick(*add, cpu) - pick(*direct, cpu)) / 1e3);
  if (relu)
    fmt::print("  {:<61} kiln {:7.3f} us  (plain C++ kernel: nearly all overhead)\n",
               "tiny Relu [4], chain of 100 (per node)", pick(*relu, cpu) / 1e3);
  if (add1 && direct1)
    fmt::print("  {:<61} kiln {:7.3f} us  oneDNN {:7.3f} us  kiln overhead {:.3f} us/run\n",
               "tiny Add [4], one node (whole run())", pick(*add1, cpu) / 1e3, pick(*direct1, cpu) / 1e3,
               (pick(*add1, cpu) - pick(*direct1, cpu)) / 1e3);
}

void print_summary(const SummaryReporter& r, bool cpu) {
  print_ratio(r, cpu, "MatMul 1024^3", "BM_MatMul_kiln",
              {{"vs oneDNN", "BM_MatMul_onednn"}, {"vs oneDNN + fresh output", "BM_MatMul_onednn_fresh_output"}});
  print_ratio(r, cpu, "Conv 3x3 8x64x56x56", "BM_Conv_kiln",
              {{"vs oneDNN, same steps", "BM_Conv_onednn"},
               {"vs same steps + fresh output", "BM_Conv_onednn_fresh_output"},
               {"vs native layouts, no reorders", "BM_Conv_onednn_native"},
               {"vs plain nchw conv", "BM_Conv_onednn_plain"}});
  print_ratio(r, cpu, "Conv 3x3 8x64x56x56 + bias", "BM_ConvBias_kiln",
              {{"vs oneDNN, same steps", "BM_ConvBias_onednn"}});
  print_tiny(r, cpu);
}

}  // namespace
}  // namespace kiln::bench

int main(int argc, char** argv) {
  using namespace kiln::bench;
  std::vector<char*> args{argv[0]};
  std::string defaults[] = {"--benchmark_repetitions=5", "--benchmark_report_aggregates_only=true",
                            "--benchmark_enable_random_interleaving=true"};
  for (std::string& d : defaults) args.push_back(d.data());
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);  // later flags win
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;

  apply_threads();
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  fmt::print("threads: {} (KILN_BENCH_THREADS; 0 = OpenMP default, {} here); load average {:.2f}\n",
             bench_threads(), omp_get_max_threads(), load[0]);
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  getloadavg(load, 3);

  fmt::print("\nkiln vs oneDNN called directly, wall clock (medians; ratio = kiln / oneDNN; load average now {:.2f})\n"
             "goal: ratio under 1.03 for MatMul and Conv, overhead under 2 us per op on tiny tensors\n",
             load[0]);
  print_summary(reporter, false);
  if (bench_threads() == 1) {  // all work runs on the benchmark thread: CPU time ignores other processes
    fmt::print("\nthe same in CPU time of the benchmark thread (threads = 1)\n");
    print_summary(reporter, true);
  }
  benchmark::Shutdown();
  return 0;
}
