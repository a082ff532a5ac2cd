#include "sine_regression.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "kiln/frontend/npy.h"
#include "kiln/frontend/nn.h"
#include "kiln/frontend/optim.h"
#include "kiln/frontend/svg_plot.h"
#include "kiln/frontend/tensor.h"
#include "kiln/train/export.h"
#include "kiln/frontend/tensorboard.h"

namespace kiln::examples {

NumpyRandomState::NumpyRandomState(uint32_t seed) {
  state_[0] = seed;
  for (uint32_t i = 1; i < 624; ++i) state_[i] = 1812433253u * (state_[i - 1] ^ (state_[i - 1] >> 30)) + i;
}

uint32_t NumpyRandomState::next() {
  constexpr uint32_t kUpper = 0x80000000u, kLower = 0x7fffffffu, kMatrix = 0x9908b0dfu;
  if (index_ >= 624) {
    for (size_t i = 0; i < 624; ++i) {
      const uint32_t y = (state_[i] & kUpper) | (state_[(i + 1) % 624] & kLower);
      state_[i] = state_[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? kMatrix : 0u);
    }
    index_ = 0;
  }
  uint32_t y = state_[index_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  return y ^ (y >> 18);
}

std::vector<double> NumpyRandomState::rand(size_t n) {
  std::vector<double> out(n);
  for (double& v : out) {
    const uint32_t a = next() >> 5, b = next() >> 6;
    v = (a * 67108864.0 + b) / 9007199254740992.0;
  }
  return out;
}

namespace {

// X = sort(5 * u), y = sin(X), as [n, 1] f32 tensors.
std::pair<Tensor, Tensor> points(std::vector<double> u) {
  for (double& v : u) v *= 5.0;
  std::sort(u.begin(), u.end());
  std::vector<float> x, y;
  for (double v : u) {
    x.push_back(static_cast<float>(v));
    y.push_back(static_cast<float>(std::sin(v)));
  }
  const auto n = static_cast<int64_t>(u.size());
  return {Tensor::from_vector<float>({n, 1}, x), Tensor::from_vector<float>({n, 1}, y)};
}

std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> out;
  for (float v : t.to_vector<float>()) out.push_back(v);
  return out;
}

// PyTorch's default initialization, drawn from kiln's generator after manual_seed(seed).
nn::Sequential make_model(uint64_t seed) {
  manual_seed(seed);
  return nn::Sequential(nn::Linear(1, 10), nn::ReLU(), nn::Linear(10, 1));
}

// The model as a Graph for TensorBoard's Graphs tab, scoped by module path ("0/Gemm") the way
// PyTorch's add_graph scopes it; a traced graph (kiln::train::trace_module) names nodes by op.
// Linear is Gemm with transB, and the model's parameters are initializers under their names.
Graph model_graph(const nn::Sequential& model) {
  Graph g;
  g.add_input("x", DType::kF32, Shape{Dim("N"), 1});
  for (const auto& item : model->named_parameters()) g.add_initializer(item.key(), item.value().detach());
  Attributes linear;
  linear.set("transB", int64_t{1});
  g.add_node({"Gemm", {"x", "0.weight", "0.bias"}, {"h0"}, linear, "0/Gemm"});
  g.add_node({"Relu", {"h0"}, {"h1"}, {}, "1/Relu"});
  g.add_node({"Gemm", {"h1", "2.weight", "2.bias"}, {"y"}, linear, "2/Gemm"});
  g.find_value("h0")->set_type(DType::kF32, Shape{Dim("N"), 10});
  g.find_value("h1")->set_type(DType::kF32, Shape{Dim("N"), 10});
  g.find_value("y")->set_type(DType::kF32, Shape{Dim("N"), 1});
  g.add_output("y");
  return g;
}

}  // namespace

SineData sine_data() {
  NumpyRandomState numpy(1);
  SineData d;
  std::tie(d.x_train, d.y_train) = points(numpy.rand(100));
  std::tie(d.x_val, d.y_val) = points(numpy.rand(50));
  return d;
}

std::vector<SineRun> run_sine_demo(const SineDemoOptions& options) {
  const SineData data = sine_data();
  std::vector<SineRun> runs{{"sgd", 0.0, {}, {}, 0}, {"momentum", 0.9, {}, {}, 0}};
  std::vector<nn::Sequential> models;
  nn::MSELoss criterion;
  for (SineRun& run : runs) {
    nn::Sequential model = make_model(options.init_seed);
    optim::SGD optimizer(model->parameters(), optim::SGDOptions(options.lr).momentum(run.momentum));
    std::unique_ptr<tensorboard::TrainingLogger> board;
    if (!options.logdir.empty()) {
      board = std::make_unique<tensorboard::TrainingLogger>(
          options.logdir + "/" + run.name, tensorboard::TrainingLoggerOptions().histogram_every(options.histogram_every));
      board->log_graph(model_graph(model));
    }
    for (int epoch = 1; epoch <= options.epochs; ++epoch) {
      optimizer.zero_grad();
      Tensor loss = criterion(model->forward(data.x_train), data.y_train);
      loss.backward();
      const double norm = board ? tensorboard::grad_norm(model->parameters()) : 0.0;
      if (board) board->log_weights(*model, epoch);  // weights before this epoch's update, and its gradients
      optimizer.step();
      run.train_loss.push_back(loss.item<double>());
      {
        NoGradGuard no_grad;
        run.val_loss.push_back(criterion(model->forward(data.x_val), data.y_val).item<double>());
      }
      if (board) board->log_epoch(epoch, run.train_loss.back(), run.val_loss.back(), options.lr, norm);
      if (options.log && (epoch % 10 == 0 || epoch == 1)) {
        *options.log << fmt::format("{:<8} epoch {:>3}  train loss {:.6f}  val loss {:.6f}\n", run.name, epoch,
                                    run.train_loss.back(), run.val_loss.back());
      }
    }
    NoGradGuard no_grad;
    run.prediction_at_6_5 = model->forward(Tensor::from_vector<float>({1, 1}, {6.5f})).item<double>();
    if (board) {
      board->log_hparams({{"optimizer", "sgd"}, {"lr", options.lr}, {"momentum", run.momentum}, {"epochs", options.epochs}},
                         {{"hparam/train_loss", run.train_loss.empty() ? 0.0 : run.train_loss.back()},
                          {"hparam/val_loss", run.val_loss.empty() ? 0.0 : run.val_loss.back()}});
      board->close();
    }
    if (options.log) {
      *options.log << fmt::format("{:<8} prediction at x = 6.5: {:.6f} (sin(6.5) = {:.6f})\n", run.name,
                                  run.prediction_at_6_5, std::sin(6.5));
    }
    models.push_back(model);
  }

  std::filesystem::create_directories(options.out_dir);
  std::vector<double> epochs;
  for (int e = 1; e <= options.epochs; ++e) epochs.push_back(e);
  std::vector<plot::Series> losses;
  for (const SineRun& run : runs) {
    losses.push_back({run.name + " train", epochs, run.train_loss});
    losses.push_back({run.name + " validation", epochs, run.val_loss});
  }
  plot::PlotOptions loss_plot{"MSE loss: SGD vs SGD with momentum 0.9 (lr 0.1)", "epoch", "loss", true};
  plot::write_svg_chart(options.out_dir + "/loss.svg", losses, loss_plot);

  // Predictions on a grid that runs past the training range to x = 7 (the 6.5 query).
  NoGradGuard no_grad;
  Tensor grid = linspace(0.0, 7.0, 141).reshape({141, 1});
  std::vector<plot::Series> fits{{"targets sin(x)", as_doubles(data.x_train), as_doubles(data.y_train), true}};
  std::map<std::string, Tensor> arrays{{"x_train", data.x_train}, {"y_train", data.y_train},
                                       {"x_val", data.x_val},     {"y_val", data.y_val},
                                       {"grid", grid}};
  for (size_t i = 0; i < runs.size(); ++i) {
    Tensor prediction = models[i]->forward(grid);
    fits.push_back({runs[i].name, as_doubles(grid), as_doubles(prediction)});
    arrays[runs[i].name + "_grid_prediction"] = prediction;
    // Each trained model as ONNX, traced with a dynamic batch.
    train::export_onnx(*models[i].ptr(), data.x_train, options.out_dir + "/" + runs[i].name + ".onnx");
  }
  plot::write_svg_chart(options.out_dir + "/predictions.svg", fits, {"Predictions against targets", "x", "y"});

  for (const SineRun& run : runs) {
    const auto n = static_cast<int64_t>(run.train_loss.size());
    arrays[run.name + "_train_loss"] = Tensor::from_vector<double>({n}, run.train_loss);
    arrays[run.name + "_val_loss"] = Tensor::from_vector<double>({n}, run.val_loss);
  }
  write_npz(options.out_dir + "/sine_demo.npz", arrays);
  return runs;
}

}  // namespace kiln::examples
