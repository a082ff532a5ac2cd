#include "kiln/runtime/attribute.h"

namespace kiln {

std::string_view to_string(AttrType type) {
  switch (type) {
    case AttrType::kInt:
      return "int";
    case AttrType::kFloat:
      return "float";
    case AttrType::kString:
      return "string";
    case AttrType::kTensor:
      return "tensor";
    case AttrType::kInts:
      return "ints";
    case AttrType::kFloats:
      return "floats";
    case AttrType::kStrings:
      return "strings";
    case AttrType::kTensors:
      return "tensors";
  }
  return "invalid";
}

// The variant's alternatives are declared in AttrType's order.
AttrType type_of(const Attribute& attribute) { return static_cast<AttrType>(attribute.index()); }

const Attribute* Attributes::find(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

template <class T>
const T* Attributes::typed(std::string_view name, AttrType expected, std::string_view what) const {
  const Attribute* a = find(name);
  if (a == nullptr) return nullptr;
  if (const T* value = std::get_if<T>(a)) return value;
  raise(ErrorCode::kInvalidArgument, "{}{}attribute '{}' has type {}, expected {}", what,
        what.empty() ? "" : ": ", name, to_string(type_of(*a)), to_string(expected));
}

int64_t Attributes::get_int(std::string_view name, int64_t fallback, std::string_view what) const {
  const int64_t* v = typed<int64_t>(name, AttrType::kInt, what);
  return v ? *v : fallback;
}

float Attributes::get_float(std::string_view name, float fallback, std::string_view what) const {
  const float* v = typed<float>(name, AttrType::kFloat, what);
  return v ? *v : fallback;
}

std::string Attributes::get_string(std::string_view name, const std::string& fallback,
                                   std::string_view what) const {
  const std::string* v = typed<std::string>(name, AttrType::kString, what);
  return v ? *v : fallback;
}

std::vector<int64_t> Attributes::get_ints(std::string_view name, const std::vector<int64_t>& fallback,
                                          std::string_view what) const {
  const auto* v = typed<std::vector<int64_t>>(name, AttrType::kInts, what);
  return v ? *v : fallback;
}

std::vector<float> Attributes::get_floats(std::string_view name, const std::vector<float>& fallback,
                                          std::string_view what) const {
  const auto* v = typed<std::vector<float>>(name, AttrType::kFloats, what);
  return v ? *v : fallback;
}

const Tensor& Attributes::get_tensor(std::string_view name, std::string_view what) const {
  const Tensor* v = typed<Tensor>(name, AttrType::kTensor, what);
  if (v == nullptr) {
    raise(ErrorCode::kInvalidArgument, "{}{}attribute '{}' (tensor) is missing", what,
          what.empty() ? "" : ": ", name);
  }
  return *v;
}

}  // namespace kiln
