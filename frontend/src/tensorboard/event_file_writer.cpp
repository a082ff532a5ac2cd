#include "event_file_writer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "event.pb.h"
#include "kiln/frontend/tensorboard/record.h"
#include "kiln/runtime/error.h"

namespace kiln::tensorboard {
namespace {

std::atomic<uint64_t> g_file_counter{0};

std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof(buffer) - 1) != 0 || buffer[0] == '\0') return "localhost";
  return buffer;
}

}  // namespace

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

EventFileWriter::EventFileWriter(const std::string& dir, const SummaryWriterOptions& options)
    : options_(options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    raise(ErrorCode::kIo, "{}: cannot create the log folder: {}", dir,
          ec ? ec.message() : std::string("a file of that name exists"));
  const double now = now_seconds();
  path_ = (std::filesystem::path(dir) /
           fmt::format("events.out.tfevents.{:010d}.{}.{}.{}{}", static_cast<int64_t>(now), host_name(),
                       static_cast<long>(::getpid()), g_file_counter++, options_.filename_suffix_))
              .string();
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    raise(ErrorCode::kIo, "{}: cannot create the event file {}: {}", dir, path_, std::strerror(errno));
  tb::Event first;
  first.set_wall_time(now);
  first.set_file_version("brain.Event:2");
  {
    std::lock_guard lock(mutex_);
    pending_ = frame_record(first.SerializeAsString());
    pending_count_ = 1;
    write_pending_locked();
    if (!error_.empty()) {
      ::close(fd_);
      fd_ = -1;
      throw Error(ErrorCode::kIo, error_);
    }
  }
  if (options_.flush_secs_ > 0) thread_ = std::thread([this] { background(); });
}

EventFileWriter::~EventFileWriter() {
  try {
    close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln: warning: %s\n", e.what());
  }
}

void EventFileWriter::throw_if_failed_locked() const {
  if (!error_.empty()) throw Error(ErrorCode::kIo, error_);
  if (closed_) raise(ErrorCode::kIo, "{}: the event writer is closed", path_);
}

void EventFileWriter::add(const std::string& event) {
  std::lock_guard lock(mutex_);
  throw_if_failed_locked();
  pending_ += frame_record(event);
  ++pending_count_;
  if (options_.flush_secs_ <= 0 || pending_count_ > options_.max_queue_) {
    write_pending_locked();
    throw_if_failed_locked();
  }
}

void EventFileWriter::write_pending_locked() {
  if (pending_.empty() || !error_.empty() || fd_ < 0) return;
  size_t done = 0;
  while (done < pending_.size()) {
    ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = fmt::format("{}: write failed: {}", path_, n < 0 ? std::strerror(errno) : "no progress");
      // Cut back to the last whole record so the file stays readable.
      if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(written_)) != 0) {
        error_ += fmt::format(" (and cutting back to {} bytes failed: {})", written_, std::strerror(errno));
      }
      return;
    }
    done += static_cast<size_t>(n);
  }
  written_ += pending_.size();
  pending_.clear();
  pending_count_ = 0;
}

void EventFileWriter::flush() {
  std::lock_guard lock(mutex_);
  if (!error_.empty()) throw Error(ErrorCode::kIo, error_);
  write_pending_locked();
  if (!error_.empty()) throw Error(ErrorCode::kIo, error_);
}

void EventFileWriter::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  closed_ = true;
  write_pending_locked();
  if (fd_ >= 0) {
    ::fsync(fd_);
    if (::close(fd_) != 0 && error_.empty())
      error_ = fmt::format("{}: close failed: {}", path_, std::strerror(errno));
    fd_ = -1;
  }
  if (!error_.empty()) throw Error(ErrorCode::kIo, error_);
}

void EventFileWriter::background() {
  const auto interval = std::chrono::duration<double>(options_.flush_secs_);
  std::unique_lock lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, interval, [this] { return stop_; });
    if (stop_) break;
    write_pending_locked();  // a failure is kept in error_ and thrown to the next caller
  }
}

}  // namespace kiln::tensorboard
