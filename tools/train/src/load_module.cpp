#include "kiln/train/load_module.h"

namespace kiln::train {

nn::GraphModule module_from_model(onnx::Model model, Generator* dropout_generator) {
  return nn::GraphModule(std::move(model.graph), dropout_generator);
}

nn::GraphModule load_module(const std::string& path, Generator* dropout_generator) {
  return module_from_model(onnx::load_model(path), dropout_generator);
}

}  // namespace kiln::train
