"""Device and precision for every model in zhnlp: ``--device auto|cpu|cuda`` means the same everywhere.

``auto`` takes CUDA when torch sees a GPU and the CPU otherwise, and says which it took. On CUDA,
computation runs under autocast in bf16 when the GPU supports it, else in fp16 with a gradient
scaler; on the CPU it stays in fp32 (CPU autocast is slower than fp32 for these small models).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import InputError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def gpu_may_be_present() -> bool:
    """A cheap look for an NVIDIA driver, so that a CPU path that can run in numpy never pays for
    importing torch to learn that there is no GPU."""
    import os

    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidia0")


@dataclass(frozen=True)
class DeviceSetup:
    device: torch.device
    autocast_dtype: torch.dtype | None  # None: full fp32
    description: str

    @property
    def needs_grad_scaler(self) -> bool:
        import torch

        return self.autocast_dtype == torch.float16

    def autocast(self):
        """The autocast context for forward passes (a no-op in fp32)."""
        import torch

        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)


def resolve_device(name: str = "auto", precision: str = "auto") -> DeviceSetup:
    """``name``: auto, cpu, cuda or cuda:N. ``precision``: auto, fp32, bf16 or fp16."""
    from ..optional import require

    torch = require("torch", f"--device {name}" if name not in ("auto", "cpu") else "training")

    name = (name or "auto").lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {name}: torch sees no CUDA GPU (torch {torch.__version__})",
                         "use --device cpu, or install a CUDA build of torch")
    if name != "cpu" and not name.startswith("cuda"):
        raise InputError(f"unknown device: {name!r}", f"use one of {', '.join(DEVICE_CHOICES)}")
    device = torch.device(name)
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise InputError(f"unknown precision: {precision!r}", "use auto, fp32, bf16 or fp16")
    dtype = None
    if device.type == "cuda":
        if precision == "auto":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        description = f"{device} ({torch.cuda.get_device_name(device)}, {precision})"
    else:
        description = f"cpu ({torch.get_num_threads()} threads, fp32)"
    return DeviceSetup(device, dtype, description)


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
