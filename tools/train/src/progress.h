#pragma once
// Training progress on a stream: a live bar redrawn with '\r' (a terminal) or plain lines.

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace kiln::train {

class Progress {
 public:
  /// bar: redraw one line; otherwise a line every `every` steps (and the epoch's last one).
  Progress(std::ostream* out, bool bar, int64_t every) : out_(out), bar_(bar), every_(every) {}
  void start_epoch(int64_t epoch, int64_t epochs, int64_t batches, int64_t first_batch);
  /// After batch (1-based, of this epoch) with its loss and number of examples.
  void step(int64_t batch, int64_t global_step, double loss, int64_t examples);
  /// Ends the bar's line and prints the epoch's summary.
  void end_epoch(const std::string& summary);

 private:
  using Clock = std::chrono::steady_clock;
  std::ostream* out_;
  bool bar_;
  int64_t every_;
  int64_t epoch_ = 0, epochs_ = 0, batches_ = 0, first_batch_ = 0, examples_ = 0;
  Clock::time_point start_, last_draw_;
  bool drawn_ = false;
};

}  // namespace kiln::train
