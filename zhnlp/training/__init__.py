"""The training stack every zhnlp model uses: device and precision, seeds, the trainer (resumable
checkpoints, stages, callbacks, gradient accumulation, EMA, FGM, early stopping), the shared
length-bucketed batcher and background batch preparation. torch is imported only inside the
functions, so importing this package is cheap."""
from __future__ import annotations

from .batching import BackgroundBatches, LengthBucketedBatches, ResumableBatches
from .device import DEVICE_CHOICES, DeviceSetup, resolve_device, seed_everything
from .trainer import (CHECKPOINT_DIR, TRAINING_FILE, Trainer, TrainerCallback, TrainerConfig, TrainResult,
                      checkpoint_dir, resume_model_config, saved_state)

__all__ = ["BackgroundBatches", "CHECKPOINT_DIR", "DEVICE_CHOICES", "DeviceSetup", "LengthBucketedBatches",
           "ResumableBatches", "TRAINING_FILE", "TrainResult", "Trainer", "TrainerCallback", "TrainerConfig",
           "checkpoint_dir", "resolve_device", "resume_model_config", "saved_state", "seed_everything"]
