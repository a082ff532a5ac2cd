#pragma once
// One event file: buffered, framed records written whole by one write() per batch, from the
// caller's thread or a background thread every flush_secs.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "kiln/frontend/tensorboard/summary_writer.h"

namespace kiln::tensorboard {

/// Seconds since the epoch, as TensorBoard's wall_time.
double now_seconds();

class EventFileWriter {
 public:
  /// Creates dir and a new event file in it holding the file_version record. Throws Error(kIo)
  /// naming dir or the file when they cannot be created or written.
  EventFileWriter(const std::string& dir, const SummaryWriterOptions& options);
  /// Closes; never throws (a failed write is printed to stderr).
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  const std::string& path() const { return path_; }
  /// Queues one serialized Event. Throws Error(kIo) when closed or an earlier write failed.
  void add(const std::string& event);
  /// Writes every queued record. Throws Error(kIo) naming the file on failure.
  void flush();
  void close();

 private:
  void write_pending_locked();  // on failure: error_ set, file cut back to its last whole record
  void throw_if_failed_locked() const;
  void background();

  std::string path_;
  SummaryWriterOptions options_;
  int fd_ = -1;
  uint64_t written_ = 0;  // bytes of whole records in the file
  std::string pending_;
  size_t pending_count_ = 0;
  std::string error_;
  bool closed_ = false;
  bool stop_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace kiln::tensorboard
