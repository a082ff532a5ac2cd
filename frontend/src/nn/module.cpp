#include "kiln/frontend/nn/module.h"

#include <fmt/format.h>

#include <sstream>

#include "kiln/runtime/autograd.h"
#include "kiln/runtime/tensor_ops.h"

namespace kiln::nn {

std::string shape_string(const Dims& shape) { return fmt::format("[{}]", fmt::join(shape, ",")); }

Module::Module(std::string type_name) : type_name_(std::move(type_name)) {}

Tensor Module::forward(const Tensor& /*input*/) {
  raise(ErrorCode::kUnsupported, "{}: this module has no forward(const Tensor&)", type_name_);
}

void Module::check_new_name(const std::string& name, const char* what) const {
  if (name.empty()) raise(ErrorCode::kInvalidArgument, "{}: a {} name may not be empty", type_name_, what);
  if (name.find('.') != std::string::npos)
    raise(ErrorCode::kInvalidArgument, "{}: {} name '{}' may not contain '.'", type_name_, what, name);
  if (parameters_.contains(name) || buffers_.contains(name) || children_.contains(name))
    raise(ErrorCode::kInvalidArgument, "{}: '{}' is already registered", type_name_, name);
}

Tensor& Module::register_parameter(const std::string& name, Tensor tensor, bool requires_grad) {
  check_new_name(name, "parameter");
  if (tensor.defined()) {
    if (requires_grad && !is_floating(tensor.dtype()))
      raise(ErrorCode::kInvalidArgument,
            "{}: parameter '{}' has dtype {}; only floating tensors can require grad", type_name_, name,
            kiln::to_string(tensor.dtype()));
    tensor = tensor.detach();
    if (requires_grad) tensor.set_requires_grad(true);
  }
  return parameters_.insert(name, std::move(tensor));
}

Tensor& Module::register_buffer(const std::string& name, Tensor tensor) {
  check_new_name(name, "buffer");
  if (tensor.defined()) tensor = tensor.detach();
  return buffers_.insert(name, std::move(tensor));
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
  check_new_name(name, "submodule");
  if (!child) raise(ErrorCode::kInvalidArgument, "{}: submodule '{}' is empty", type_name_, name);
  children_.insert(name, std::move(child));
}

void Module::collect_named(const std::string& prefix, bool params, bool buffers, bool recurse,
                           OrderedDict<Tensor>& out) const {
  if (params)
    for (const auto& item : parameters_)
      if (item.second.defined()) out.insert(prefix + item.first, item.second);
  if (buffers)
    for (const auto& item : buffers_)
      if (item.second.defined()) out.insert(prefix + item.first, item.second);
  if (!recurse) return;
  for (const auto& child : children_)
    child.second->collect_named(prefix + child.first + ".", params, buffers, true, out);
}

std::vector<Tensor> Module::parameters(bool recurse) const { return named_parameters(recurse).values(); }

OrderedDict<Tensor> Module::named_parameters(bool recurse) const {
  OrderedDict<Tensor> out;
  collect_named("", true, false, recurse, out);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const { return named_buffers(recurse).values(); }

OrderedDict<Tensor> Module::named_buffers(bool recurse) const {
  OrderedDict<Tensor> out;
  collect_named("", false, true, recurse, out);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const { return children_.values(); }

OrderedDict<std::shared_ptr<Module>> Module::named_children() const { return children_; }

OrderedDict<std::shared_ptr<Module>> Module::named_modules(const std::string& prefix, bool include_self) {
  OrderedDict<std::shared_ptr<Module>> out;
  // A module made on the stack (not through a shared pointer) still lists its children.
  if (include_self) {
    std::shared_ptr<Module> self = weak_from_this().lock();
    if (self) out.insert(prefix, self);
  }
  for (const auto& child : children_) {
    auto below = child.second->named_modules(prefix.empty() ? child.first : prefix + "." + child.first, true);
    for (auto& item : below) out.insert(item.first, item.second);
  }
  return out;
}

std::vector<std::shared_ptr<Module>> Module::modules(bool include_self) {
  return named_modules("", include_self).values();
}

void Module::apply(const std::function<void(Module&)>& fn) {
  fn(*this);
  for (auto& child : children_) child.second->apply(fn);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& child : children_) child.second->train(on);
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  for (auto& item : parameters_) {
    Tensor& p = item.second;
    if (!p.defined()) continue;
    const bool rg = p.requires_grad();
    Tensor grad = p.grad();
    Tensor moved = p.detach().to(device);
    if (moved.storage() == p.storage()) continue;
    if (rg) moved.set_requires_grad(true);
    if (grad.defined()) moved.set_grad(grad.to(device));
    p = moved;
  }
  for (auto& item : buffers_)
    if (item.second.defined()) item.second = item.second.to(device);
  for (auto& child : children_) child.second->to(device);
  on_tensors_changed();
}

void Module::to(DType dtype) {
  if (!is_floating(dtype))
    raise(ErrorCode::kInvalidArgument, "{}: to({}) needs a floating dtype", type_name_,
          kiln::to_string(dtype));
  NoGradGuard no_grad;
  for (auto& item : parameters_) {
    Tensor& p = item.second;
    if (!p.defined() || !is_floating(p.dtype()) || p.dtype() == dtype) continue;
    const bool rg = p.requires_grad();
    Tensor grad = p.grad();
    Tensor converted = cast(p.detach(), dtype);
    if (rg) converted.set_requires_grad(true);
    if (grad.defined()) converted.set_grad(cast(grad, dtype));
    p = converted;
  }
  for (auto& item : buffers_) {
    Tensor& b = item.second;
    if (b.defined() && is_floating(b.dtype()) && b.dtype() != dtype) b = cast(b, dtype);
  }
  for (auto& child : children_) child.second->to(dtype);
  on_tensors_changed();
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor& p : parameters()) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (set_to_none) {
      p.set_grad(Tensor());
    } else {
      NoGradGuard no_grad;
      p.set_grad(zeros_like(g));
    }
  }
}

OrderedDict<Tensor> Module::state_dict() const {
  OrderedDict<Tensor> out;
  collect_named("", true, true, true, out);
  for (auto& item : out) item.second = item.second.detach();
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  OrderedDict<Tensor> ordered;
  for (const auto& [k, v] : state) ordered.insert(k, v);
  load_state_dict(ordered, strict);
}

void Module::load_state_dict(const OrderedDict<Tensor>& state, bool strict) {
  OrderedDict<Tensor> own;
  collect_named("", true, true, true, own);
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& item : own) {
    const Tensor* given = state.find(item.first);
    if (!given) {
      missing.push_back(item.first);
      continue;
    }
    if (!given->defined()) {
      mismatched.push_back(
          fmt::format("{} (undefined tensor, model has {})", item.first, shape_string(item.second.shape())));
    } else if (given->shape() != item.second.shape()) {
      mismatched.push_back(fmt::format("{} (state has {}, model has {})", item.first,
                                       shape_string(given->shape()), shape_string(item.second.shape())));
    } else if (is_floating(given->dtype()) != is_floating(item.second.dtype())) {
      mismatched.push_back(fmt::format("{} (state has dtype {}, model has {})", item.first,
                                       kiln::to_string(given->dtype()),
                                       kiln::to_string(item.second.dtype())));
    }
  }
  for (const auto& item : state)
    if (!own.contains(item.first)) unexpected.push_back(item.first);
  std::vector<std::string> problems;
  if (strict && !missing.empty())
    problems.push_back(fmt::format("missing keys: {}", fmt::join(missing, ", ")));
  if (strict && !unexpected.empty())
    problems.push_back(fmt::format("unexpected keys: {}", fmt::join(unexpected, ", ")));
  if (!mismatched.empty()) problems.push_back(fmt::format("shape mismatch: {}", fmt::join(mismatched, "; ")));
  if (!problems.empty())
    raise(ErrorCode::kInvalidArgument, "load_state_dict for {}: {}", type_name_, fmt::join(problems, "; "));
  NoGradGuard no_grad;
  for (auto& item : own) {
    const Tensor* given = state.find(item.first);
    if (!given) continue;
    Tensor src = given->detach();
    if (src.dtype() != item.second.dtype()) src = cast(src.to(item.second.device()), item.second.dtype());
    item.second.copy_from(src);
  }
}

void Module::print(std::ostream& os, int indent) const {
  os << type_name_ << "(" << extra_repr();
  if (children_.empty()) {
    os << ")";
    return;
  }
  os << "\n";
  for (const auto& child : children_) {
    os << std::string(static_cast<size_t>(indent + 2), ' ') << "(" << child.first << "): ";
    child.second->print(os, indent + 2);
    os << "\n";
  }
  os << std::string(static_cast<size_t>(indent), ' ') << ")";
}

std::string Module::to_string() const {
  std::ostringstream os;
  print(os, 0);
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Module& module) { return os << module.to_string(); }

}  // namespace kiln::nn
