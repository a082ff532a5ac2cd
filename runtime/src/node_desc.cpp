#include "node_desc.h"

namespace kiln {

kiln_tensor abi_tensor(const Tensor& t) {
  return kiln_tensor{t.raw_data(), static_cast<int32_t>(t.dtype()), static_cast<int32_t>(t.rank()),
                     t.rank() ? t.shape().data() : nullptr};
}

NodeDesc::NodeDesc(const Node& node, const OpDef& def, int opset, const std::vector<ValueType>& input_types,
                   const std::vector<ValueType>& output_types, const std::vector<const Tensor*>& known) {
  for (size_t i = 0; i < input_types.size(); ++i) {
    const Tensor* value = i < known.size() ? known[i] : nullptr;
    inputs_.push_back(make_value(input_types[i], value));
  }
  for (const ValueType& t : output_types) outputs_.push_back(make_value(t, nullptr));
  for (const auto& [name, value] : node.attrs().all()) add_attr(name, value);
  for (const AttrSpec& spec : def.attr_specs())
    if (!node.attrs().has(spec.name) && spec.default_value) add_attr(spec.name, *spec.default_value);

  node_.name = node.name().c_str();
  node_.op_type = node.op_type().c_str();
  node_.domain = node.domain().c_str();
  node_.opset = opset;
  node_.n_inputs = inputs_.size();
  node_.inputs = inputs_.data();
  node_.n_outputs = outputs_.size();
  node_.outputs = outputs_.data();
  node_.n_attrs = attrs_.size();
  node_.attrs = attrs_.data();
}

kiln_value NodeDesc::make_value(const ValueType& type, const Tensor* known) {
  kiln_value v{static_cast<int32_t>(type.dtype), 0, nullptr, nullptr};
  if (type.dtype == DType::kUndefined) return v;
  const Dims& dims = dims_.emplace_back(type.shape.concrete());
  v.rank = static_cast<int32_t>(dims.size());
  v.shape = dims.empty() ? nullptr : dims.data();
  if (known) {
    const Tensor& t = tensors_.emplace_back(known->to(Device::host()));
    v.host_value = &abi_tensors_.emplace_back(abi_tensor(t));
  }
  return v;
}

void NodeDesc::add_attr(const std::string& name, const Attribute& value) {
  kiln_attr a{};
  a.name = name.c_str();
  switch (type_of(value)) {
    case AttrType::kInt:
      a.type = KILN_ATTR_INT;
      a.i = std::get<int64_t>(value);
      break;
    case AttrType::kFloat:
      a.type = KILN_ATTR_FLOAT;
      a.f = std::get<float>(value);
      break;
    case AttrType::kString:
      a.type = KILN_ATTR_STRING;
      a.s = std::get<std::string>(value).c_str();
      break;
    case AttrType::kTensor: {
      a.type = KILN_ATTR_TENSOR;
      const Tensor& t = tensors_.emplace_back(std::get<Tensor>(value).to(Device::host()));
      a.t = &abi_tensors_.emplace_back(abi_tensor(t));
      break;
    }
    case AttrType::kInts: {
      const auto& v = std::get<std::vector<int64_t>>(value);
      a.type = KILN_ATTR_INTS;
      a.count = v.size();
      a.ints = v.data();
      break;
    }
    case AttrType::kFloats: {
      const auto& v = std::get<std::vector<float>>(value);
      a.type = KILN_ATTR_FLOATS;
      a.count = v.size();
      a.floats = v.data();
      break;
    }
    case AttrType::kStrings: {
      auto& ptrs = strings_.emplace_back();
      for (const std::string& s : std::get<std::vector<std::string>>(value)) ptrs.push_back(s.c_str());
      a.type = KILN_ATTR_STRINGS;
      a.count = ptrs.size();
      a.strings = ptrs.data();
      break;
    }
    case AttrType::kTensors:
      return;  // no op kiln runs takes a list of tensors; not passed to backends
  }
  attrs_.push_back(a);
}

}  // namespace kiln
