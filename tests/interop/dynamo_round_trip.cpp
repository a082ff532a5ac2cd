// kiln's side of the torch 2.15 (dynamo exporter) interop tests (dynamo_round_trip.py,
// dynamo_convert.py). Usage:
//   kiln_dynamo_round_trip MODEL.onnx DATA.npz OUT_DIR
// loads MODEL.onnx as a GraphModule and fine-tunes it as dynamo_export.py fine-tunes PyTorch:
// one SGD-momentum step per batch "x<k>"/"y<k>" of DATA.npz ("lr", "momentum"), cross entropy
// over the logits flattened to (N, classes) (the decoder's (B, T, V) next-token logits too),
// train mode with Dropout off. Prints "trainable: NAME" for each parameter it trains and
// "non-finite gradient: NAME (step K)" for a gradient with a NaN or an infinity. Then writes
// OUT_DIR/model.onnx (inference form, the model's own opset) and OUT_DIR/kiln.npz with "loss"
// (each step's loss, before its update) and "out" (the eval-mode output on "x_eval").
//   kiln_dynamo_round_trip --opset N MODEL.onnx OUT.onnx
// loads MODEL.onnx and writes it back at default-domain opset N (train::export_onnx's opset,
// i.e. SaveOptions::opset). Errors print one line "kiln_dynamo_round_trip: MESSAGE", exit 1.
#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <map>
#include <string>

#include "kiln/frontend/nn.h"
#include "kiln/frontend/npy.h"
#include "kiln/frontend/optim.h"
#include "kiln/frontend/tensor.h"
#include "kiln/runtime/error.h"
#include "kiln/train/export.h"
#include "kiln/train/load_module.h"

namespace kiln {
namespace {

int fine_tune(const std::string& model_path, const std::string& data_path, const std::string& out_dir) {
  std::map<std::string, Tensor> data = read_npz(data_path);
  nn::GraphModule module = train::load_module(model_path);
  const nn::TrainabilityReport& report = module->report();
  for (const auto& line : report.untied) std::cout << "untied: " << line << "\n";
  for (const auto& line : report.mapped) std::cout << "mapped: " << line << "\n";
  for (const auto& line : report.unmapped_parameters) std::cout << "unmapped parameter: " << line << "\n";
  for (const auto& line : report.folded_batchnorm) std::cout << "folded: " << line << "\n";
  for (const auto& name : module->trainable_names()) std::cout << "trainable: " << name << "\n";
  module->set_dropout_enabled(false);
  module->train();
  const double lr = data.at("lr").item<double>();
  const double momentum = data.at("momentum").item<double>();
  optim::SGD opt(module->trainable_parameters(), optim::SGDOptions(lr).momentum(momentum));
  std::vector<double> losses;
  for (int64_t step = 0; data.count(fmt::format("x{}", step)); ++step) {
    opt.zero_grad();
    Tensor logits = module->forward(data.at(fmt::format("x{}", step)));
    Tensor loss =
        nn::functional::cross_entropy(flatten(logits, 0, -2), flatten(data.at(fmt::format("y{}", step))));
    loss.backward();
    // Names the parameters whose gradient is not finite (what a NaN loss comes from).
    auto params = module->named_parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      const Tensor grad = params.item(i).value().grad();
      if (!grad.defined()) continue;
      for (float g : grad.contiguous().to_vector<float>())
        if (!std::isfinite(g)) {
          std::cout << fmt::format("non-finite gradient: {} (step {})\n", params.item(i).key(), step);
          break;
        }
    }
    opt.step();
    losses.push_back(loss.item<double>());
    std::cout << fmt::format("step {} loss {:.8f}\n", step, losses.back());
  }
  train::export_onnx(module, out_dir + "/model.onnx");
  module->eval();
  Tensor out;
  {
    NoGradGuard no_grad;
    out = module->forward(data.at("x_eval"));
  }
  write_npz(
      out_dir + "/kiln.npz",
      {{"loss", Tensor::from_vector<double>({static_cast<int64_t>(losses.size())}, losses)}, {"out", out}});
  return 0;
}

int convert(int opset, const std::string& model_path, const std::string& out_path) {
  nn::GraphModule module = train::load_module(model_path);
  train::export_onnx(module, out_path, nn::ExportForm::kInference, opset);
  std::cout << fmt::format("wrote {} at opset {}\n", out_path, opset);
  return 0;
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) {
  try {
    if (argc == 5 && std::string(argv[1]) == "--opset")
      return kiln::convert(std::stoi(argv[2]), argv[3], argv[4]);
    if (argc == 4 && std::string(argv[1]).rfind("--", 0) != 0)
      return kiln::fine_tune(argv[1], argv[2], argv[3]);
  } catch (const std::exception& e) {
    std::cerr << "kiln_dynamo_round_trip: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: kiln_dynamo_round_trip MODEL.onnx DATA.npz OUT_DIR | kiln_dynamo_round_trip --opset N "
               "MODEL.onnx OUT.onnx\n";
  return 2;
}
