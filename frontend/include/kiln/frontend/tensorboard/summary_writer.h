#pragma once
// kiln::tensorboard::SummaryWriter: TensorBoard event files from C++, in the shape of
// torch.utils.tensorboard.SummaryWriter. TensorBoard itself reads what it writes.
//
//   tensorboard::SummaryWriter writer("runs/momentum");
//   writer.add_scalar("loss/train", loss, epoch);
//
// Files are named events.out.tfevents.<secs>.<host>.<pid>.<n> and hold TFRecords (record.h)
// of Event messages; the first one is file_version "brain.Event:2". Events are buffered in
// memory and written whole: when more than max_queue are pending, every flush_secs from a
// background thread, on flush(), close() and destruction. After flush() returns every record
// written so far is complete in the file. A crash can lose the buffered events but never leaves
// a partial record anywhere but at the end of the file, which readers skip.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/frontend/nn/graph_module.h"
#include "kiln/frontend/tensorboard/histogram.h"
#include "kiln/runtime/graph.h"
#include "kiln/runtime/tensor.h"

namespace kiln::tensorboard {

struct SummaryWriterOptions {
  SummaryWriterOptions& flush_secs(double v) {
    flush_secs_ = v;
    return *this;
  }
  SummaryWriterOptions& max_queue(size_t v) {
    max_queue_ = v;
    return *this;
  }
  SummaryWriterOptions& filename_suffix(std::string v) {
    filename_suffix_ = std::move(v);
    return *this;
  }
  /// Seconds between background flushes (PyTorch's default 120). 0: write on every event.
  double flush_secs_ = 120;
  /// Pending events that trigger a write from the calling thread (PyTorch's default 10).
  size_t max_queue_ = 10;
  std::string filename_suffix_;
};

/// Layouts add_image accepts.
enum class ImageFormat { kCHW, kHWC, kHW };

/// A hyperparameter value for add_hparams: a number, a string or a bool.
class HParam {
 public:
  HParam(bool v) : kind_(kBool), bool_(v) {}  // NOLINT: implicit, like PyTorch's dict values
  template <class T>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) HParam(T v)
      : kind_(kNumber), number_(static_cast<double>(v)) {}          // NOLINT
  HParam(const char* v) : kind_(kString), string_(v) {}             // NOLINT
  HParam(std::string v) : kind_(kString), string_(std::move(v)) {}  // NOLINT
  enum Kind { kNumber, kString, kBool };
  Kind kind() const { return kind_; }
  double number() const { return number_; }
  const std::string& string() const { return string_; }
  bool boolean() const { return bool_; }

 private:
  Kind kind_;
  double number_ = 0;
  bool bool_ = false;
  std::string string_;
};

class EventFileWriter;

class SummaryWriter {
 public:
  /// Creates logdir (and its parents) and the event file in it. Throws Error(kIo) naming logdir
  /// when the folder or the file cannot be created.
  explicit SummaryWriter(std::string logdir, SummaryWriterOptions options = {});
  /// Flushes and closes; never throws (a failed final write is printed to stderr).
  ~SummaryWriter();
  SummaryWriter(const SummaryWriter&) = delete;
  SummaryWriter& operator=(const SummaryWriter&) = delete;

  const std::string& logdir() const { return logdir_; }
  /// Path of this writer's event file.
  const std::string& file_path() const;

  // Every add_* throws Error(kInvalidArgument) on bad values (named by tag) and Error(kIo)
  // naming the file when an earlier background write failed or the writer is closed.
  // wall_time defaults to now (seconds since the epoch).

  /// A scalar, stored as simple_value (a float32). NaN and infinities are written as they are.
  void add_scalar(const std::string& tag, double value, int64_t step = 0,
                  std::optional<double> wall_time = {});
  /// Like PyTorch: one run per key in logdir/<main_tag with '/' as '_'>_<key>, each holding
  /// the scalar under main_tag, so TensorBoard draws them on one chart.
  void add_scalars(const std::string& main_tag, const std::map<std::string, double>& values, int64_t step = 0,
                   std::optional<double> wall_time = {});
  /// Histogram of every element (converted to double) over TensorBoard's default buckets
  /// (make_histogram). Throws Error(kInvalidArgument) for an empty tensor or non-finite values.
  void add_histogram(const std::string& tag, const Tensor& values, int64_t step = 0,
                     std::optional<double> wall_time = {});
  void add_histogram(const std::string& tag, const std::vector<double>& values, int64_t step = 0,
                     std::optional<double> wall_time = {});
  /// Text for the Text tab (a string tensor with plugin "text"); markdown is rendered there.
  void add_text(const std::string& tag, const std::string& text, int64_t step = 0,
                std::optional<double> wall_time = {});
  /// One image, PNG-encoded. Floating tensors hold [0, 1] (scaled by 255, clipped, truncated
  /// like PyTorch); u8 tensors hold 0..255. Channels: 1 (gray), 3 (RGB) or 4 (RGBA). Throws
  /// Error(kInvalidArgument) naming the tag on a wrong rank, channel count or dtype.
  void add_image(const std::string& tag, const Tensor& image, int64_t step = 0,
                 ImageFormat format = ImageFormat::kCHW, std::optional<double> wall_time = {});
  /// The graph as a GraphDef for the Graphs tab: one node per graph node, named by its scope
  /// (leading '/' dropped, "layer1/0/conv1/Conv"), with its op type, inputs, attributes and
  /// "_output_shapes"; graph inputs are Placeholder nodes, initializers Const nodes (their
  /// dotted names become scopes: "fc.weight" -> "fc/weight"), outputs Identity nodes
  /// "output/<name>".
  void add_graph(const Graph& graph);
  /// An imported model's graph (GraphModule::graph(): op types, shapes, parameter names).
  void add_graph(const nn::GraphModuleImpl& module) { add_graph(module.graph()); }
  /// The hparams plugin's experiment, session start and session end summaries plus one scalar
  /// per metric, written the way torch.utils.tensorboard does: into a run folder
  /// logdir/<run_name> (default: the current time in seconds), so the HParams tab lists the
  /// run with its metrics. run_name "." writes into this writer's own folder.
  void add_hparams(const std::map<std::string, HParam>& hparams, const std::map<std::string, double>& metrics,
                   const std::string& run_name = "");
  /// Writes every pending event; after it returns they are complete in the file(s). Throws
  /// Error(kIo) naming the file on a failed write.
  void flush();
  /// Flushes and closes the file(s); later add_* calls throw Error(kIo). Idempotent.
  void close();

 private:
  EventFileWriter& child(const std::string& dir);
  std::string logdir_;
  SummaryWriterOptions options_;
  std::unique_ptr<EventFileWriter> writer_;
  std::map<std::string, std::unique_ptr<EventFileWriter>> children_;  // add_scalars runs
};

}  // namespace kiln::tensorboard
