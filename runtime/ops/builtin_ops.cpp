// Explicit registration of every built-in op (no static initializers, see DESIGN.md).
#include "kiln/runtime/op_registry.h"
#include "op_families.h"

namespace kiln {

void register_builtin_ops(OpRegistry& registry) {
  ops::register_matmul_ops(registry);
  ops::register_conv_ops(registry);
  ops::register_pool_ops(registry);
  ops::register_norm_ops(registry);
  ops::register_attention_ops(registry);
  ops::register_softmax_ops(registry);
  ops::register_activation_ops(registry);
  ops::register_binary_ops(registry);
  ops::register_reduce_ops(registry);
  ops::register_shape_ops(registry);
  ops::register_movement_ops(registry);
  ops::register_generator_ops(registry);
  ops::register_logic_ops(registry);
  ops::register_loss_ops(registry);
  ops::register_resize_ops(registry);
  ops::register_fused_ops(registry);
  ops::register_backward_ops(registry);
}

}  // namespace kiln
