// kiln_optim_trajectories CONFIG.json INPUTS.npz OUT.npz
//
// Runs each optimizer/scheduler/clipping case of CONFIG (written by optim_parity.py) on a tiny
// problem and writes the parameter and lr trajectories, for comparison with PyTorch. The
// gradient of parameter w at step k is a_w * (w - t_w) + noise_w[k] (float32, the same
// elementwise ops PyTorch runs), so the gradients follow the parameters. A case with
// "resume_at" saves a checkpoint after that many steps and continues in a fresh optimizer and
// scheduler loaded from it.
//
// Outputs: "<case>.<param>" [steps + 1, ...] (row 0: the initial values) and "<case>.lr"
// [steps + 1, groups] (f64). Exits 1 with one line on any error.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "kiln/frontend/checkpoint.h"
#include "kiln/frontend/npy.h"
#include "kiln/frontend/optim.h"
#include "kiln/runtime/autograd.h"
#include "kiln/runtime/tensor_ops.h"

using json = nlohmann::json;
using namespace kiln;

namespace {

std::map<std::string, double> to_option_map(const json& options) {
  std::map<std::string, double> map;
  for (const auto& [key, value] : options.items()) {
    if (key == "betas") {
      map["beta1"] = value.at(0).get<double>();
      map["beta2"] = value.at(1).get<double>();
    } else if (value.is_boolean()) {
      map[key] = value.get<bool>() ? 1.0 : 0.0;
    } else {
      map[key] = value.get<double>();
    }
  }
  return map;
}

std::unique_ptr<optim::OptimizerOptions> make_options(const std::string& type, const json& options,
                                                      const optim::OptimizerOptions* base) {
  std::unique_ptr<optim::OptimizerOptions> o;
  if (base) o = base->clone();
  else if (type == "SGD") o = std::make_unique<optim::SGDOptions>(0.0);
  else if (type == "Adam") o = std::make_unique<optim::AdamOptions>();
  else if (type == "AdamW") o = std::make_unique<optim::AdamWOptions>();
  else raise(ErrorCode::kInvalidArgument, "unknown optimizer '{}'", type);
  auto values = o->to_map();
  for (const auto& [key, value] : to_option_map(options)) values[key] = value;
  o->from_map(values);
  return o;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const json& c, const std::map<std::string, Tensor>& params) {
  const std::string type = c.at("optimizer");
  auto defaults = make_options(type, c.at("options"), nullptr);
  std::vector<optim::ParamGroup> groups;
  for (const json& g : c.at("groups")) {
    std::vector<Tensor> ps;
    for (const json& name : g.at("params")) ps.push_back(params.at(name.get<std::string>()));
    groups.emplace_back(ps, make_options(type, g.value("options", json::object()), defaults.get()));
  }
  if (type == "SGD") return std::make_unique<optim::SGD>(groups, static_cast<optim::SGDOptions&>(*defaults));
  if (type == "Adam") return std::make_unique<optim::Adam>(groups, static_cast<optim::AdamOptions&>(*defaults));
  return std::make_unique<optim::AdamW>(groups, static_cast<optim::AdamWOptions&>(*defaults));
}

struct Schedulers {
  std::unique_ptr<optim::LRScheduler> epoch;
  std::unique_ptr<optim::ReduceLROnPlateau> plateau;
  void step(double metric) {
    if (epoch) epoch->step();
    if (plateau) plateau->step(metric);
  }
  std::string state() const { return epoch ? epoch->state_dict() : plateau ? plateau->state_dict() : ""; }
  void load(const std::string& s) {
    if (epoch) epoch->load_state_dict(s);
    if (plateau) plateau->load_state_dict(s);
  }
};

Schedulers make_scheduler(const json& c, optim::Optimizer& opt) {
  Schedulers s;
  if (!c.contains("scheduler")) return s;
  const json& j = c.at("scheduler");
  const std::string type = j.at("type");
  if (type == "StepLR") s.epoch = std::make_unique<optim::StepLR>(opt, j.at("step_size"), j.value("gamma", 0.1));
  else if (type == "MultiStepLR")
    s.epoch = std::make_unique<optim::MultiStepLR>(opt, j.at("milestones").get<std::vector<int64_t>>(), j.value("gamma", 0.1));
  else if (type == "ExponentialLR") s.epoch = std::make_unique<optim::ExponentialLR>(opt, j.at("gamma"));
  else if (type == "CosineAnnealingLR")
    s.epoch = std::make_unique<optim::CosineAnnealingLR>(opt, j.at("T_max"), j.value("eta_min", 0.0));
  else if (type == "LinearLR")
    s.epoch = std::make_unique<optim::LinearLR>(opt, j.value("start_factor", 1.0 / 3), j.value("end_factor", 1.0),
                                                j.value("total_iters", 5));
  else if (type == "ReduceLROnPlateau") {
    optim::ReduceLROnPlateauOptions o;
    o.mode(j.value("mode", "min") == "min" ? optim::PlateauMode::kMin : optim::PlateauMode::kMax)
        .factor(j.value("factor", 0.1))
        .patience(j.value("patience", 10))
        .threshold(j.value("threshold", 1e-4))
        .threshold_mode(j.value("threshold_mode", "rel") == "rel" ? optim::ThresholdMode::kRel : optim::ThresholdMode::kAbs)
        .cooldown(j.value("cooldown", 0))
        .min_lr(j.value("min_lr", 0.0))
        .eps(j.value("eps", 1e-8));
    s.plateau = std::make_unique<optim::ReduceLROnPlateau>(opt, o);
  } else {
    raise(ErrorCode::kInvalidArgument, "unknown scheduler '{}'", type);
  }
  return s;
}

std::vector<double> lrs(const optim::Optimizer& opt) {
  std::vector<double> v;
  for (const auto& g : opt.param_groups()) v.push_back(g.options().get_lr());
  return v;
}

/// Stacks rows (each of shape dims) into one tensor [rows, dims...].
Tensor stack(const std::vector<Tensor>& rows) {
  std::vector<Tensor> expanded;
  for (const Tensor& r : rows) expanded.push_back(unsqueeze(r, {0}));
  return concat(expanded, 0);
}

void run_case(const json& c, const std::map<std::string, Tensor>& inputs, const std::string& tmp,
              std::map<std::string, Tensor>& out) {
  const std::string name = c.at("name");
  const int steps = c.at("steps");
  const int resume_at = c.value("resume_at", -1);
  std::vector<std::string> names = c.at("param_names").get<std::vector<std::string>>();
  std::set<std::string> frozen;
  for (const json& f : c.value("frozen", json::array())) frozen.insert(f.get<std::string>());
  std::map<std::string, Tensor> params;
  for (const std::string& n : names) {
    Tensor p = inputs.at(n).clone();
    if (!frozen.count(n)) p.set_requires_grad(true);
    params[n] = p;
  }
  auto opt = make_optimizer(c, params);
  Schedulers sched = make_scheduler(c, *opt);
  std::map<std::string, std::vector<Tensor>> traj;
  std::vector<double> lr_rows = lrs(*opt);
  for (const std::string& n : names) traj[n].push_back(params[n].clone());
  const std::vector<double> metrics = inputs.count("metrics") ? inputs.at("metrics").to_vector<double>() : std::vector<double>();

  for (int k = 0; k < steps; ++k) {
    if (k == resume_at) {
      Checkpoint ckpt;
      for (const auto& [n, p] : params) ckpt.tensors["model." + n] = p;
      opt->state_dict().save_to(ckpt);
      if (!sched.state().empty()) ckpt.metadata["scheduler"] = sched.state();
      const std::string path = tmp + "/" + name + ".ckpt";
      save_checkpoint(path, ckpt);
      Checkpoint loaded = load_checkpoint(path);
      std::map<std::string, Tensor> fresh;
      for (const std::string& n : names) {
        Tensor p = loaded.tensors.at("model." + n).clone();
        if (!frozen.count(n)) p.set_requires_grad(true);
        fresh[n] = p;
      }
      params = fresh;
      opt = make_optimizer(c, params);
      sched = make_scheduler(c, *opt);  // made first: constructing a scheduler sets the lrs
      opt->load_state_dict(optim::OptimizerStateDict::load_from(loaded));
      if (loaded.metadata.count("scheduler")) sched.load(loaded.metadata.at("scheduler"));
    }
    opt->zero_grad();
    {
      NoGradGuard no_grad;
      for (const std::string& n : names) {
        if (frozen.count(n)) continue;
        const Tensor& p = params[n];
        Tensor noise = inputs.at("noise_" + n).slice(0, k, k + 1).reshape(p.shape());
        params[n].set_grad(inputs.at("a_" + n) * (p.detach() - inputs.at("t_" + n)) + noise);
      }
    }
    if (c.contains("clip")) {
      const json& clip = c.at("clip");
      std::vector<Tensor> all = opt->parameters();
      if (clip.at("type") == "norm") {
        double norm_type = clip.at("norm_type").is_string() ? INFINITY : clip.at("norm_type").get<double>();
        optim::clip_grad_norm_(all, clip.at("max_norm"), norm_type);
      } else {
        optim::clip_grad_value_(all, clip.at("clip_value"));
      }
    }
    opt->step();
    sched.step(metrics.empty() ? 0.0 : metrics.at(static_cast<size_t>(k)));
    for (const std::string& n : names) traj[n].push_back(params[n].clone());
    auto row = lrs(*opt);
    lr_rows.insert(lr_rows.end(), row.begin(), row.end());
  }
  for (const std::string& n : names) out[name + "." + n] = stack(traj[n]);
  const int64_t groups = static_cast<int64_t>(opt->param_groups().size());
  out[name + ".lr"] = Tensor::from_vector<double>({steps + 1, groups}, lr_rows);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: kiln_optim_trajectories CONFIG.json INPUTS.npz OUT.npz\n");
    return 2;
  }
  try {
    std::ifstream in(argv[1]);
    json config = json::parse(in);
    auto inputs = read_npz(argv[2]);
    std::map<std::string, Tensor> out;
    std::filesystem::path parent = std::filesystem::path(argv[3]).parent_path();
    const std::string tmp = parent.empty() ? std::string(".") : parent.string();
    for (const json& c : config.at("cases")) {
      try {
        run_case(c, inputs, tmp, out);
      } catch (const std::exception& e) {
        raise(ErrorCode::kInvalidArgument, "case {}: {}", c.value("name", "?"), e.what());
      }
    }
    write_npz(argv[3], out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln_optim_trajectories: %s\n", e.what());
    return 1;
  }
  return 0;
}
