#pragma once
// One registration function per op family; each lives in runtime/ops/<family>.cpp and is
// called once from register_builtin_ops.

#include "kiln/runtime/op_registry.h"

namespace kiln::ops {

void register_matmul_ops(OpRegistry& registry);      // MatMul, Gemm
void register_conv_ops(OpRegistry& registry);        // Conv, ConvTranspose
void register_pool_ops(OpRegistry& registry);        // MaxPool, AveragePool, GlobalAveragePool
void register_norm_ops(OpRegistry& registry);        // BatchNormalization, LayerNormalization, RMSNormalization
void register_attention_ops(OpRegistry& registry);   // Attention, RotaryEmbedding
void register_softmax_ops(OpRegistry& registry);     // Softmax, LogSoftmax, Hardmax
void register_activation_ops(OpRegistry& registry);  // Relu ... Clip, Pow
void register_binary_ops(OpRegistry& registry);      // Add, Sub, Mul, Div
void register_reduce_ops(OpRegistry& registry);      // ReduceSum, ReduceMean, ReduceMax
void register_shape_ops(OpRegistry& registry);       // Reshape, Flatten, Squeeze, Unsqueeze, Shape, Identity
void register_movement_ops(
    OpRegistry& registry);  // Transpose, Concat, Split, Slice, Gather, Expand, Tile, Pad
void register_generator_ops(OpRegistry& registry);  // Constant, ConstantOfShape, Range
void register_logic_ops(OpRegistry& registry);      // Cast, Where, Equal, Less, Greater
void register_loss_ops(OpRegistry& registry);       // NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss
void register_resize_ops(OpRegistry& registry);     // Resize, Upsample
void register_backward_ops(OpRegistry& registry);   // kiln.ConvGradWeight, MaxPoolGrad, AveragePoolGrad (after their forward ops)
void register_fused_ops(OpRegistry& registry);      // kiln.FusedConv, FusedGemm, FusedMatMul (after their base ops)

}  // namespace kiln::ops
