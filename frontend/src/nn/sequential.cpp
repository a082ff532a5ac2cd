#include "kiln/frontend/nn/sequential.h"

namespace kiln::nn {

void SequentialImpl::push_back(const std::string& name, std::shared_ptr<Module> module) {
  if (!module) raise(ErrorCode::kInvalidArgument, "Sequential: cannot append an empty module");
  register_module(name, module);
  modules_.push_back(std::move(module));
}

std::shared_ptr<Module> SequentialImpl::operator[](size_t index) const {
  if (index >= modules_.size())
    raise(ErrorCode::kInvalidArgument, "Sequential: index {} is out of range for {} modules", index,
          modules_.size());
  return modules_[index];
}

Tensor SequentialImpl::forward(const Tensor& x) {
  Tensor y = x;
  for (size_t i = 0; i < modules_.size(); ++i) {
    try {
      y = modules_[i]->forward(y);
    } catch (const Error& e) {
      throw Error(e.code(),
                  "Sequential[" + std::to_string(i) + "] (" + modules_[i]->name() + "): " + e.what());
    }
  }
  return y;
}

}  // namespace kiln::nn
