"""Couplets by CNN sequence labelling (基于CNN和序列标注的对联机器人, kexue.fm/archives/6270).

Importing this package does not import torch: answering on the CPU runs in numpy; the PyTorch
model (``CoupletModel``) is loaded on first use, for training and for GPUs.
"""
from __future__ import annotations

from .couplet import Couplet, CoupletAnswer, default_model_dir
from .decode import constrained_decode, plain_decode, rule_violations
from .folder import CoupletConfig
from .memory import CoupletMemory, build_memory
from .train import evaluate_couplet, score_lines, train_couplet

__all__ = ["Couplet", "CoupletAnswer", "CoupletConfig", "CoupletMemory", "CoupletModel", "build_memory",
           "constrained_decode", "default_model_dir", "evaluate_couplet", "plain_decode", "rule_violations",
           "score_lines", "train_couplet"]


def __getattr__(name: str):
    if name == "CoupletModel":
        from .model import CoupletModel

        return CoupletModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
