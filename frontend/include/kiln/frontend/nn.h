#pragma once
// kiln::nn, libtorch-shaped: Module and holders, layers, initializers and losses.

#include "kiln/frontend/nn/activation.h"
#include "kiln/frontend/nn/conv.h"
#include "kiln/frontend/nn/dropout.h"
#include "kiln/frontend/nn/graph_module.h"
#include "kiln/frontend/nn/init.h"
#include "kiln/frontend/nn/linear.h"
#include "kiln/frontend/nn/loss.h"
#include "kiln/frontend/nn/module.h"
#include "kiln/frontend/nn/normalization.h"
#include "kiln/frontend/nn/pooling.h"
#include "kiln/frontend/nn/sequential.h"
