#pragma once
// TrainingLogger: what a training loop sends to TensorBoard (`kiln demo --logdir`, and
// `kiln train --logdir`), on top of SummaryWriter:
//   loss/train_step, lr (per step); loss/train, loss/val, lr, grad_norm (per epoch);
//   weights/<name> and grads/<name> histograms every N calls; the model graph once;
//   hparams with the final metrics (in the run's own folder).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kiln/frontend/nn/module.h"
#include "kiln/frontend/tensorboard/summary_writer.h"

namespace kiln::tensorboard {

/// The total 2-norm of the gradients of params, sqrt(sum over params of sum(g * g)), computed
/// with tensor ops on the gradients' device (in f64). Parameters without a gradient are
/// skipped; 0 when none has one.
double grad_norm(const std::vector<Tensor>& params);

struct TrainingLoggerOptions {
  TrainingLoggerOptions& histogram_every(int64_t v) {
    histogram_every_ = v;
    return *this;
  }
  TrainingLoggerOptions& writer(SummaryWriterOptions v) {
    writer_ = std::move(v);
    return *this;
  }
  int64_t histogram_every_ = 10;  // log_weights writes when step % histogram_every == 0
  SummaryWriterOptions writer_;
};

class TrainingLogger {
 public:
  /// Throws like SummaryWriter's constructor (Error(kIo) naming logdir).
  explicit TrainingLogger(std::string logdir, TrainingLoggerOptions options = {});

  SummaryWriter& writer() { return writer_; }

  /// "loss/train_step" and, when given, "lr" at step.
  void log_step(int64_t step, double train_loss, std::optional<double> lr = {});
  /// "loss/train", and when given "loss/val", "lr", "grad_norm", at epoch.
  void log_epoch(int64_t epoch, double train_loss, std::optional<double> val_loss = {},
                 std::optional<double> lr = {}, std::optional<double> grad_norm = {});
  /// Histograms "weights/<name>" of every parameter, and "grads/<name>" of those with a
  /// gradient, when step % histogram_every == 0. Throws Error(kInvalidArgument) naming the tag
  /// when a parameter holds a NaN or an infinity.
  void log_weights(const nn::Module& model, int64_t step);
  /// The model graph; only the first call writes.
  void log_graph(const Graph& graph);
  /// hparams with the final metrics (e.g. {"hparam/final_val_loss", 0.01}), written into this
  /// run's folder so TensorBoard's HParams tab lists the run.
  void log_hparams(const std::map<std::string, HParam>& hparams,
                   const std::map<std::string, double>& metrics);
  void flush() { writer_.flush(); }
  void close() { writer_.close(); }

 private:
  TrainingLoggerOptions options_;
  SummaryWriter writer_;
  bool graph_written_ = false;
};

}  // namespace kiln::tensorboard
