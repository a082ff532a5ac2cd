// kiln's side of the PyTorch training parity tests (train_parity.py). Usage:
//   kiln_train_parity CASE IN.npz OUT.npz
// IN.npz holds the initial weights under "param.<PyTorch name>" and the data ("x", "y"). The
// program trains the case's model from those weights exactly as the script does in torch and
// writes the loss of every step ("loss", before the step's update) and every parameter's
// gradient after the first backward ("grad.<name>").
#include <fmt/format.h>

#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "kiln/frontend/nn.h"
#include "kiln/frontend/npy.h"
#include "kiln/frontend/optim.h"
#include "kiln/frontend/tensor.h"
#include "kiln/runtime/error.h"

namespace kiln {
namespace {

struct Case {
  nn::Sequential model;
  std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)> optimizer;
  std::function<Tensor(const Tensor&, const Tensor&)> loss;
  int epochs;
  int64_t batch;  // 0: full batch
};

// The seed MLP and the small CNN (Conv, ReLU, MaxPool twice, then Linear) of issue 4.
Case make_case(const std::string& name) {
  if (name == "mlp_sgd" || name == "mlp_momentum") {
    const double momentum = name == "mlp_momentum" ? 0.9 : 0.0;
    return {nn::Sequential(nn::Linear(1, 10), nn::ReLU(), nn::Linear(10, 1)),
            [momentum](std::vector<Tensor> p) {
              return std::make_unique<optim::SGD>(std::move(p), optim::SGDOptions(0.1).momentum(momentum));
            },
            [](const Tensor& pred, const Tensor& y) { return nn::functional::mse_loss(pred, y); }, 100, 0};
  }
  if (name == "cnn_sgd" || name == "cnn_adam") {
    nn::Sequential cnn(nn::Conv2d(nn::Conv2dOptions(1, 8, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(nn::Conv2dOptions(8, 16, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                       nn::Linear(16 * 7 * 7, 10));
    auto optimizer = name == "cnn_sgd"
                         ? std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>([](std::vector<Tensor> p) {
                             return std::make_unique<optim::SGD>(std::move(p),
                                                                 optim::SGDOptions(0.01).momentum(0.9).weight_decay(1e-4));
                           })
                         : [](std::vector<Tensor> p) {
                             return std::make_unique<optim::Adam>(std::move(p), optim::AdamOptions(1e-3));
                           };
    return {cnn, optimizer, [](const Tensor& logits, const Tensor& y) { return nn::functional::cross_entropy(logits, y); },
            3, 32};
  }
  raise(ErrorCode::kInvalidArgument, "unknown case '{}'", name);
}

int run(const std::string& name, const std::string& in_path, const std::string& out_path) {
  Case c = make_case(name);
  std::map<std::string, Tensor> in = read_npz(in_path);
  std::map<std::string, Tensor> weights;
  for (const auto& [key, value] : in)
    if (key.rfind("param.", 0) == 0) weights[key.substr(6)] = value;
  c.model->load_state_dict(weights);
  const Tensor& x = in.at("x");
  const Tensor& y = in.at("y");
  auto optimizer = c.optimizer(c.model->parameters());
  const int64_t n = x.dim(0);
  const int64_t batch = c.batch ? c.batch : n;
  std::vector<double> losses;
  std::map<std::string, Tensor> out;
  for (int epoch = 0; epoch < c.epochs; ++epoch) {
    for (int64_t start = 0; start + batch <= n; start += batch) {
      optimizer->zero_grad();
      Tensor loss = c.loss(c.model->forward(x.slice(0, start, start + batch)), y.slice(0, start, start + batch));
      loss.backward();
      if (losses.empty())
        for (const auto& [pname, p] : c.model->named_parameters()) out["grad." + pname] = p.grad();
      optimizer->step();
      losses.push_back(loss.item<double>());
    }
  }
  out["loss"] = Tensor::from_vector<double>({static_cast<int64_t>(losses.size())}, losses);
  write_npz(out_path, out);
  return 0;
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: kiln_train_parity CASE IN.npz OUT.npz\n";
    return 2;
  }
  try {
    return kiln::run(argv[1], argv[2], argv[3]);
  } catch (const kiln::Error& e) {
    std::cerr << "kiln_train_parity: error: " << e.what() << "\n";
    return 1;
  }
}
