#pragma once
// TensorBoard logging: SummaryWriter, the event-file reader, and TrainingLogger for training
// loops.

#include "kiln/frontend/tensorboard/event_reader.h"     // IWYU pragma: export
#include "kiln/frontend/tensorboard/histogram.h"        // IWYU pragma: export
#include "kiln/frontend/tensorboard/record.h"           // IWYU pragma: export
#include "kiln/frontend/tensorboard/summary_writer.h"   // IWYU pragma: export
#include "kiln/frontend/tensorboard/training_logger.h"  // IWYU pragma: export
