// Each test in a forked child, so a crash or a hang is one test's failure, not the run's end.
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "kiln/runtime/error.h"
#include "node_test.h"

namespace kiln::conformance {

namespace {

using Clock = std::chrono::steady_clock;

struct Child {
  size_t index;  // into dirs
  pid_t pid;
  int fd;  // read end of the result pipe
  Clock::time_point deadline;
  std::string data;
};

void write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

Child start(const std::function<TestResult(size_t)>& test, size_t index, const RunOptions& options) {
  int fds[2];
  if (::pipe(fds) != 0) raise(ErrorCode::kIo, "pipe failed: {}", std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0) raise(ErrorCode::kIo, "fork failed: {}", std::strerror(errno));
  if (pid == 0) {
    ::close(fds[0]);
    // No core file per crashing test (and no slow core dump racing the timeout); rerun the
    // test with --no-isolate under a debugger instead.
    rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    TestResult r;
    try {
      r = test(index);
    } catch (const std::exception& e) {
      r.reason = std::string("exception: ") + e.what();
    }
    // One status byte, then the reason.
    write_all(fds[1], std::string(1, static_cast<char>('0' + static_cast<int>(r.status))) + r.reason);
    ::close(fds[1]);
    ::_exit(0);  // no static destructors (plugins, registries) in the child
  }
  ::close(fds[1]);
  return {index, pid, fds[0], Clock::now() + std::chrono::seconds(options.timeout_s), {}};
}

// The result of a child whose pipe is closed (it exited) or that ran out of time (killed).
TestResult finish(Child& child, const std::string& name, bool timed_out, int timeout_s) {
  ::close(child.fd);
  if (timed_out) ::kill(child.pid, SIGKILL);
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  TestResult r;
  r.name = name;
  r.status = Status::kCrashed;
  if (timed_out) {
    r.reason = fmt::format("timed out after {} s", timeout_s);
  } else if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    r.reason = fmt::format("crashed: signal {} ({}){}", sig, ::strsignal(sig), child.data.empty() ? "" : " after it reported");
  } else if (child.data.empty() || child.data[0] < '0' ||
             child.data[0] >= static_cast<char>('0' + kStatusCount)) {
    r.reason = fmt::format("the test process exited with status {} without a result",
                           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  } else {
    r.status = static_cast<Status>(child.data[0] - '0');
    r.reason = child.data.substr(1);
  }
  return r;
}

}  // namespace

std::vector<TestResult> run_isolated(const std::vector<std::string>& names,
                                     const std::function<TestResult(size_t)>& test, const RunOptions& options) {
  std::vector<TestResult> results(names.size());
  if (!options.isolate) {
    for (size_t i = 0; i < names.size(); ++i) results[i] = test(i);
    return results;
  }
  std::fflush(stdout);  // a child's exit must not flush the parent's buffered output again
  std::fflush(stderr);
  std::vector<Child> running;
  size_t next = 0;
  const size_t jobs = static_cast<size_t>(std::max(1, options.jobs));
  while (next < names.size() || !running.empty()) {
    while (next < names.size() && running.size() < jobs) {
      running.push_back(start(test, next, options));
      ++next;
    }
    std::vector<pollfd> fds;
    Clock::time_point soonest = running.front().deadline;
    for (const Child& c : running) {
      fds.push_back({c.fd, POLLIN, 0});
      soonest = std::min(soonest, c.deadline);
    }
    auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(soonest - Clock::now()).count();
    int ready = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(0, wait_ms)));
    if (ready < 0 && errno != EINTR) raise(ErrorCode::kIo, "poll failed: {}", std::strerror(errno));
    const Clock::time_point now = Clock::now();
    for (size_t k = running.size(); k-- > 0;) {
      Child& c = running[k];
      bool done = false, timed_out = false;
      if (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[4096];
        ssize_t n = ::read(c.fd, buf, sizeof buf);
        if (n > 0) c.data.append(buf, static_cast<size_t>(n));
        else if (n == 0 || errno != EINTR) done = true;
      }
      if (!done && now >= c.deadline) done = timed_out = true;
      if (!done) continue;
      results[c.index] = finish(c, names[c.index], timed_out, options.timeout_s);
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
    }
  }
  return results;
}

std::vector<TestResult> run_node_tests(const std::vector<std::string>& dirs, const RunOptions& options) {
  std::vector<std::string> names;
  for (const std::string& dir : dirs) names.push_back(dir.substr(dir.find_last_of('/') + 1));
  return run_isolated(names, [&](size_t i) { return run_node_test(dirs[i], options.tolerance); }, options);
}

}  // namespace kiln::conformance
