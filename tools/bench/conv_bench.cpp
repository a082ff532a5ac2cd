// 3x3 Conv, X [8, 64, 56, 56], W [64, 64, 3, 3] (an initializer), pads 1, stride 1, with and
// without bias: kiln's executor against oneDNN's convolution primitive driven directly.
//
// kiln's CPU kernel (backends/cpu/conv.cpp) creates a convolution_direct forward_inference
// primitive with format_tag::any and, on every run, reorders X and W from the plain ONNX
// layouts (nchw, oihw) into the layouts the primitive chose (nhwc and a blocked weight
// layout with oneDNN 2.6 on AVX-512) and the result back to nchw. The direct baselines:
//   same_steps: exactly those four primitives (reorder X, reorder W, conv, reorder Y), made
//               once, executed each iteration: kiln's cost beyond this is framework overhead;
//   native:     the conv alone on data already in the primitive's layouts, W reordered once,
//               as an application that keeps oneDNN's layouts runs it: kiln's cost beyond
//               this includes its per-run reorders;
//   plain:      one conv primitive on nchw / oihw / nchw memory, no reorders.

#include <cstdlib>
#include <unordered_map>

#include "bench_util.h"

namespace kiln::bench {
namespace {

using Tag = dnnl::memory::format_tag;
const Dims kX{8, 64, 56, 56}, kW{64, 64, 3, 3}, kY{8, 64, 56, 56}, kB{64};

enum class Layout { kSameSteps, kNative, kPlain };

struct DirectConv {
  std::vector<float> x = random_floats(static_cast<size_t>(product(kX)), 3);
  std::vector<float> w = random_floats(static_cast<size_t>(product(kW)), 4);
  std::vector<float> b = random_floats(static_cast<size_t>(product(kB)), 5);
  std::vector<float> y = std::vector<float>(static_cast<size_t>(product(kY)));
  bool bias;
  Layout layout;
  dnnl::convolution_forward conv;
  dnnl::reorder x_in, w_in, y_out;          // kSameSteps and kNative
  dnnl::memory x_mem, w_mem, b_mem, y_mem;  // plain user memory
  dnnl::memory x_inner, w_inner, y_inner;   // the primitive's layouts
  std::unordered_map<int, dnnl::memory> args;

  DirectConv(bool with_bias, Layout l) : bias(with_bias), layout(l) {
    Dnnl& d = Dnnl::get();
    bool any = layout != Layout::kPlain;
    auto md = [&](const Dims& dims, Tag plain) { return plain_md(dims, any ? Tag::any : plain); };
    auto b_md = bias ? plain_md(kB, Tag::a) : dnnl::memory::desc();
    dnnl::convolution_forward::primitive_desc pd(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                        md(kX, Tag::nchw), md(kW, Tag::oihw), b_md, md(kY, Tag::nchw), {1, 1},
                                        {0, 0}, {1, 1}, {1, 1}),
        d.engine);
    conv = dnnl::convolution_forward(pd);
    x_mem = dnnl::memory(plain_md(kX, Tag::nchw), d.engine, x.data());
    w_mem = dnnl::memory(plain_md(kW, Tag::oihw), d.engine, w.data());
    b_mem = dnnl::memory(plain_md(kB, Tag::a), d.engine, b.data());
    y_mem = dnnl::memory(plain_md(kY, Tag::nchw), d.engine, y.data());
    x_inner = pd.src_desc() == x_mem.get_desc() ? x_mem : dnnl::memory(pd.src_desc(), d.engine);
    w_inner = pd.weights_desc() == w_mem.get_desc() ? w_mem : dnnl::memory(pd.weights_desc(), d.engine);
    y_inner = pd.dst_desc() == y_mem.get_desc() ? y_mem : dnnl::memory(pd.dst_desc(), d.engine);
    if (x_inner != x_mem) x_in = dnnl::reorder(x_mem, x_inner);
    if (w_inner != w_mem) w_in = dnnl::reorder(w_mem, w_inner);
    if (y_inner != y_mem) y_out = dnnl::reorder(y_inner, y_mem);
    args = {{DNNL_ARG_SRC, x_inner}, {DNNL_ARG_WEIGHTS, w_inner}, {DNNL_ARG_DST, y_inner}};
    if (bias) args[DNNL_ARG_BIAS] = b_mem;
    if (layout == Layout::kNative) {  // inputs staged once, outside the timing
      reorder_in();
      d.stream.wait();
    }
  }

  void reorder_in() {
    Dnnl& d = Dnnl::get();
    if (x_inner != x_mem) x_in.execute(d.stream, x_mem, x_inner);
    if (w_inner != w_mem) w_in.execute(d.stream, w_mem, w_inner);
  }

  void run() {
    Dnnl& d = Dnnl::get();
    if (layout == Layout::kSameSteps) reorder_in();
    conv.execute(d.stream, args);
    if (layout == Layout::kSameSteps && y_inner != y_mem) y_out.execute(d.stream, y_inner, y_mem);
    d.stream.wait();
  }

  /// The result in nchw (for the native variant, reordered outside the timing).
  const float* result() {
    if (layout == Layout::kNative && y_inner != y_mem) {
      y_out.execute(Dnnl::get().stream, y_inner, y_mem);
      Dnnl::get().stream.wait();
    }
    return y.data();
  }
};

Attributes conv_attrs() {
  Attributes a;
  a.set("kernel_shape", std::vector<int64_t>{3, 3});
  a.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  a.set("strides", std::vector<int64_t>{1, 1});
  return a;
}

void run_kiln(benchmark::State& state, bool bias) {
  Graph g;
  g.set_label("conv_bench");
  Value* x = g.add_input("x", DType::kF32, {8, 64, 56, 56});
  std::vector<Value*> ins{x, g.add_initializer("w", Tensor::from_vector<float>(kW, random_floats(product(kW), 4)))};
  if (bias) ins.push_back(g.add_initializer("b", Tensor::from_vector<float>(kB, random_floats(product(kB), 5))));
  g.add_output(g.op1("Conv", ins, conv_attrs())->name());
  Executor ex = make_executor(g);
  std::vector<Tensor> inputs{Tensor::from_vector<float>(kX, random_floats(product(kX), 3))};
  std::vector<Tensor> first = ex.run(inputs);  // plans and prepares
  DirectConv ref(bias, Layout::kSameSteps);
  ref.run();
  if (!check_same(state, first[0], ref.result())) return;
  for (auto _ : state) benchmark::DoNotOptimize(ex.run(inputs));
  set_time_per_op(state, 1);
}

void run_direct(benchmark::State& state, bool bias, Layout layout, bool fresh_output = false) {
  apply_threads();
  DirectConv c(bias, layout);
  c.run();
  size_t bytes = static_cast<size_t>(product(kY)) * sizeof(float);
  for (auto _ : state) {
    void* out = nullptr;
    if (fresh_output) {  // a new output per run, as kiln's executor allocates graph outputs
      out = std::aligned_alloc(64, bytes);
      c.y_mem.set_data_handle(out);
    }
    c.run();
    benchmark::DoNotOptimize(out);
    std::free(out);
  }
  set_time_per_op(state, 1);
}

void BM_Conv_kiln(benchmark::State& s) {
  guarded(s, [&] { run_kiln(s, false); });
}
void BM_Conv_onednn(benchmark::State& s) {
  guarded(s, [&] { run_direct(s, false, Layout::kSameSteps); });
}
void BM_Conv_onednn_fresh_output(benchmark::State& s) {
  guarded(s, [&] { run_direct(s, false, Layout::kSameSteps, true); });
}
void BM_Conv_onednn_native(benchmark::State& s) {
  guarded(s, [&] { run_direct(s, false, Layout::kNative); });
}
void BM_Conv_onednn_plain(benchmark::State& s) {
  guarded(s, [&] { run_direct(s, false, Layout::kPlain); });
}
void BM_ConvBias_kiln(benchmark::State& s) {
  guarded(s, [&] { run_kiln(s, true); });
}
void BM_ConvBias_onednn(benchmark::State& s) {
  guarded(s, [&] { run_direct(s, true, Layout::kSameSteps); });
}

}  // namespace

BENCHMARK(BM_Conv_kiln)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv_onednn)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv_onednn_fresh_output)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv_onednn_native)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv_onednn_plain)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConvBias_kiln)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConvBias_onednn)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace kiln::bench
