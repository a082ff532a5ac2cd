#pragma once
// Assertions on kiln::Error shared by all tests.

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "kiln/runtime/error.h"

namespace kiln {

/// Runs f, expects it to throw kiln::Error with code, and returns the message. Records a test
/// failure (and returns "") when f throws nothing or something else.
template <class F>
std::string error_message(F&& f, ErrorCode code = ErrorCode::kInvalidArgument) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << "message: " << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected kiln::Error(" << to_string(code) << "), got std::exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected kiln::Error(" << to_string(code) << "), nothing was thrown";
  return "";
}

/// Like error_message, and the message must contain every needle.
template <class F>
void expect_error(F&& f, ErrorCode code, std::initializer_list<std::string_view> needles) {
  std::string message = error_message(std::forward<F>(f), code);
  for (std::string_view needle : needles)
    EXPECT_NE(message.find(needle), std::string::npos) << "missing '" << needle << "' in: " << message;
}

template <class F>
void expect_error(F&& f, ErrorCode code, std::string_view needle) {
  expect_error(std::forward<F>(f), code, {needle});
}

}  // namespace kiln
