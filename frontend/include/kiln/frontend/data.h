#pragma once
// Data loading in libtorch's shape: datasets over tensors and files, random_split, DataLoader.

#include "kiln/frontend/data/dataloader.h"
#include "kiln/frontend/data/dataset.h"
#include "kiln/frontend/data/file_datasets.h"
