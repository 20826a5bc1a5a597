"""Couplets by CNN sequence labelling (基于CNN和序列标注的对联机器人, kexue.fm/archives/6270).

The modules, by job: ``folder`` (the model folder and --model), ``defaults`` (the recipe's
numbers), ``data`` (pairs and batches), ``model`` (the PyTorch CNN, for training and GPUs),
``numpy_model`` (its forward pass in numpy, for the CPU), ``decode`` (the rules and the exact
n-best search), ``layout`` (a batch of lines as rows), ``batching`` (waves and thread pools),
``torch_network`` (the PyTorch model behind numpy's interface), ``couplet`` (the ``Couplet`` API),
``shortlist``, ``memory``, ``tones``, ``train``.

Importing this package imports nothing until a name is used, and never torch: answering on the CPU
runs in numpy; the PyTorch model is loaded on first use, for training and for GPUs.
"""
from __future__ import annotations

from .._lazy import lazy_names

_LAZY = {
    "Couplet": ".couplet", "CoupletAnswer": ".couplet",
    "CoupletConfig": ".folder", "default_model_dir": ".folder",
    "CoupletModel": ".model",
    "CoupletMemory": ".memory", "build_memory": ".memory",
    "constrained_decode": ".decode", "plain_decode": ".decode", "rule_violations": ".decode",
    "couplet_trainer_config": ".train", "evaluate_couplet": ".train", "score_lines": ".train",
    "train_couplet": ".train",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_names(globals(), _LAZY)
