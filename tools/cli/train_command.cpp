// `kiln train MODEL.onnx --data TRAIN.npz --loss L ...`: fine-tune an exported model with the
// training driver (kiln/train/driver.h); every flag maps to one TrainOptions field.

#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "commands.h"
#include "kiln/train/driver.h"

namespace kiln::cli {

Action add_train_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("train", "Fine-tune an ONNX model (exported by PyTorch) on .npz data");
  auto o = std::make_shared<train::TrainOptions>();
  auto wd = std::make_shared<double>(0.0);
  auto quiet = std::make_shared<bool>(false);
  sub->add_option("model", o->model, "The .onnx model")->required();
  sub->add_option("--data", o->data, "Training data (.npz with inputs and targets)")->required();
  sub->add_option("--val", o->val, "Validation data (.npz), evaluated after each epoch");
  sub->add_option("--input-key", o->input_key, "Array of the inputs in the .npz files")
      ->capture_default_str();
  sub->add_option("--target-key", o->target_key, "Array of the targets in the .npz files")
      ->capture_default_str();
  sub->add_option("--output", o->output, "Model output the loss reads (default: the first)");
  sub->add_option("--loss", o->loss, "mse | cross_entropy | bce_with_logits | l1 | huber")->required();
  sub->add_option("--huber-delta", o->huber_delta, "Huber loss: where it turns linear")
      ->capture_default_str();
  sub->add_option("--optimizer", o->optimizer, "sgd | adam | adamw")->capture_default_str();
  sub->add_option("--lr", o->lr, "Learning rate")->capture_default_str();
  sub->add_option("--momentum", o->momentum, "SGD momentum")->capture_default_str();
  sub->add_flag("--nesterov", o->nesterov, "SGD with Nesterov momentum");
  CLI::Option* wd_opt = sub->add_option("--weight-decay", *wd, "Weight decay (default 0; adamw 0.01)");
  sub->add_option("--beta1", o->beta1, "Adam/AdamW beta1")->capture_default_str();
  sub->add_option("--beta2", o->beta2, "Adam/AdamW beta2")->capture_default_str();
  sub->add_option("--scheduler", o->scheduler, "LR schedule stepped each epoch: step | cosine | plateau");
  sub->add_option("--step-size", o->step_size, "step: epochs between decays")->capture_default_str();
  sub->add_option("--gamma", o->gamma, "step: decay factor")->capture_default_str();
  sub->add_option("--t-max", o->t_max, "cosine: epochs of the half period (default: --epochs)");
  sub->add_option("--eta-min", o->eta_min, "cosine: lowest lr")->capture_default_str();
  sub->add_option("--patience", o->patience, "plateau: epochs without improvement of the val loss")
      ->capture_default_str();
  sub->add_option("--plateau-factor", o->plateau_factor, "plateau: lr factor")->capture_default_str();
  sub->add_option("--clip-grad-norm", o->clip_grad_norm, "Clip the total gradient 2-norm (0: off)");
  sub->add_option("--epochs", o->epochs, "Epochs")->capture_default_str();
  sub->add_option("--batch-size", o->batch_size, "Examples per step")->capture_default_str();
  sub->add_flag("--shuffle,!--no-shuffle", o->shuffle, "Shuffle the training data each epoch (default: on)");
  sub->add_option("--seed", o->seed, "Seed of the shuffle and of Dropout")->capture_default_str();
  sub->add_option("--freeze", o->freeze, "Freeze parameters matching GLOB (repeatable)");
  sub->add_option("--train-only", o->train_only, "Train only parameters matching GLOB (repeatable)");
  sub->add_option("--logdir", o->logdir, "TensorBoard log folder");
  sub->add_option("--histogram-every", o->histogram_every, "Steps between weight histograms with --logdir")
      ->capture_default_str();
  sub->add_option("--checkpoint-dir", o->checkpoint_dir,
                  "Write DIR/epoch-N.ckpt after each epoch (keeps two)");
  sub->add_flag("--resume", o->resume, "Continue from the latest checkpoint in --checkpoint-dir");
  sub->add_option("--export", o->export_onnx, "Export the trained model to OUT.onnx");
  sub->add_option("--export-safetensors", o->export_safetensors,
                  "Export the trained weights to OUT.safetensors");
  sub->add_flag("--export-as-trained", o->export_as_trained,
                "Export the graph as imported (not inference form)");
  sub->add_option("--metrics-out", o->metrics_out, "One JSON line per step and per validation");
  sub->add_option("--backend", o->backend, "Backends in order of preference, e.g. cuda,cpu")
      ->capture_default_str();
  sub->add_option("--threads", o->threads, "Threads of the backend (0: its default)");
  sub->add_flag("--allow-nonfinite-loss", o->allow_nonfinite_loss,
                "Skip the update on a NaN/Inf loss instead of stopping");
  sub->add_option("--log-every", o->log_every,
                  "Steps between progress lines off a terminal (0: ~10 per epoch)");
  sub->add_flag("--quiet", *quiet, "No progress output");
  return [o, wd, wd_opt, quiet] {
    if (wd_opt->count() > 0) o->weight_decay = *wd;
    o->log = &std::cerr;
    if (*quiet) o->progress = train::ProgressStyle::kNone;
    const train::TrainResult r = train::fine_tune(*o);
    std::string summary = fmt::format("trained {} epochs, {} steps", r.epochs, r.steps);
    if (r.train_loss) summary += fmt::format("; train loss {:.6g}", *r.train_loss);
    if (r.val_loss) summary += fmt::format("; val loss {:.6g}", *r.val_loss);
    if (r.val_accuracy) summary += fmt::format("; val accuracy {:.4f}", *r.val_accuracy);
    fmt::print("{}\n", summary);
    for (const std::string& f : r.written)
      if (f.size() < 5 || f.substr(f.size() - 5) != ".ckpt") fmt::print("wrote {}\n", f);
    if (!o->checkpoint_dir.empty()) fmt::print("checkpoints: {}\n", o->checkpoint_dir);
    if (!o->logdir.empty()) fmt::print("TensorBoard: {} (tensorboard --logdir {})\n", o->logdir, o->logdir);
    return 0;
  };
}

}  // namespace kiln::cli
