#pragma once
// One registration function per kernel family; each lives in <family>.cpp.

#include "kernel.h"

namespace kiln::cpu {

void register_matmul_kernels(KernelTable& table);
void register_conv_kernels(KernelTable& table);
void register_pool_kernels(KernelTable& table);
void register_norm_kernels(KernelTable& table);
void register_attention_kernels(KernelTable& table);  // Attention, RotaryEmbedding
void register_softmax_kernels(KernelTable& table);
void register_eltwise_kernels(KernelTable& table);
void register_binary_kernels(KernelTable& table);
void register_reduce_kernels(KernelTable& table);
void register_shape_kernels(KernelTable& table);
void register_movement_kernels(KernelTable& table);
void register_generator_kernels(KernelTable& table);
void register_logic_kernels(KernelTable& table);
void register_loss_kernels(KernelTable& table);  // NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss
void register_resize_kernels(KernelTable& table);  // Resize, Upsample
void register_fused_kernels(KernelTable& table);  // kiln.FusedConv, FusedGemm, FusedMatMul
// f64 MatMul, Gemm, Conv, ConvTranspose, pools, BatchNorm, LayerNorm, Softmax (f64.cpp); it
// extends those ops' entries, so it registers after them.
void register_f64_kernels(KernelTable& table);
// Backward ops of the kiln domain: ConvGradWeight (conv_backward.cpp), MaxPoolGrad and
// AveragePoolGrad (pool_backward.cpp).
void register_conv_backward_kernels(KernelTable& table);
void register_pool_backward_kernels(KernelTable& table);
// BatchNormalization's training mode (batchnorm_training.cpp); it extends the entry of the
// inference kernels, so it registers after them.
void register_batchnorm_training_kernels(KernelTable& table);

}  // namespace kiln::cpu
