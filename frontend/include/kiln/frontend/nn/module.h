#pragma once
// nn::Module, libtorch's shape: a module registers parameters, buffers and submodules under
// names, and everything that walks the tree (named_parameters, state_dict, train/eval, to)
// follows registration order with PyTorch's dotted names ("0.weight", "fc.bias").
//
// Modules live behind shared pointers. Each concrete module FooImpl has a holder Foo
// (KILN_MODULE(Foo)), a shared-pointer-like handle used with `->`, so that
//   auto model = nn::Sequential(nn::Linear(1, 10), nn::ReLU(), nn::Linear(10, 1));
//   model->parameters();
// compiles as in libtorch.

#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kiln/runtime/error.h"
#include "kiln/runtime/tensor.h"

namespace kiln::nn {

/// Items kept in insertion order with lookup by key, like torch::OrderedDict. References to
/// values stay valid while items are added.
template <class V>
class OrderedDict {
 public:
  struct Item {
    std::string first;
    V second;
    const std::string& key() const { return first; }
    V& value() { return second; }
    const V& value() const { return second; }
  };

  OrderedDict() = default;
  OrderedDict(std::initializer_list<std::pair<std::string, V>> items) {
    for (const auto& [k, v] : items) insert(k, v);
  }

  /// Adds an item. Throws Error(kInvalidArgument) when the key is already there.
  V& insert(std::string key, V value) {
    if (index_.count(key))
      raise(ErrorCode::kInvalidArgument, "OrderedDict: key '{}' is already present", key);
    index_.emplace(key, items_.size());
    items_.push_back(Item{std::move(key), std::move(value)});
    return items_.back().second;
  }
  /// Adds or replaces an item (a replaced item keeps its position).
  V& insert_or_assign(std::string key, V value) {
    if (V* v = find(key)) return *v = std::move(value);
    return insert(std::move(key), std::move(value));
  }
  /// The value of key; throws Error(kNotFound) naming the key when it is absent.
  V& operator[](const std::string& key) {
    if (V* v = find(key)) return *v;
    raise(ErrorCode::kNotFound, "OrderedDict: no key '{}'", key);
  }
  const V& operator[](const std::string& key) const { return const_cast<OrderedDict&>(*this)[key]; }
  V* find(const std::string& key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &items_[it->second].second;
  }
  const V* find(const std::string& key) const { return const_cast<OrderedDict&>(*this).find(key); }
  bool contains(const std::string& key) const { return index_.count(key) != 0; }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  Item& item(size_t i) { return items_.at(i); }
  const Item& item(size_t i) const { return items_.at(i); }
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const Item& i : items_) out.push_back(i.first);
    return out;
  }
  std::vector<V> values() const {
    std::vector<V> out;
    for (const Item& i : items_) out.push_back(i.second);
    return out;
  }
  /// The items as a std::map (what Checkpoint holds).
  std::map<std::string, V> to_map() const {
    std::map<std::string, V> out;
    for (const Item& i : items_) out.emplace(i.first, i.second);
    return out;
  }
  auto begin() { return items_.begin(); }
  auto end() { return items_.end(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::deque<Item> items_;  // deque: push_back keeps references to values valid
  std::unordered_map<std::string, size_t> index_;
};

class Module;

/// Base of module holders; lets templates recognise them.
struct ModuleHolderBase {};

/// The base of every layer. Not copyable: modules are shared through pointers and holders.
class Module : public std::enable_shared_from_this<Module> {
 public:
  /// type_name is what messages and printing call the module ("Linear").
  explicit Module(std::string type_name = "Module");
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& name() const { return type_name_; }

  /// The module's computation on one input. The base throws Error(kUnsupported) naming the
  /// module (losses and other multi-input modules have their own forward).
  virtual Tensor forward(const Tensor& input);

  // ---- Registration (names may not contain '.' or be empty; each throws
  // ---- Error(kInvalidArgument) on a bad or duplicate name).
  /// Registers a parameter and returns a reference to the stored handle, which to() updates.
  /// requires_grad marks the tensor (floating dtypes only). An undefined tensor reserves the
  /// name (like PyTorch's None: bias=false) and is skipped by parameters() and state_dict().
  Tensor& register_parameter(const std::string& name, Tensor tensor, bool requires_grad = true);
  /// Registers a buffer (running statistics...): in state_dict(), moved by to(), never trained.
  Tensor& register_buffer(const std::string& name, Tensor tensor);
  /// Registers a submodule; named_parameters() prefixes its names with "name.".
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<Module, M>, "register_module needs an nn::Module");
    add_child(name, module);
    return module;
  }
  template <class Holder, class = std::enable_if_t<std::is_base_of_v<ModuleHolderBase, Holder>>>
  Holder register_module(const std::string& name, Holder holder) {
    add_child(name, holder.ptr());
    return holder;
  }

  // ---- Walking the tree, in registration order ----
  std::vector<Tensor> parameters(bool recurse = true) const;
  OrderedDict<Tensor> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  OrderedDict<Tensor> named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  OrderedDict<std::shared_ptr<Module>> named_children() const;
  /// This module (named prefix, "" by default) and all below it, depth first.
  OrderedDict<std::shared_ptr<Module>> named_modules(const std::string& prefix = "",
                                                     bool include_self = true);
  std::vector<std::shared_ptr<Module>> modules(bool include_self = true);

  /// Calls fn on this module and every submodule, depth first (custom initialization).
  void apply(const std::function<void(Module&)>& fn);

  // ---- Modes and devices ----
  /// Sets training mode here and in every submodule.
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  /// Moves every parameter (keeping requires_grad and any gradient) and buffer to device.
  /// Parameter handles held by the modules follow; handles copied out before do not.
  virtual void to(Device device);
  /// Converts every floating parameter and buffer to a floating dtype (f64 for gradient checks).
  /// Throws Error(kInvalidArgument) for a non-floating dtype.
  virtual void to(DType dtype);
  /// Clears every parameter's gradient (set_to_none) or replaces it with fresh zeros.
  void zero_grad(bool set_to_none = true);

  // ---- State ----
  /// Parameters then buffers of each module, depth first, with dotted names as PyTorch orders
  /// them. The tensors are detached handles sharing the module's storage.
  OrderedDict<Tensor> state_dict() const;
  /// Copies values into the module's tensors (converting dtype and device). Nothing is copied
  /// when anything is wrong: throws Error(kInvalidArgument) listing missing names (strict),
  /// unexpected names (strict) and every name whose shape differs, with both shapes.
  void load_state_dict(const OrderedDict<Tensor>& state, bool strict = true);
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  /// One line describing this module's options ("in_features=1, out_features=10, bias=true").
  virtual std::string extra_repr() const { return {}; }
  /// PyTorch-like multi-line description of the tree.
  std::string to_string() const;

 protected:
  /// For subclasses: called after the tensors of this module were moved or converted.
  virtual void on_tensors_changed() {}

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> child);
  void check_new_name(const std::string& name, const char* what) const;
  void collect_named(const std::string& prefix, bool params, bool buffers, bool recurse,
                     OrderedDict<Tensor>& out) const;
  void print(std::ostream& os, int indent) const;

  std::string type_name_;
  bool training_ = true;
  OrderedDict<Tensor> parameters_;
  OrderedDict<Tensor> buffers_;
  OrderedDict<std::shared_ptr<Module>> children_;
};

std::ostream& operator<<(std::ostream& os, const Module& module);

/// A shared handle to a module of type Impl, like torch::nn::ModuleHolder. Constructing a
/// holder with arguments constructs the Impl with them; `holder->` reaches the Impl;
/// holder(args...) calls Impl::forward(args...).
template <class Impl>
class ModuleHolder : public ModuleHolderBase {
 public:
  using ContainedType = Impl;

  /// Builds Impl from args (default-constructs it without args).
  template <class... Args>
  requires(std::is_constructible_v<Impl, Args...> &&
           !(sizeof...(Args) == 1 && (std::is_convertible_v<std::decay_t<Args>*, ModuleHolder*> && ...)))
      ModuleHolder(Args&&... args)
      : impl_(std::make_shared<Impl>(std::forward<Args>(args)...)) {}
  /// An empty holder; using it throws.
  ModuleHolder(std::nullptr_t) {}
  ModuleHolder(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

  Impl* operator->() const { return get(); }
  Impl& operator*() const { return *get(); }
  /// Throws Error(kInvalidArgument) when empty.
  Impl* get() const {
    if (!impl_) raise(ErrorCode::kInvalidArgument, "accessing an empty module holder");
    return impl_.get();
  }
  const std::shared_ptr<Impl>& ptr() const { return impl_; }
  bool is_empty() const { return impl_ == nullptr; }
  explicit operator bool() const { return impl_ != nullptr; }
  operator std::shared_ptr<Module>() const { return impl_; }

  template <class... Args>
  auto operator()(Args&&... args) const {
    return get()->forward(std::forward<Args>(args)...);
  }

 private:
  std::shared_ptr<Impl> impl_;
};

/// Declares the holder Name of NameImpl (libtorch's TORCH_MODULE).
#define KILN_MODULE(Name)                                     \
  class Name : public ::kiln::nn::ModuleHolder<Name##Impl> {  \
   public:                                                    \
    using ::kiln::nn::ModuleHolder<Name##Impl>::ModuleHolder; \
  }

/// Per-dimension sizes given as one number for every dim or as a list (kernel_size 3 or {3, 5}),
/// like torch::ExpandingArray. A list of the wrong length throws Error(kInvalidArgument).
template <size_t D>
class ExpandingArray {
 public:
  ExpandingArray(int64_t value) { values_.assign(D, value); }
  ExpandingArray(std::initializer_list<int64_t> values) : values_(values) { check(); }
  ExpandingArray(std::vector<int64_t> values) : values_(std::move(values)) { check(); }
  const std::vector<int64_t>& values() const { return values_; }
  int64_t operator[](size_t i) const { return values_[i]; }
  size_t size() const { return D; }

 private:
  void check() const {
    if (values_.size() != D)
      raise(ErrorCode::kInvalidArgument, "expected {} values (one per spatial dim), got {}", D,
            values_.size());
  }
  std::vector<int64_t> values_;
};

/// An option with a chainable setter and a getter, like TORCH_ARG:
///   KILN_ARG(bool, bias) = true;  ->  options.bias(false).bias() == false
#define KILN_ARG(T, name)                                                        \
 public:                                                                         \
  auto name(const std::type_identity_t<T>& new_value)->decltype(*this) {         \
    this->name##_ = new_value;                                                   \
    return *this;                                                                \
  }                                                                              \
  const std::type_identity_t<T>& name() const noexcept { return this->name##_; } \
                                                                                 \
 private:                                                                        \
  T name##_

/// "[4,1]": a shape for messages.
std::string shape_string(const Dims& shape);

}  // namespace kiln::nn
