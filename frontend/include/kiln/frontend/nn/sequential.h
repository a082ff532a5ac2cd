#pragma once
// Sequential: modules run one after the other, named "0", "1", ... as in PyTorch.

#include <memory>
#include <string>
#include <type_traits>

#include "kiln/frontend/nn/module.h"

namespace kiln::nn {

class SequentialImpl : public Module {
 public:
  SequentialImpl() : Module("Sequential") {}
  /// Sequential(nn::Linear(1, 10), nn::ReLU(), ...): module holders or shared pointers.
  template <class... Modules>
  requires(
      sizeof...(Modules) > 0 &&
      ((std::is_base_of_v<ModuleHolderBase, std::decay_t<Modules>> ||
        std::is_convertible_v<std::decay_t<Modules>,
                              std::shared_ptr<Module>>)&&...)) explicit SequentialImpl(Modules&&... modules)
      : Module("Sequential") {
    (push_back(std::forward<Modules>(modules)), ...);
  }

  /// Appends a module, named by its index.
  void push_back(std::shared_ptr<Module> module) {
    push_back(std::to_string(modules_.size()), std::move(module));
  }
  /// Appends a module under a name of its own (PyTorch's Sequential(OrderedDict(...))); it
  /// is still reached by index. Throws Error(kInvalidArgument) for a name already used.
  void push_back(const std::string& name, std::shared_ptr<Module> module);
  template <class Holder, class = std::enable_if_t<std::is_base_of_v<ModuleHolderBase, std::decay_t<Holder>>>>
  void push_back(const std::string& name, const Holder& holder) {
    push_back(name, std::shared_ptr<Module>(holder.ptr()));
  }
  template <class Holder, class = std::enable_if_t<std::is_base_of_v<ModuleHolderBase, std::decay_t<Holder>>>>
  void push_back(const Holder& holder) {
    push_back(std::shared_ptr<Module>(holder.ptr()));
  }
  template <class M, class = std::enable_if_t<std::is_base_of_v<Module, M>>>
  void push_back(std::shared_ptr<M> module) {
    push_back(std::shared_ptr<Module>(std::move(module)));
  }

  size_t size() const { return modules_.size(); }
  bool is_empty() const { return modules_.empty(); }
  /// The module at index; throws Error(kInvalidArgument) when index is out of range.
  std::shared_ptr<Module> operator[](size_t index) const;
  std::shared_ptr<Module> ptr(size_t index) const { return (*this)[index]; }
  /// The module at index as M; throws Error(kInvalidArgument) when it is another type.
  template <class M>
  std::shared_ptr<M> ptr(size_t index) const {
    auto p = std::dynamic_pointer_cast<M>((*this)[index]);
    if (!p)
      raise(ErrorCode::kInvalidArgument, "Sequential: module {} is a {}, not the type asked for", index,
            (*this)[index]->name());
    return p;
  }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

  /// Runs the modules in order. An error from one module is prefixed with its index and type
  /// ("Sequential[2] (Linear): ...").
  Tensor forward(const Tensor& x) override;

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};
KILN_MODULE(Sequential);

}  // namespace kiln::nn
