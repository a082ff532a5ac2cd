#include "progress.h"

#include <fmt/format.h>

#include <cmath>

namespace kiln::train {
namespace {

std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

void Progress::start_epoch(int64_t epoch, int64_t epochs, int64_t batches, int64_t first_batch) {
  epoch_ = epoch, epochs_ = epochs, batches_ = batches, first_batch_ = first_batch, examples_ = 0;
  start_ = last_draw_ = Clock::now();
  drawn_ = false;
}

void Progress::step(int64_t batch, int64_t global_step, double loss, int64_t examples) {
  if (!out_) return;
  examples_ += examples;
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double done = static_cast<double>(batch - first_batch_);
  const double rate = elapsed > 0 ? static_cast<double>(examples_) / elapsed : 0.0;
  const double eta = done > 0 ? elapsed / done * static_cast<double>(batches_ - batch) : NAN;
  if (bar_) {
    if (batch != batches_ && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    drawn_ = true;
    constexpr int kWidth = 24;
    const int filled = batches_ > 0 ? static_cast<int>(kWidth * batch / batches_) : kWidth;
    *out_ << fmt::format("\r\x1b[Kepoch {}/{} [{}{}] {}/{} loss {:.6g}  {:.1f} ex/s  ETA {}", epoch_, epochs_,
                         std::string(filled, '#'), std::string(kWidth - filled, '.'), batch, batches_, loss,
                         rate, duration(eta))
          << std::flush;
    return;
  }
  if (every_ > 0 && batch % every_ != 0 && batch != batches_) return;
  *out_ << fmt::format("epoch {}/{} step {} ({}/{}) loss {:.6g}  {:.1f} ex/s  ETA {}\n", epoch_, epochs_,
                       global_step, batch, batches_, loss, rate, duration(eta))
        << std::flush;
}

void Progress::end_epoch(const std::string& summary) {
  if (!out_) return;
  if (bar_ && drawn_) *out_ << "\n";
  *out_ << summary << "\n" << std::flush;
}

}  // namespace kiln::train
