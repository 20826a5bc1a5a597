"""The training stack every zhnlp model uses: device and precision, seeds, resumable
checkpoints, progress on stderr. torch is imported only inside the functions."""
from __future__ import annotations

from .device import DEVICE_CHOICES, DeviceSetup, resolve_device, seed_everything
from .trainer import Trainer, TrainerConfig

__all__ = ["DEVICE_CHOICES", "DeviceSetup", "Trainer", "TrainerConfig", "resolve_device", "seed_everything"]
