#include "kiln/train/driver.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "driver_export.h"
#include "kiln/frontend/checkpoint.h"
#include "kiln/frontend/data/dataloader.h"
#include "kiln/frontend/data/file_datasets.h"
#include "kiln/frontend/nn/loss.h"
#include "kiln/frontend/optim.h"
#include "kiln/frontend/tensorboard/training_logger.h"
#include "kiln/frontend/training.h"
#include "kiln/runtime/autograd.h"
#include "kiln/runtime/backend.h"
#include "kiln/runtime/tensor_ops.h"
#include "kiln/train/load_module.h"
#include "progress.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const std::vector<std::string> kLosses = {"mse", "cross_entropy", "bce_with_logits", "l1", "huber"};
const std::vector<std::string> kOptimizers = {"sgd", "adam", "adamw"};
const std::vector<std::string> kSchedulers = {"step", "cosine", "plateau"};

void check_choice(const std::string& flag, const std::string& value,
                  const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), value) == choices.end())
    raise(ErrorCode::kInvalidArgument, "{} '{}' is not one of {}", flag, value, fmt::join(choices, ", "));
}

// The folder a file will be written into must exist (checked before training, not after it).
void check_output_file(const std::string& flag, const std::string& path) {
  if (path.empty()) return;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent))
    raise(ErrorCode::kNotFound, "{} {}: folder '{}' does not exist", flag, path, parent.string());
  if (fs::is_directory(path))
    raise(ErrorCode::kInvalidArgument, "{} {}: is a folder, expected a file path", flag, path);
}

void check_options(const TrainOptions& o) {
  if (o.model.empty()) raise(ErrorCode::kInvalidArgument, "no model given");
  if (o.data.empty()) raise(ErrorCode::kInvalidArgument, "--data TRAIN.npz is required");
  if (o.loss.empty())
    raise(ErrorCode::kInvalidArgument, "--loss is required (one of {})", fmt::join(kLosses, ", "));
  check_choice("--loss", o.loss, kLosses);
  check_choice("--optimizer", o.optimizer, kOptimizers);
  if (!o.scheduler.empty()) check_choice("--scheduler", o.scheduler, kSchedulers);
  auto positive = [](const char* flag, int64_t v) {
    if (v < 1) raise(ErrorCode::kInvalidArgument, "{} must be at least 1, got {}", flag, v);
  };
  positive("--epochs", o.epochs);
  positive("--batch-size", o.batch_size);
  positive("--histogram-every", o.histogram_every);
  positive("--step-size", o.step_size);
  if (o.t_max < 0) raise(ErrorCode::kInvalidArgument, "--t-max must not be negative, got {}", o.t_max);
  if (o.log_every < 0)
    raise(ErrorCode::kInvalidArgument, "--log-every must not be negative, got {}", o.log_every);
  if (o.threads < 0) raise(ErrorCode::kInvalidArgument, "--threads must not be negative, got {}", o.threads);
  if (!(o.lr >= 0) || !std::isfinite(o.lr))
    raise(ErrorCode::kInvalidArgument, "--lr must be a finite number >= 0, got {}", o.lr);
  if (!(o.clip_grad_norm >= 0) || !std::isfinite(o.clip_grad_norm))
    raise(ErrorCode::kInvalidArgument, "--clip-grad-norm must be a finite number >= 0, got {}",
          o.clip_grad_norm);
  if (o.optimizer != "sgd" && (o.momentum != 0 || o.nesterov))
    raise(ErrorCode::kInvalidArgument, "--momentum and --nesterov are options of --optimizer sgd, not {}",
          o.optimizer);
  if (o.resume && o.checkpoint_dir.empty())
    raise(ErrorCode::kInvalidArgument, "--resume needs --checkpoint-dir DIR (where the checkpoints are)");
  if (!o.checkpoint_dir.empty() && fs::exists(o.checkpoint_dir) && !fs::is_directory(o.checkpoint_dir))
    raise(ErrorCode::kInvalidArgument, "--checkpoint-dir {}: is a file, expected a folder", o.checkpoint_dir);
  if (!o.logdir.empty() && fs::exists(o.logdir) && !fs::is_directory(o.logdir))
    raise(ErrorCode::kInvalidArgument, "--logdir {}: is a file, expected a folder", o.logdir);
  check_output_file("--export", o.export_onnx);
  check_output_file("--export-safetensors", o.export_safetensors);
  check_output_file("--metrics-out", o.metrics_out);
}

bool is_classification(const std::string& loss) {
  return loss == "cross_entropy" || loss == "bce_with_logits";
}

Tensor compute_loss(const TrainOptions& o, const Tensor& out, const Tensor& target) {
  if (o.loss == "mse") return nn::functional::mse_loss(out, target);
  if (o.loss == "l1") return nn::functional::l1_loss(out, target);
  if (o.loss == "huber")
    return nn::functional::huber_loss(out, target, nn::HuberLossOptions().delta(o.huber_delta));
  if (o.loss == "cross_entropy") return nn::functional::cross_entropy(out, target);
  return nn::functional::binary_cross_entropy_with_logits(out, target);
}

// Correct predictions in a batch: argmax over dim 1 against class indices (cross_entropy), or
// logit > 0 against target >= 0.5 (bce_with_logits). Returns {correct, counted}.
std::pair<int64_t, int64_t> correct_predictions(const std::string& loss, const Tensor& out,
                                                const Tensor& target) {
  const std::vector<double> o = cast(out.detach(), DType::kF64).to(Device::host()).to_vector<double>();
  const std::vector<double> t = cast(target, DType::kF64).to(Device::host()).to_vector<double>();
  if (loss == "bce_with_logits") {
    int64_t correct = 0;
    for (size_t i = 0; i < o.size() && i < t.size(); ++i) correct += (o[i] > 0) == (t[i] >= 0.5);
    return {correct, static_cast<int64_t>(o.size())};
  }
  if (is_floating(target.dtype()) || out.rank() < 2) return {0, 0};  // probability targets: no accuracy
  const int64_t n = out.shape()[0], c = out.shape()[1];
  const int64_t inner = out.numel() / std::max<int64_t>(1, n * c);
  int64_t correct = 0;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t s = 0; s < inner; ++s) {
      int64_t best = 0;
      for (int64_t k = 1; k < c; ++k)
        if (o[(b * c + k) * inner + s] > o[(b * c + best) * inner + s]) best = k;
      correct += static_cast<double>(best) == t[b * inner + s];
    }
  return {correct, n * inner};
}

// The device eager ops run on: the first backend of the list that loaded (cpu: the host).
Device choose_device(const TrainOptions& o, std::vector<std::string>& warnings) {
  BackendRegistry& registry = BackendRegistry::global();
  std::vector<std::string> missing;
  for (const std::string& name : parse_backend_list(o.backend)) {
    Backend* b = registry.find(name);
    if (!b) {
      missing.push_back(fmt::format("{} ({})", name, registry.why_missing(name)));
      continue;
    }
    if (o.threads > 0) b->set_option("threads", std::to_string(o.threads));
    if (!missing.empty())
      warnings.push_back(
          fmt::format("backend not available: {}; training on {}", fmt::join(missing, "; "), name));
    return name == "cpu" ? Device::host() : Device{b, 0};
  }
  raise(ErrorCode::kNotFound, "--backend {}: no listed backend is available: {}", o.backend,
        fmt::join(missing, "; "));
}

struct Trainee {
  onnx::Model source;
  nn::GraphModule net{nullptr};
  size_t output = 0;  // the graph output the loss reads
  std::string input_name, output_name;
};

size_t find_output(const Graph& g, const std::string& name, const std::string& model) {
  if (name.empty()) return 0;
  std::vector<std::string> names;
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    if (g.outputs()[i]->name() == name) return i;
    names.push_back(g.outputs()[i]->name());
  }
  raise(ErrorCode::kNotFound, "--output '{}': {} has no such output (outputs: {})", name, model,
        fmt::join(names, ", "));
}

std::string real_input(const Graph& g, const std::string& model) {
  std::vector<std::string> names;
  for (const Value* v : g.inputs())
    if (!v->initializer()) names.push_back(v->name());
  if (names.size() != 1)
    raise(ErrorCode::kUnsupported, "{}: kiln train feeds one input, the model has {} ({})", model,
          names.size(), fmt::join(names, ", "));
  return names[0];
}

Tensor forward(Trainee& m, const Tensor& x) { return m.net->forward_all({x})[m.output]; }

// The first batch through the model (eval mode, no gradient) and the loss, so data that does not
// fit is named before training; then every class target against the output's class count.
void check_data_fits(Trainee& m, const TrainOptions& o, const data::NpzDataset& ds, const std::string& path,
                     Device device) {
  data::DataLoader first(std::shared_ptr<const data::Dataset>(&ds, [](const data::Dataset*) {}),
                         data::DataLoaderOptions().batch_size(o.batch_size));
  const data::Example batch = *first.begin();
  Tensor out;
  {
    NoGradGuard no_grad;
    m.net->eval();
    try {
      out = forward(m, device.is_host() ? batch.data : batch.data.to(device));
    } catch (const Error& e) {
      m.net->train();
      throw Error(e.code(), fmt::format("{}: array '{}' does not fit the model's input '{}': {}", path,
                                        o.input_key, m.input_name, e.what()));
    }
    m.net->train();
  }
  if (o.loss == "cross_entropy" && !is_floating(ds.target().dtype()) && out.rank() >= 1) {
    const int64_t classes = out.rank() >= 2 ? out.shape()[1] : out.shape()[0];
    const std::vector<int64_t> t = cast(ds.target(), DType::kI64).to_vector<int64_t>();
    const int64_t per_row = static_cast<int64_t>(t.size()) / std::max<int64_t>(1, ds.size());
    for (size_t i = 0; i < t.size(); ++i) {
      if ((t[i] >= 0 && t[i] < classes) || t[i] == -100) continue;  // -100: cross_entropy's ignore_index
      const int64_t row = static_cast<int64_t>(i) / std::max<int64_t>(1, per_row);
      raise(ErrorCode::kInvalidArgument,
            "{}: target {}[{}] = {} is outside the class range [0, {}) of the model's output '{}' (batch {} "
            "of an "
            "unshuffled epoch)",
            path, o.target_key, row, t[i], classes, m.output_name, row / o.batch_size + 1);
    }
  }
  try {
    NoGradGuard no_grad;
    compute_loss(o, out, device.is_host() ? batch.target : batch.target.to(device));
  } catch (const Error& e) {
    throw Error(
        e.code(),
        fmt::format("{}: targets '{}' ({} {}) do not fit --loss {} on the model's output '{}' ({} {}): {}",
                    path, o.target_key, kiln::to_string(batch.target.dtype()),
                    kiln::to_string(batch.target.shape()), o.loss, m.output_name,
                    kiln::to_string(out.dtype()), kiln::to_string(out.shape()), e.what()));
  }
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainOptions& o, std::vector<Tensor> params) {
  if (o.optimizer == "sgd") {
    return std::make_unique<optim::SGD>(std::move(params), optim::SGDOptions(o.lr)
                                                               .momentum(o.momentum)
                                                               .nesterov(o.nesterov)
                                                               .weight_decay(o.weight_decay.value_or(0.0)));
  }
  if (o.optimizer == "adam") {
    return std::make_unique<optim::Adam>(
        std::move(params),
        optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}).weight_decay(o.weight_decay.value_or(0.0)));
  }
  return std::make_unique<optim::AdamW>(
      std::move(params),
      optim::AdamWOptions(o.lr).betas({o.beta1, o.beta2}).weight_decay(o.weight_decay.value_or(1e-2)));
}

// The scheduler stepped once per epoch, and its state for checkpoints.
struct Scheduler {
  std::unique_ptr<optim::LRScheduler> epochwise;
  std::unique_ptr<optim::ReduceLROnPlateau> plateau;
  std::optional<JsonState> state() {
    if (epochwise) return json_state(*epochwise);
    if (plateau) return json_state(*plateau);
    return std::nullopt;
  }
};

Scheduler make_scheduler(const TrainOptions& o, optim::Optimizer& opt) {
  Scheduler s;
  if (o.scheduler == "step") s.epochwise = std::make_unique<optim::StepLR>(opt, o.step_size, o.gamma);
  if (o.scheduler == "cosine")
    s.epochwise =
        std::make_unique<optim::CosineAnnealingLR>(opt, o.t_max > 0 ? o.t_max : o.epochs, o.eta_min);
  if (o.scheduler == "plateau")
    s.plateau = std::make_unique<optim::ReduceLROnPlateau>(
        opt, optim::ReduceLROnPlateauOptions().patience(o.patience).factor(o.plateau_factor));
  return s;
}

double current_lr(const optim::Optimizer& opt) { return opt.param_groups().at(0).options().get_lr(); }

// What must match for a checkpoint to continue this run.
Json run_identity(const TrainOptions& o, const nn::GraphModule& net) {
  return Json{{"optimizer", o.optimizer}, {"scheduler", o.scheduler}, {"trainable", net->trainable_names()}};
}

std::string checkpoint_path(const std::string& dir, int64_t epoch) {
  return (fs::path(dir) / fmt::format("epoch-{}.ckpt", epoch)).string();
}

std::map<int64_t, std::string> checkpoints_in(const std::string& dir) {
  std::map<int64_t, std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  static const std::regex kName(R"(epoch-([0-9]+)\.ckpt)");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && std::regex_match(name, m, kName))
      out[std::stoll(m[1].str())] = entry.path().string();
  }
  return out;
}

// Keeps the metrics lines of steps a resumed run already took (step <= step) and drops the rest,
// so the file ends as an uninterrupted run's would.
void truncate_metrics(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      if (Json::parse(line).at("step").get<int64_t>() > step) continue;
    } catch (const Json::exception&) {
      raise(ErrorCode::kInvalidArgument, "--metrics-out {}: not a kiln metrics file (line '{}')", path, line);
    }
    kept += line + "\n";
  }
  in.close();
  std::ofstream out(path, std::ios::trunc);
  out << kept;
  if (!out) raise(ErrorCode::kIo, "--metrics-out {}: cannot rewrite", path);
}

Json number(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

void warn(const TrainOptions& o, TrainResult& r, const std::string& message) {
  r.warnings.push_back(message);
  if (o.log) *o.log << "kiln: warning: " << message << "\n" << std::flush;
}

}  // namespace

TrainResult fine_tune(const TrainOptions& o) {
  TrainResult result;
  check_options(o);

  // The model, freezing and the preflight report.
  Generator generator;  // Dropout's masks
  generator.manual_seed(o.seed);
  Trainee m;
  m.source = onnx::load_model(o.model);
  m.net = nn::GraphModule(m.source.graph.clone(), &generator);
  m.input_name = real_input(m.net->graph(), o.model);
  m.output = find_output(m.net->graph(), o.output, o.model);
  m.output_name = m.net->graph().outputs()[m.output]->name();
  const FreezeResult freezing = apply_freezing(m.net, o.freeze, o.train_only);
  for (const std::string& g : freezing.unmatched) warn(o, result, g + " matches no parameter of " + o.model);
  const PreflightReport report = preflight(m.net, freezing);
  if (!report.problems.empty())
    raise(ErrorCode::kInvalidArgument, "{}: {}", o.model, fmt::join(report.problems, "; "));
  if (!o.export_safetensors.empty() && !report.unmapped_parameters.empty())
    raise(ErrorCode::kInvalidArgument,
          "--export-safetensors {}: {} has parameters PyTorch has no name for ({}); PyTorch's "
          "load_state_dict would "
          "refuse them",
          o.export_safetensors, o.model, fmt::join(report.unmapped_parameters, ", "));
  for (const std::string& note : report.notes)
    if (note.rfind("folded BatchNorm", 0) == 0 && o.log) *o.log << "kiln: note: " << note << "\n";

  // Data, device, and the fit of the data to the model.
  auto train_data = std::make_shared<data::NpzDataset>(o.data, o.input_key, o.target_key);
  std::shared_ptr<data::NpzDataset> val_data;
  if (!o.val.empty()) val_data = std::make_shared<data::NpzDataset>(o.val, o.input_key, o.target_key);
  std::vector<std::string> device_warnings;
  const Device device = choose_device(o, device_warnings);
  for (const std::string& w : device_warnings) warn(o, result, w);
  if (!device.is_host()) m.net->to(device);
  check_data_fits(m, o, *train_data, o.data, device);
  if (val_data) check_data_fits(m, o, *val_data, o.val, device);

  // Optimizer, scheduler, loader; then the checkpoint to resume from, checked against all of it.
  std::unique_ptr<optim::Optimizer> optimizer = make_optimizer(o, m.net->trainable_parameters());
  Scheduler scheduler = make_scheduler(o, *optimizer);
  data::DataLoader loader(train_data,
                          data::DataLoaderOptions().batch_size(o.batch_size).shuffle(o.shuffle).seed(o.seed));
  TrainingParts parts{m.net.ptr().get(), optimizer.get(), scheduler.state(), &generator, &loader, {}};
  const std::string sha = file_sha256(o.model);
  const Json identity = run_identity(o, m.net);
  parts.metadata = {{"source_model", fs::absolute(o.model).lexically_normal().string()},
                    {"source_model_sha256", sha},
                    {"source_model_size", std::to_string(fs::file_size(o.model))},
                    {"run", identity.dump()},
                    {"input_key", o.input_key},
                    {"target_key", o.target_key},
                    {"loss", o.loss}};
  TrainingProgress progress;
  if (o.resume) {
    const std::string latest = latest_checkpoint(o.checkpoint_dir);
    if (latest.empty())
      raise(ErrorCode::kNotFound, "--resume: no checkpoint (epoch-N.ckpt) in {}", o.checkpoint_dir);
    const Checkpoint saved = load_checkpoint(latest);
    progress = load_training_checkpoint(latest, parts);  // lists every tensor that differs
    auto meta = [&](const char* key) {
      auto it = saved.metadata.find(key);
      return it == saved.metadata.end() ? std::string() : it->second;
    };
    if (meta("source_model_sha256") != sha)
      raise(ErrorCode::kInvalidArgument,
            "--resume: {} was written while training {} (sha256 {}), not {} (sha256 {})", latest,
            meta("source_model"), meta("source_model_sha256"), o.model, sha);
    if (meta("run") != identity.dump())
      raise(ErrorCode::kInvalidArgument, "--resume: {} was written by a run with {}, this run has {}", latest,
            meta("run"), identity.dump());
    result.start_epoch = progress.epoch;
    if (o.log)
      *o.log << fmt::format("resuming from {} (epoch {}, step {})\n", latest, progress.epoch, progress.step);
  }

  // Outputs: from here on files are written.
  if (!o.checkpoint_dir.empty()) fs::create_directories(o.checkpoint_dir);
  std::ofstream metrics;
  if (!o.metrics_out.empty()) {
    if (o.resume) truncate_metrics(o.metrics_out, progress.step);
    metrics.open(o.metrics_out, o.resume ? std::ios::app : std::ios::trunc);
    if (!metrics) raise(ErrorCode::kIo, "--metrics-out {}: cannot open for writing", o.metrics_out);
    result.written.push_back(o.metrics_out);
  }
  auto write_metrics = [&](const Json& line) {
    if (!metrics.is_open()) return;
    metrics << line.dump() << "\n" << std::flush;
    if (!metrics) raise(ErrorCode::kIo, "--metrics-out {}: write failed", o.metrics_out);
  };
  std::unique_ptr<tensorboard::TrainingLogger> board;
  if (!o.logdir.empty()) {
    board = std::make_unique<tensorboard::TrainingLogger>(
        o.logdir, tensorboard::TrainingLoggerOptions().histogram_every(o.histogram_every));
    board->log_graph(m.net->graph());
  }
  const bool bar = o.progress == ProgressStyle::kBar ||
                   (o.progress == ProgressStyle::kAuto && o.log == &std::cerr && ::isatty(STDERR_FILENO));
  const int64_t every = o.log_every > 0 ? o.log_every : std::max<int64_t>(1, loader.size() / 10);
  Progress shown(o.progress == ProgressStyle::kNone ? nullptr : o.log, bar, every);

  const std::vector<Tensor> params = m.net->trainable_parameters();
  const NonFiniteLoss policy = o.allow_nonfinite_loss ? NonFiniteLoss::kContinue : NonFiniteLoss::kStop;
  int64_t step = progress.step;
  for (int64_t epoch = progress.epoch + 1; epoch <= o.epochs; ++epoch) {
    m.net->train();
    const int64_t first_batch = loader.state().batches_done;
    shown.start_epoch(epoch, o.epochs, loader.size(), first_batch);
    double loss_sum = 0, grad_norm = 0;
    int64_t examples = 0, batch_index = first_batch;
    for (const data::Example& batch : loader) {
      ++step, ++batch_index;
      const Tensor x = device.is_host() ? batch.data : batch.data.to(device);
      const Tensor y = device.is_host() ? batch.target : batch.target.to(device);
      const double lr = current_lr(*optimizer);
      optimizer->zero_grad();
      Tensor loss;
      try {
        loss = compute_loss(o, forward(m, x), y);
      } catch (const Error& e) {
        throw Error(e.code(),
                    fmt::format("step {} (epoch {}, batch {}): {}", step, epoch, batch_index, e.what()));
      }
      const bool finite = check_loss(loss, step, policy);
      const double value = loss.item<double>();
      Json line{{"epoch", epoch},
                {"step", step},
                {"split", "train"},
                {"loss", number(value)},
                {"lr", lr},
                {"batch", batch_index},
                {"examples", batch.data.shape()[0]}};
      if (finite) {
        loss.backward();
        if (o.clip_grad_norm > 0) {
          grad_norm = optim::clip_grad_norm_(params, o.clip_grad_norm);
          line["grad_norm"] = number(grad_norm);
        } else if (board) {
          grad_norm = tensorboard::grad_norm(params);
          line["grad_norm"] = number(grad_norm);
        }
        if (board) board->log_weights(*m.net, step);
        optimizer->step();
      } else {
        line["skipped"] = true;
        warn(o, result,
             fmt::format("step {}: loss is {}; update skipped (--allow-nonfinite-loss)", step, value));
      }
      write_metrics(line);
      if (board) board->log_step(step, value, lr);
      loss_sum += value * static_cast<double>(batch.data.shape()[0]);
      examples += batch.data.shape()[0];
      shown.step(batch_index, step, value, batch.data.shape()[0]);
    }
    const double train_loss = examples ? loss_sum / static_cast<double>(examples) : NAN;
    result.train_loss = train_loss;
    std::string summary = fmt::format("epoch {}/{}: train loss {:.6g}", epoch, o.epochs, train_loss);

    // Validation: loss (weighted by batch size) and accuracy for classification.
    std::optional<double> val_loss;
    if (val_data) {
      NoGradGuard no_grad;
      m.net->eval();
      data::DataLoader val_loader(val_data, data::DataLoaderOptions().batch_size(o.batch_size));
      double sum = 0;
      int64_t n = 0, correct = 0, counted = 0;
      for (const data::Example& batch : val_loader) {
        const Tensor y = device.is_host() ? batch.target : batch.target.to(device);
        const Tensor out = forward(m, device.is_host() ? batch.data : batch.data.to(device));
        sum += compute_loss(o, out, y).item<double>() * static_cast<double>(batch.data.shape()[0]);
        n += batch.data.shape()[0];
        if (is_classification(o.loss)) {
          auto [c, k] = correct_predictions(o.loss, out, batch.target);
          correct += c, counted += k;
        }
      }
      m.net->train();
      val_loss = sum / static_cast<double>(n);
      result.val_loss = val_loss;
      Json line{{"epoch", epoch}, {"step", step}, {"split", "val"}, {"loss", number(*val_loss)}};
      summary += fmt::format(", val loss {:.6g}", *val_loss);
      if (counted > 0) {
        result.val_accuracy = static_cast<double>(correct) / static_cast<double>(counted);
        line["accuracy"] = *result.val_accuracy;
        summary += fmt::format(", val accuracy {:.4f}", *result.val_accuracy);
        if (board) board->writer().add_scalar("accuracy/val", *result.val_accuracy, epoch);
      }
      write_metrics(line);
    }
    const double epoch_lr = current_lr(*optimizer);
    if (scheduler.epochwise) scheduler.epochwise->step();
    if (scheduler.plateau) scheduler.plateau->step(val_loss.value_or(train_loss));
    if (board) board->log_epoch(epoch, train_loss, val_loss, epoch_lr, grad_norm);
    shown.end_epoch(summary);

    if (!o.checkpoint_dir.empty()) {
      const std::string path = checkpoint_path(o.checkpoint_dir, epoch);
      save_training_checkpoint(path, parts, {step, epoch});
      result.written.push_back(path);
      for (const auto& [e, old] : checkpoints_in(o.checkpoint_dir))
        if (e < epoch - 1) fs::remove(old);  // keep the last and the previous
    }
  }
  result.steps = step;
  result.epochs = std::max<int64_t>(progress.epoch, o.epochs);
  if (board) {
    std::map<std::string, double> final_metrics;
    if (result.train_loss) final_metrics["hparam/train_loss"] = *result.train_loss;
    if (result.val_loss) final_metrics["hparam/val_loss"] = *result.val_loss;
    if (result.val_accuracy) final_metrics["hparam/val_accuracy"] = *result.val_accuracy;
    board->log_hparams({{"optimizer", o.optimizer},
                        {"lr", o.lr},
                        {"momentum", o.momentum},
                        {"batch_size", o.batch_size},
                        {"epochs", o.epochs},
                        {"loss", o.loss},
                        {"scheduler", o.scheduler.empty() ? std::string("none") : o.scheduler}},
                       final_metrics);
    board->close();
  }
  if (!o.export_onnx.empty()) {
    export_trained_onnx(m.net, o.export_onnx, o.export_as_trained);
    result.written.push_back(o.export_onnx);
  }
  if (!o.export_safetensors.empty()) {
    export_trained_safetensors(m.net, o.export_safetensors, step);
    result.written.push_back(o.export_safetensors);
  }
  return result;
}

std::string latest_checkpoint(const std::string& dir) {
  const auto all = checkpoints_in(dir);
  return all.empty() ? std::string() : all.rbegin()->second;
}

CheckpointModel load_checkpoint_model(const std::string& checkpoint, const std::string& model_override) {
  const Checkpoint c = load_checkpoint(checkpoint);
  auto meta = [&](const char* key) {
    auto it = c.metadata.find(key);
    return it == c.metadata.end() ? std::string() : it->second;
  };
  std::string path = model_override.empty() ? meta("source_model") : model_override;
  if (path.empty())
    raise(ErrorCode::kNotFound,
          "{}: the checkpoint does not name the model it was trained from; pass --model MODEL.onnx",
          checkpoint);
  if (!fs::exists(path))
    raise(ErrorCode::kNotFound, "{}: the model it was trained from, {}, does not exist{}", checkpoint, path,
          model_override.empty() ? "; pass --model MODEL.onnx" : "");
  std::vector<std::string> warnings;
  if (const std::string sha = file_sha256(path);
      !meta("source_model_sha256").empty() && sha != meta("source_model_sha256"))
    warnings.push_back(fmt::format("{} has changed since {} was written (sha256 {}, was {})", path,
                                   checkpoint, sha, meta("source_model_sha256")));
  onnx::Model source = onnx::load_model(path);
  nn::GraphModule net(source.graph.clone());
  std::map<std::string, Tensor> state, expected;
  for (const auto& [name, t] : c.tensors)
    if (name.rfind("model.", 0) == 0) state[name.substr(6)] = t;
  for (const auto& [name, t] : net->state_dict()) expected[name] = t;
  check_same_tensors(state, expected,
                     fmt::format("{}: checkpoint of a different model than {}", checkpoint, path));
  net->load_state_dict(state);
  int64_t steps = 0;
  try {
    steps = nlohmann::json::parse(meta("progress")).at("step").get<int64_t>();
  } catch (const nlohmann::json::exception&) {
  }
  return {std::move(net), std::move(source), path, std::move(warnings), steps};
}

std::vector<std::string> export_checkpoint(const std::string& checkpoint, const std::string& model_override,
                                           const std::string& out_onnx, const std::string& out_safetensors,
                                           bool as_trained, int opset) {
  if (out_onnx.empty() && out_safetensors.empty())
    raise(ErrorCode::kInvalidArgument,
          "nothing to export: give -o OUT.onnx and/or --safetensors OUT.safetensors");
  check_output_file("-o", out_onnx);
  check_output_file("--safetensors", out_safetensors);
  CheckpointModel cm = load_checkpoint_model(checkpoint, model_override);
  cm.module->eval();
  if (!out_safetensors.empty() && !cm.module->report().unmapped_parameters.empty())
    raise(ErrorCode::kInvalidArgument,
          "--safetensors {}: parameters PyTorch has no name for cannot be exported: {}", out_safetensors,
          fmt::join(cm.module->report().unmapped_parameters, ", "));
  if (opset && out_onnx.empty())
    raise(ErrorCode::kInvalidArgument, "--opset {} applies to the ONNX file: give -o OUT.onnx", opset);
  if (!out_onnx.empty()) export_trained_onnx(cm.module, out_onnx, as_trained, opset);
  if (!out_safetensors.empty()) export_trained_safetensors(cm.module, out_safetensors, cm.steps);
  return cm.warnings;
}

}  // namespace kiln::train
