// Explicit registration of every CPU kernel family (no static initializers).
#include "kernel.h"
#include "kernel_families.h"

namespace kiln::cpu {

void register_kernels(KernelTable& table) {
  register_matmul_kernels(table);       // MatMul, Gemm
  register_conv_kernels(table);         // Conv, ConvTranspose
  register_pool_kernels(table);         // MaxPool, AveragePool, GlobalAveragePool
  register_norm_kernels(table);         // BatchNormalization, LayerNormalization, RMSNormalization
  register_attention_kernels(table);    // Attention, RotaryEmbedding
  register_softmax_kernels(table);      // Softmax, LogSoftmax
  register_eltwise_kernels(table);      // Relu ... Pow
  register_binary_kernels(table);       // Add, Sub, Mul, Div
  register_reduce_kernels(table);       // ReduceSum, ReduceMean, ReduceMax
  register_shape_kernels(table);        // Reshape, Flatten, Squeeze, Unsqueeze, Shape, Identity ...
  register_movement_kernels(table);     // Transpose, Concat, Split, Slice, Gather, Expand, Tile, Pad
  register_generator_kernels(table);    // Constant, ConstantOfShape, Range
  register_logic_kernels(table);        // Cast, Where, Equal, Less, Greater
  register_loss_kernels(table);         // NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss
  register_resize_kernels(table);       // Resize, Upsample
  register_fused_kernels(table);        // kiln.FusedConv, FusedGemm, FusedMatMul
  // Last: puts f64 kernels in front of the f32 oneDNN entries of MatMul ... Softmax above.
  register_f64_kernels(table);
  register_conv_backward_kernels(table);         // kiln.ConvGradWeight
  register_pool_backward_kernels(table);         // kiln.MaxPoolGrad, AveragePoolGrad
  register_batchnorm_training_kernels(table);    // BatchNormalization, training_mode=1
}

}  // namespace kiln::cpu
