// `kiln run MODEL.onnx --input NAME=FILE.npy ...`: runs a model once on inputs from .npy files and
// writes the outputs to an .npz, or prints a summary of each.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "commands.h"
#include "kiln/frontend/npy.h"
#include "kiln/onnx/inference_session.h"
#include "kiln/runtime/backend.h"
#include "model_inputs.h"

namespace kiln::cli {

namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;
  std::string output;
  std::string backend = "cpu";
  bool strict = false;
  int threads = 0;
  bool placement = false;
};

// "y: f32 [2,3] min=-1 max=2 mean=0.5 values=[...]" (NaNs are counted, not folded into the stats).
std::string summarize(const std::string& name, const Tensor& t) {
  std::string head = fmt::format("{}: {} {}", name, to_string(t.dtype()), to_string(t.shape()));
  if (t.dtype() == DType::kF16 || t.dtype() == DType::kBF16) return head;
  std::vector<double> v = to_doubles(t);
  if (v.empty()) return head + " (empty)";
  double lo = INFINITY, hi = -INFINITY, sum = 0;
  size_t nans = 0;
  for (double x : v) {
    if (std::isnan(x)) {
      ++nans;
      continue;
    }
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    sum += x;
  }
  std::string out = head;
  if (nans < v.size())
    out +=
        fmt::format(" min={:.6g} max={:.6g} mean={:.6g}", lo, hi, sum / static_cast<double>(v.size() - nans));
  if (nans) out += fmt::format(" nan={}", nans);
  constexpr size_t kShown = 6;
  std::vector<std::string> first;
  for (size_t i = 0; i < std::min(v.size(), kShown); ++i) first.push_back(fmt::format("{:.6g}", v[i]));
  out += fmt::format(" values=[{}{}]", fmt::join(first, ", "), v.size() > kShown ? ", ..." : "");
  return out;
}

int run(const RunArgs& a) {
  SessionOptions options;
  options.backends = parse_backend_list(a.backend);
  options.strict = a.strict;
  options.threads = a.threads;
  InferenceSession session(a.model, options);
  std::map<std::string, Tensor> inputs = read_input_files(a.inputs, session.inputs());
  std::map<std::string, Tensor> outputs = session.run(inputs);
  if (a.placement) fmt::print("{}", session.placement().to_string());
  if (!a.output.empty()) {
    write_npz(a.output, outputs);
    fmt::print("wrote {} output{} to {}\n", outputs.size(), outputs.size() == 1 ? "" : "s", a.output);
    return 0;
  }
  for (const ValueInfo& info : session.outputs())
    fmt::print("{}\n", summarize(info.name, outputs.at(info.name)));
  return 0;
}

}  // namespace

Action add_run_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("run", "Run a model once on inputs from .npy files");
  auto a = std::make_shared<RunArgs>();
  sub->add_option("model", a->model, "The .onnx model")->required();
  sub->add_option("--input,-i", a->inputs, "NAME=FILE.npy (FILE.npy alone for a single-input model)");
  sub->add_option("--output,-o", a->output, "Write every output to this .npz instead of printing a summary");
  sub->add_option("--backend", a->backend, "Backend preference list, e.g. cuda,cpu")->capture_default_str();
  sub->add_flag("--strict", a->strict, "Fail instead of falling back to a later backend");
  sub->add_option("--threads", a->threads, "Threads per backend (0: the backend's default)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--placement", a->placement, "Print which backend ran each node");
  return [a] { return run(*a); };
}

}  // namespace kiln::cli
