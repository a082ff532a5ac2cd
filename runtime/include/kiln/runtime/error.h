#pragma once
// kiln::Error: the one exception type kiln throws. Messages say what, where and why.

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace kiln {

enum class ErrorCode { kInvalidArgument, kNotFound, kUnsupported, kOutOfMemory, kBackend, kIo, kInternal };

/// Name of a code as printed in messages ("InvalidArgument"). Never fails.
std::string_view to_string(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

/// Throws Error(code, formatted message). Never returns.
template <class... Args>
[[noreturn]] void raise(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(code, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace kiln
