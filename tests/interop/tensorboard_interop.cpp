// Writes TensorBoard event files with kiln's SummaryWriter for check_tensorboard.py, which reads
// them with the tensorboard package. Usage: kiln_tensorboard_interop OUTDIR
// The values here are mirrored in check_tensorboard.py.

#include <cmath>
#include <iostream>
#include <limits>

#include "kiln/frontend/tensorboard.h"
#include "kiln/runtime/error.h"

int main(int argc, char** argv) {
  using namespace kiln;
  if (argc != 2) {
    std::cerr << "usage: kiln_tensorboard_interop OUTDIR\n";
    return 2;
  }
  const std::string out = argv[1];
  try {
    tensorboard::SummaryWriter w(out + "/kiln");
    for (int i = 0; i < 5; ++i) w.add_scalar("loss/train", 1.0 / (i + 1), i);
    w.add_scalar("loss/train", std::nan(""), 5);
    w.add_scalar("loss/train", std::numeric_limits<double>::infinity(), 6);
    w.add_scalar("odd tag/ü (x) #1 %s", 0.1, 3);
    w.add_scalars("pair", {{"a", 1.5}, {"b", -2.5}}, 2);

    w.add_histogram("hist/small", std::vector<double>{-2.0, 0.0, 0.5, 0.5, 1.0, 3.0}, 0);
    std::vector<float> ramp(1000);
    for (int i = 0; i < 1000; ++i) ramp[static_cast<size_t>(i)] = static_cast<float>(i) * 0.01f - 5.0f;
    w.add_histogram("hist/ramp", Tensor::from_vector<float>({10, 100}, ramp), 1);

    w.add_image("img/rgb",
                Tensor::from_vector<float>(
                    {3, 2, 2}, {0.f, 1.f, 0.5f, 2.f, -1.f, 0.25f, 0.75f, 0.1f, 1.f, 1.f, 0.f, 0.f}),
                1);
    w.add_image("img/gray", Tensor::from_vector<uint8_t>({1, 3, 1}, {7, 128, 255}), 2,
                tensorboard::ImageFormat::kHWC);
    w.add_text("notes", "**kiln** writes *text*", 4);

    Graph g;
    g.add_input("x", DType::kF32, Shape{Dim("N"), 4});
    g.add_initializer("fc.weight", Tensor::zeros({3, 4}, DType::kF32));
    g.add_initializer("fc.bias", Tensor::zeros({3}, DType::kF32));
    Attributes gemm;
    gemm.set("transB", int64_t{1});
    g.add_node({"Gemm", {"x", "fc.weight", "fc.bias"}, {"h"}, gemm, "/layer1/0/fc/Gemm"});
    g.add_node({"Relu", {"h"}, {"y"}, {}, "/layer1/0/relu/Relu"});
    g.find_value("h")->set_type(DType::kF32, Shape{Dim("N"), 3});
    g.find_value("y")->set_type(DType::kF32, Shape{Dim("N"), 3});
    g.add_output("y");
    w.add_graph(g);

    w.add_hparams({{"lr", 0.1}, {"optimizer", "sgd"}, {"nesterov", false}}, {{"hparam/loss", 0.25}}, "hp");
    w.close();
  } catch (const Error& e) {
    std::cerr << "kiln_tensorboard_interop: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
