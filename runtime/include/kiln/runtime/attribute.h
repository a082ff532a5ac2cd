#pragma once
// Node attributes: int, float, string, tensor, and lists of these (ONNX's set).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "kiln/runtime/tensor.h"

namespace kiln {

enum class AttrType { kInt, kFloat, kString, kTensor, kInts, kFloats, kStrings, kTensors };

std::string_view to_string(AttrType type);

using Attribute = std::variant<int64_t, float, std::string, Tensor, std::vector<int64_t>,
                               std::vector<float>, std::vector<std::string>, std::vector<Tensor>>;

AttrType type_of(const Attribute& attribute);

/// A node's attributes by name. Typed getters throw Error(kInvalidArgument) naming the
/// attribute and both types when the stored type differs; `what` prefixes the message
/// (e.g. "node 'Conv_3' (Conv)").
class Attributes {
 public:
  bool has(std::string_view name) const { return values_.find(name) != values_.end(); }
  void set(const std::string& name, Attribute value) { values_[name] = std::move(value); }
  void erase(const std::string& name) { values_.erase(name); }
  const Attribute* find(std::string_view name) const;
  const std::map<std::string, Attribute, std::less<>>& all() const { return values_; }
  size_t size() const { return values_.size(); }

  int64_t get_int(std::string_view name, int64_t fallback, std::string_view what = {}) const;
  float get_float(std::string_view name, float fallback, std::string_view what = {}) const;
  std::string get_string(std::string_view name, const std::string& fallback,
                         std::string_view what = {}) const;
  std::vector<int64_t> get_ints(std::string_view name, const std::vector<int64_t>& fallback,
                                std::string_view what = {}) const;
  std::vector<float> get_floats(std::string_view name, const std::vector<float>& fallback,
                                std::string_view what = {}) const;
  /// Throws Error(kInvalidArgument) when absent.
  const Tensor& get_tensor(std::string_view name, std::string_view what = {}) const;

 private:
  template <class T>
  const T* typed(std::string_view name, AttrType expected, std::string_view what) const;
  std::map<std::string, Attribute, std::less<>> values_;
};

}  // namespace kiln
