#pragma once
// kiln::optim: optimizers (SGD, Adam, AdamW), learning-rate schedulers and gradient clipping,
// in libtorch's shape: optim::SGD opt(params, optim::SGDOptions(0.1).momentum(0.9)).

#include "kiln/frontend/optim/adam.h"
#include "kiln/frontend/optim/clip_grad.h"
#include "kiln/frontend/optim/lr_scheduler.h"
#include "kiln/frontend/optim/optimizer.h"
#include "kiln/frontend/optim/sgd.h"
