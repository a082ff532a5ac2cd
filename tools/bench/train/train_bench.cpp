// kiln's side of tools/bench/compare_torch.py: times training steps of one case and prints one
// JSON line {"case", "steps", "step_ms" (median), "peak_rss_mb"}. Usage:
//   kiln_train_bench sine|cnn|resnet STEPS      (threads: OMP_NUM_THREADS)
//   kiln_train_bench finetune STEPS MODEL.onnx N,C,H,W CLASSES
// finetune: an ONNX model PyTorch exported (BatchNorm kept), fine-tuned as a GraphModule on
// random inputs of the given shape with cross-entropy over CLASSES.
// sine: the seed MLP on 100 points, full batch (a step is one epoch); cnn: the parity CNN on
// 28x28 inputs at batch 32; resnet: a resnet18-sized network (BasicBlocks [2,2,2,2], 64..512
// channels, 11.2M parameters) on 3x64x64 inputs at batch 8. SGD with momentum 0.9 throughout.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "kiln/frontend/nn.h"
#include "kiln/frontend/optim.h"
#include "kiln/frontend/tensor.h"
#include "kiln/runtime/error.h"
#include "kiln/train/load_module.h"

namespace kiln {
namespace {

// torchvision's BasicBlock: two 3x3 convs with BatchNorm, plus a projected shortcut when the
// shape changes.
class BasicBlockImpl : public nn::Module {
 public:
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride) : nn::Module("BasicBlock") {
    conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
    bn1 = register_module("bn1", nn::BatchNorm2d(out));
    conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1).bias(false)));
    bn2 = register_module("bn2", nn::BatchNorm2d(out));
    if (stride != 1 || in != out) {
      downsample = register_module("downsample", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                                                                 nn::BatchNorm2d(out)));
    }
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = relu(bn1->forward(conv1->forward(x)));
    h = bn2->forward(conv2->forward(h));
    return relu(h + (downsample ? downsample->forward(x) : x));
  }

 private:
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  nn::Sequential downsample{nullptr};
};
KILN_MODULE(BasicBlock);

nn::Sequential resnet18_sized(int64_t classes) {
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false)), nn::BatchNorm2d(64),
                     nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
  int64_t in = 64;
  for (int64_t out : {64, 128, 256, 512}) {
    net->push_back(BasicBlock(in, out, out == 64 ? 1 : 2));
    net->push_back(BasicBlock(out, out, 1));
    in = out;
  }
  net->push_back(nn::AdaptiveAvgPool2d(1));
  net->push_back(nn::Flatten());
  net->push_back(nn::Linear(512, classes));
  return net;
}

double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

Dims parse_dims(const std::string& text) {
  Dims dims;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    dims.push_back(std::stoll(text.substr(start, comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return dims;
}

int run(const std::string& name, int steps, const std::vector<std::string>& extra) {
  manual_seed(0);
  std::shared_ptr<nn::Module> model;
  Tensor x, y;
  bool regression = false;
  if (name.rfind("finetune", 0) == 0) {
    if (extra.size() != 3) raise(ErrorCode::kInvalidArgument, "finetune needs MODEL.onnx N,C,H,W CLASSES");
    model = train::load_module(extra[0]).ptr();
    x = randn(parse_dims(extra[1]));
    y = randint(0, std::stoll(extra[2]), {x.dim(0)});
  } else if (name == "sine") {
    model = nn::Sequential(nn::Linear(1, 10), nn::ReLU(), nn::Linear(10, 1)).ptr();
    x = rand({100, 1}) * 5.0;
    y = run_op1("Sin", {x});
    regression = true;
  } else if (name == "cnn") {
    model = nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 8, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2),
                           nn::Conv2d(nn::Conv2dOptions(8, 16, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2),
                           nn::Flatten(), nn::Linear(16 * 7 * 7, 10))
                .ptr();
    x = randn({32, 1, 28, 28});
    y = randint(0, 10, {32});
  } else if (name == "resnet") {
    model = resnet18_sized(10).ptr();
    x = randn({8, 3, 64, 64});
    y = randint(0, 10, {8});
  } else {
    raise(ErrorCode::kInvalidArgument, "unknown case '{}' (expected sine, cnn, resnet or finetune)", name);
  }
  optim::SGD opt(model->parameters(), optim::SGDOptions(regression ? 0.1 : 0.01).momentum(0.9));
  auto step = [&] {
    opt.zero_grad();
    Tensor out = model->forward(x);
    Tensor loss = regression ? nn::functional::mse_loss(out, y) : nn::functional::cross_entropy(out, y);
    loss.backward();
    opt.step();
    return loss.item<double>();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: kernels are prepared on first use
  std::vector<double> ms;
  for (int i = 0; i < steps; ++i) {
    auto start = std::chrono::steady_clock::now();
    step();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  fmt::print("{{\"case\": \"{}\", \"steps\": {}, \"step_ms\": {:.4f}, \"peak_rss_mb\": {:.1f}}}\n", name, steps,
             ms[ms.size() / 2], peak_rss_mb());
  return 0;
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: kiln_train_bench sine|cnn|resnet STEPS | finetune STEPS MODEL.onnx N,C,H,W CLASSES\n";
    return 2;
  }
  try {
    return kiln::run(argv[1], std::atoi(argv[2]), std::vector<std::string>(argv + 3, argv + argc));
  } catch (const kiln::Error& e) {
    std::cerr << "kiln_train_bench: error: " << e.what() << "\n";
    return 1;
  }
}
