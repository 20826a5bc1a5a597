"""The trainer's settings, with the reason for each default. Imports nothing heavy, so that the CLI can
show these defaults in --help without loading numpy or torch."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError


@dataclass
class TrainerConfig:
    max_steps: int = 10_000  # optimiser steps in all, counting those before a resume
    lr: float = 5e-4  # peak learning rate, after warm-up
    weight_decay: float = 0.01  # AdamW's, on matrices only (not biases and norms)
    warmup_steps: int = 500  # linear warm-up, then linear decay to 0 at max_steps
    grad_clip: float = 1.0  # largest gradient norm (0: no clipping)
    grad_accumulation: int = 1  # batches per optimiser step: a batch this many times larger, in the same memory
    device: str = "auto"
    precision: str = "auto"  # bf16/fp16 autocast on CUDA, fp32 on the CPU
    seed: int = 0
    save_every: int = 500  # steps between checkpoints
    eval_every: int = 0  # steps between evaluations (0: only at the end)
    metric: str = ""  # key of evaluate()'s result to keep the best model by; "": keep the last
    metric_mode: str = "max"  # "max": higher is better (accuracy); "min": lower is better (a loss)
    patience: int = 0  # stop after this many evaluations without a better metric (0: never stop early)
    ema_decay: float = 0.0  # 0: off; 0.999 as Su's extraction recipe: evaluate and export averaged weights
    adversarial: str | None = None  # "fgm": train on embedding-perturbed inputs too (对抗训练浅谈)
    epsilon: float = 0.5  # FGM's step: the perturbation is epsilon * g / ||g|| on the embedding matrix
    prefetch: int = 2  # batches prepared ahead on a background thread (0: none)

    def check(self) -> None:
        if self.adversarial not in (None, "fgm"):
            raise InputError(f"unknown adversarial training: {self.adversarial!r}", "use --adversarial fgm")
        if self.metric_mode not in ("max", "min"):
            raise InputError(f"unknown metric mode: {self.metric_mode!r}", "use max (higher is better) or min")
        if self.grad_accumulation < 1:
            raise InputError(f"gradient accumulation {self.grad_accumulation} is below 1", "use 1 or more")
        if not 0.0 <= self.ema_decay < 1.0:
            raise InputError(f"EMA decay {self.ema_decay} is outside [0, 1)", "use e.g. 0.999, or 0 for none")
