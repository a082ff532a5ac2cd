#include "kiln/frontend/tensorboard/training_logger.h"

#include <cmath>

#include "kiln/runtime/tensor_ops.h"

namespace kiln::tensorboard {

double grad_norm(const std::vector<Tensor>& params) {
  Tensor total;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor g64 = cast(g.detach(), DType::kF64);
    Tensor squares = sum(g64 * g64);
    total = total.defined() ? total + squares : squares;
  }
  if (!total.defined()) return 0.0;
  return sqrt(total).item<double>();
}

TrainingLogger::TrainingLogger(std::string logdir, TrainingLoggerOptions options)
    : options_(std::move(options)), writer_(std::move(logdir), options_.writer_) {}

void TrainingLogger::log_step(int64_t step, double train_loss, std::optional<double> lr) {
  writer_.add_scalar("loss/train_step", train_loss, step);
  if (lr) writer_.add_scalar("lr", *lr, step);
}

void TrainingLogger::log_epoch(int64_t epoch, double train_loss, std::optional<double> val_loss,
                               std::optional<double> lr, std::optional<double> norm) {
  writer_.add_scalar("loss/train", train_loss, epoch);
  if (val_loss) writer_.add_scalar("loss/val", *val_loss, epoch);
  if (lr) writer_.add_scalar("lr", *lr, epoch);
  if (norm) writer_.add_scalar("grad_norm", *norm, epoch);
}

void TrainingLogger::log_weights(const nn::Module& model, int64_t step) {
  if (options_.histogram_every_ <= 0 || step % options_.histogram_every_ != 0) return;
  for (const auto& item : model.named_parameters()) {
    writer_.add_histogram("weights/" + item.key(), item.value(), step);
    Tensor g = item.value().grad();
    if (g.defined()) writer_.add_histogram("grads/" + item.key(), g, step);
  }
}

void TrainingLogger::log_graph(const Graph& graph) {
  if (graph_written_) return;
  writer_.add_graph(graph);
  graph_written_ = true;
}

void TrainingLogger::log_hparams(const std::map<std::string, HParam>& hparams,
                                 const std::map<std::string, double>& metrics) {
  writer_.add_hparams(hparams, metrics, ".");
}

}  // namespace kiln::tensorboard
