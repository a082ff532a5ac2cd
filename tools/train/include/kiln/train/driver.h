#pragma once
// The training driver shared by `kiln train` and C++ programs: fine-tune an exported ONNX model
// (a GraphModule) on .npz data with a loss, an optimizer, an optional LR scheduler, freezing by
// glob, per-epoch checkpoints with exact resume, JSONL metrics, TensorBoard logs and export.
//
//   train::TrainOptions o;
//   o.model = "cnn.onnx"; o.data = "train.npz"; o.val = "val.npz"; o.loss = "cross_entropy";
//   o.lr = 0.01; o.momentum = 0.9; o.epochs = 3; o.export_onnx = "cnn-ft.onnx";
//   train::TrainResult r = train::fine_tune(o);
//
// Everything that can be checked before training is checked before anything is written: the
// options, the data against the model's input (name, dtype, shape), class targets against the
// model's output, the freeze globs, ops without a gradient between the trainable parameters
// and the output, export folders, and a resumed checkpoint against the model.

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "kiln/frontend/nn/graph_module.h"
#include "kiln/onnx/model.h"

namespace kiln::train {

/// How progress is shown on TrainOptions::log.
enum class ProgressStyle {
  kAuto,   // a live bar when log is std::cerr and stderr is a terminal, else lines
  kBar,    // one line redrawn with '\r': epoch, step, loss, throughput, ETA
  kLines,  // a plain line every log_every steps and at the end of each epoch
  kNone,
};

/// Every option of `kiln train` (the flag is named in each comment).
struct TrainOptions {
  std::string model;             // MODEL.onnx (positional)
  std::string data;              // --data TRAIN.npz
  std::string val;               // --val VAL.npz ("": no validation)
  std::string input_key = "x";   // --input-key
  std::string target_key = "y";  // --target-key
  std::string output;            // --output NAME: the model output the loss reads ("": the first)
  std::string loss;              // --loss mse|cross_entropy|bce_with_logits|l1|huber
  double huber_delta = 1.0;      // --huber-delta

  std::string optimizer = "sgd";       // --optimizer sgd|adam|adamw
  double lr = 0.01;                    // --lr
  double momentum = 0.0;               // --momentum (sgd)
  bool nesterov = false;               // --nesterov (sgd)
  std::optional<double> weight_decay;  // --weight-decay (default 0; adamw: 0.01)
  double beta1 = 0.9, beta2 = 0.999;   // --beta1 --beta2 (adam, adamw)

  std::string scheduler;        // --scheduler step|cosine|plateau ("": constant lr); steps once per epoch
  int64_t step_size = 1;        // --step-size (step): epochs between decays
  double gamma = 0.1;           // --gamma (step): decay factor
  int64_t t_max = 0;            // --t-max (cosine): epochs of the half period (0: --epochs)
  double eta_min = 0.0;         // --eta-min (cosine)
  int64_t patience = 10;        // --patience (plateau): epochs without improvement of the
                                //   val loss (train loss without --val)
  double plateau_factor = 0.1;  // --plateau-factor (plateau)

  double clip_grad_norm = 0.0;  // --clip-grad-norm (0: off)
  int64_t epochs = 1;           // --epochs
  int64_t batch_size = 32;      // --batch-size
  bool shuffle = true;          // --shuffle / --no-shuffle
  uint64_t seed = 0;            // --seed: the shuffle and Dropout's masks

  std::vector<std::string> freeze;      // --freeze GLOB (repeatable)
  std::vector<std::string> train_only;  // --train-only GLOB (repeatable): the union trains, minus --freeze

  std::string logdir;              // --logdir DIR (TensorBoard)
  int64_t histogram_every = 50;    // --histogram-every N (steps)
  std::string checkpoint_dir;      // --checkpoint-dir DIR: DIR/epoch-N.ckpt after each epoch
  bool resume = false;             // --resume: continue from the latest checkpoint in DIR
  std::string export_onnx;         // --export OUT.onnx
  std::string export_safetensors;  // --export-safetensors OUT.safetensors
  bool export_as_trained = false;  // --export-as-trained: BatchNorm/Dropout as imported, not inference form
  std::string metrics_out;         // --metrics-out FILE.jsonl

  std::string backend = "cpu";        // --backend LIST: eager ops run on the first available one
  int threads = 0;                    // --threads N (0: the backend's default)
  bool allow_nonfinite_loss = false;  // --allow-nonfinite-loss: skip the update instead of stopping

  int64_t log_every = 0;  // --log-every N: progress lines (0: about 10 per epoch)
  ProgressStyle progress = ProgressStyle::kAuto;
  std::ostream* log = nullptr;  // progress, warnings and notes (nullptr: silent)
};

/// What a run did.
struct TrainResult {
  int64_t steps = 0;                   // optimizer steps in total (including a resumed run's)
  int64_t epochs = 0;                  // epochs completed in total
  int64_t start_epoch = 0;             // epochs already done when this run started (resume)
  std::optional<double> train_loss;    // mean train loss of the last epoch run
  std::optional<double> val_loss;      // of the last validation
  std::optional<double> val_accuracy;  // classification losses only
  std::vector<std::string> warnings;   // also written to log
  std::vector<std::string> written;    // files written (checkpoints, metrics, exports)
};

/// Trains as the options say. Throws kiln::Error (one line naming the file, flag, input, step or
/// value) on a bad option or input; checks that need nothing but the inputs run before anything
/// is written. A non-finite loss stops with Error(kInvalidArgument) naming the step unless
/// allow_nonfinite_loss.
TrainResult fine_tune(const TrainOptions& options);

/// What applying --freeze and --train-only did.
struct FreezeResult {
  std::vector<std::string> unmatched;  // globs that matched no parameter ("--freeze 'x.*'")
};

/// Makes the parameters matching any train_only glob (all, when none is given) trainable, then
/// freezes those matching a freeze glob. Never throws; everything frozen is the caller's check.
FreezeResult apply_freezing(nn::GraphModule& module, const std::vector<std::string>& freeze,
                            const std::vector<std::string>& train_only);

/// `kiln info MODEL --train`: what training the module would do, after apply_freezing.
struct PreflightReport {
  std::vector<std::string> trainable;  // "fc.weight [10, 20]"
  std::vector<std::string> frozen;
  std::vector<std::string> buffers;              // running statistics
  std::vector<std::string> unmapped_constants;   // floating constants kiln keeps frozen
  std::vector<std::string> unmapped_parameters;  // trained under an ONNX name PyTorch does not have
  std::vector<std::string>
      non_differentiable;             // ops without a gradient between a trainable parameter and an output
  std::vector<std::string> notes;     // untied, mapped and folded-BatchNorm notes
  std::vector<std::string> problems;  // what would stop `kiln train` (empty: ready)
};

/// The report for module with its current freezing. Globs in freezing.unmatched are listed in
/// notes (a warning); no trainable parameter, and ops without a gradient on the path from a
/// trainable parameter, are problems. Never throws.
PreflightReport preflight(const nn::GraphModule& module, const FreezeResult& freezing = {});

/// The model a training checkpoint was written from, with the checkpoint's weights, for export.
struct CheckpointModel {
  nn::GraphModule module;
  onnx::Model source;  // the source model's fields (opsets, producer) for export
  std::string source_path;
  std::vector<std::string> warnings;  // e.g. the model file changed since training
  int64_t steps = 0;                  // optimizer steps the checkpoint had taken
};

/// Loads the model checkpoint was trained from (model_override, or the path saved in the
/// checkpoint) and the checkpoint's weights into it. Throws Error(kNotFound) when the model
/// cannot be found, Error(kInvalidArgument) listing every parameter that differs when the
/// checkpoint is of another model, and what load_checkpoint throws.
CheckpointModel load_checkpoint_model(const std::string& checkpoint, const std::string& model_override = "");

/// `kiln export CHECKPOINT -o OUT.onnx`: load_checkpoint_model, then export (ONNX when
/// out_onnx is set, safetensors when out_safetensors is set). Output folders are checked first.
/// opset != 0 writes the ONNX file at that default-domain opset (Error(kUnsupported) names an op
/// that cannot convert; nothing is written then). Returns the warnings.
std::vector<std::string> export_checkpoint(const std::string& checkpoint, const std::string& model_override,
                                           const std::string& out_onnx, const std::string& out_safetensors,
                                           bool as_trained, int opset = 0);

/// SHA-256 of a file's bytes as 64 hex digits. Throws Error(kIo) naming path.
std::string file_sha256(const std::string& path);

/// The checkpoint in dir with the most epochs ("" when there is none).
std::string latest_checkpoint(const std::string& dir);

}  // namespace kiln::train
