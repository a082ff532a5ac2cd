// kiln's side of the fine-tune round trips: round_trip.py (torch 1.13 exports, issue 5 item 6),
// dynamo_round_trip.py and dynamo_convert.py (torch 2.15's dynamo exports). Usage:
//   kiln_round_trip MODEL.onnx DATA.npz OUT_DIR
// DATA.npz holds the training batches "x<k>", "y<k>" (k = 0..steps-1), the learning rate "lr"
// and momentum "momentum", and an evaluation input "x_eval". The program loads MODEL.onnx as a
// GraphModule, fine-tunes it with cross entropy over the logits flattened to (N, classes) (a
// decoder's (B, T, V) next-token logits too) and SGD (momentum), one step per batch in train
// mode with Dropout off (PyTorch's masks cannot be reproduced). It prints "trainable: NAME" for
// each parameter it trains and "non-finite gradient: NAME (step K)" for a gradient with a NaN or
// an infinity, then writes to OUT_DIR: model.onnx (inference form, the model's own opset),
// model.safetensors (PyTorch's names; only when every trained parameter has one) and kiln.npz
// with "loss" (each step's loss, before its update) and "out" (the eval-mode output on x_eval).
//   kiln_round_trip --traced OUT_DIR
// exports two frontend models by tracing (an MLP with Dropout and GELU, a CNN with BatchNorm,
// pools, Flatten and Dropout) to OUT_DIR/traced_<name>.onnx and writes traced_<name>.npz with
// inputs "x_b<N>" and kiln's eval-mode outputs "y_b<N>" at batch 2 and 5 (traced_export.py).
//   kiln_round_trip --opset N MODEL.onnx OUT.onnx
// loads MODEL.onnx and writes it back at default-domain opset N (train::export_onnx's opset).
// Errors print one line "kiln_round_trip: MESSAGE" and exit 1.
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

int run_traced(const std::string& out_dir) {
  manual_seed(11);
  nn::Sequential mlp(nn::Linear(6, 16), nn::ReLU(), nn::Dropout(0.3), nn::Linear(16, 16), nn::GELU(),
                     nn::Linear(16, 3));
  nn::Sequential cnn(nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)), nn::BatchNorm2d(4), nn::ReLU(),
                     nn::MaxPool2d(2), nn::Conv2d(nn::Conv2dOptions(4, 8, 3).padding(1)), nn::ReLU(),
                     nn::AvgPool2d(2), nn::Flatten(), nn::Dropout(0.5), nn::Linear(8 * 2 * 2, 5));
  Generator gen(12);
  cnn->train();  // running statistics that are not the defaults
  for (int i = 0; i < 3; ++i) cnn->forward(randn({8, 1, 8, 8}, gen) * 2.0 + 0.5);
  struct Case {
    std::string name;
    nn::Module& model;
    Dims sample;
  };
  for (Case c : {Case{"mlp", *mlp, {6}}, Case{"cnn", *cnn, {1, 8, 8}}}) {
    Dims shape = c.sample;
    shape.insert(shape.begin(), 4);
    train::export_onnx(c.model, randn(shape, gen), out_dir + "/traced_" + c.name + ".onnx");
    c.model.eval();
    std::map<std::string, Tensor> arrays;
    for (int64_t batch : {2, 5}) {
      shape[0] = batch;
      Tensor x = randn(shape, gen);
      NoGradGuard no_grad;
      arrays[fmt::format("x_b{}", batch)] = x;
      arrays[fmt::format("y_b{}", batch)] = c.model.forward(x);
    }
    write_npz(out_dir + "/traced_" + c.name + ".npz", arrays);
    std::cout << "exported traced_" << c.name << ".onnx\n";
  }
  return 0;
}

// The parameters whose gradient is not finite (what a NaN loss comes from).
void print_non_finite_gradients(nn::GraphModule& module, int64_t step) {
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
}

int run(const std::string& model_path, const std::string& data_path, const std::string& out_dir) {
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
    print_non_finite_gradients(module, step);
    opt.step();
    losses.push_back(loss.item<double>());
    std::cout << fmt::format("step {} loss {:.8f}\n", step, losses.back());
  }
  train::export_onnx(module, out_dir + "/model.onnx");
  if (report.unmapped_parameters.empty()) {
    train::SafetensorsExportOptions options;
    options.num_batches_tracked = static_cast<int64_t>(losses.size());
    train::SafetensorsExportResult written =
        train::export_safetensors(module, out_dir + "/model.safetensors", options);
    std::cout << fmt::format("safetensors: {} tensors ({} num_batches_tracked added)\n", written.written.size(),
                             written.added.size());
  }
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
    if (argc == 3 && std::string(argv[1]) == "--traced") return kiln::run_traced(argv[2]);
    if (argc == 5 && std::string(argv[1]) == "--opset") return kiln::convert(std::stoi(argv[2]), argv[3], argv[4]);
    if (argc == 4 && std::string(argv[1]).rfind("--", 0) != 0) return kiln::run(argv[1], argv[2], argv[3]);
  } catch (const std::exception& e) {
    std::cerr << "kiln_round_trip: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: kiln_round_trip MODEL.onnx DATA.npz OUT_DIR | kiln_round_trip --traced OUT_DIR | "
               "kiln_round_trip --opset N MODEL.onnx OUT.onnx\n";
  return 2;
}
