"""The training stack every zhnlp model uses: device and precision, seeds, the trainer (resumable
checkpoints, stages, callbacks, gradient accumulation, EMA, FGM, early stopping), the shared
length-bucketed batcher and background batch preparation. Nothing is imported until a name is
used, and torch only inside the functions, so importing this package is cheap."""
from __future__ import annotations

from .._lazy import lazy_names

_LAZY = {
    "TrainerConfig": ".config",
    "BackgroundBatches": ".batching", "LengthBucketedBatches": ".batching", "ResumableBatches": ".batching",
    "DEVICE_CHOICES": ".device", "DeviceSetup": ".device", "resolve_device": ".device", "seed_everything": ".device",
    "CHECKPOINT_DIR": ".trainer", "TRAINING_FILE": ".trainer", "Trainer": ".trainer", "TrainerCallback": ".trainer",
    "TrainResult": ".trainer", "checkpoint_dir": ".trainer", "resume_model_config": ".trainer",
    "config_conflicts": ".trainer", "decay_groups": ".trainer", "load_matching_weights": ".trainer",
    "saved_state": ".trainer", "start_run": ".trainer", "epoch_schedule": ".trainer",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_names(globals(), _LAZY)
