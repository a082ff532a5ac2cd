#pragma once
// Checks and conversions shared by the optimizers' options.

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "kiln/runtime/error.h"

namespace kiln::optim::detail {

/// Throws Error(kInvalidArgument) "<who>: invalid <what> <value> (must be finite and >= 0)".
inline double non_negative(const char* who, const char* what, double value) {
  if (!std::isfinite(value) || value < 0)
    raise(ErrorCode::kInvalidArgument, "{}: invalid {} {} (must be finite and >= 0)", who, what, value);
  return value;
}

/// The value of key in values; throws naming the option when absent.
inline double option(const char* who, const std::map<std::string, double>& values, const std::string& key) {
  auto it = values.find(key);
  if (it == values.end()) raise(ErrorCode::kInvalidArgument, "{} options: '{}' is missing", who, key);
  return it->second;
}

/// Throws naming the first key of values that is not in known.
inline void only_known(const char* who, const std::map<std::string, double>& values, const std::set<std::string>& known) {
  for (const auto& [key, value] : values)
    if (!known.count(key)) raise(ErrorCode::kInvalidArgument, "{} options: unknown option '{}'", who, key);
}

}  // namespace kiln::optim::detail
