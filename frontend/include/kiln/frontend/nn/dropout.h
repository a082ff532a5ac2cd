#pragma once
// Dropout: in training, zeroes each element with probability p and scales the rest by
// 1/(1-p); in eval it returns its input. The mask is drawn on the host from a kiln Generator
// and multiplied in, so gradients flow through the kept elements.

#include <memory>
#include <optional>

#include "kiln/frontend/nn/module.h"
#include "kiln/frontend/tensor.h"

namespace kiln::nn {

class DropoutOptions {
 public:
  DropoutOptions(double p = 0.5) : p_(p) {}
  KILN_ARG(double, p);
  /// A seed for the module's own generator; without it the mask comes from generator() or,
  /// when that is not set either, from kiln::default_generator().
  KILN_ARG(std::optional<uint64_t>, seed);
  /// A generator the caller owns and keeps alive while the module is used.
  KILN_ARG(Generator*, generator) = nullptr;
};

class DropoutImpl : public Module {
 public:
  /// Throws Error(kInvalidArgument) when p is outside [0, 1].
  explicit DropoutImpl(const DropoutOptions& options = {});
  DropoutImpl(double p) : DropoutImpl(DropoutOptions(p)) {}
  /// Throws Error(kInvalidArgument) for a non-floating input.
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  /// The generator masks are drawn from.
  Generator& generator();

  DropoutOptions options;

 private:
  std::unique_ptr<Generator> own_generator_;
};
KILN_MODULE(Dropout);

}  // namespace kiln::nn
