"""An exponential moving average of a model's weights, as Su's extraction recipe evaluates with
(用bert4keras做三元组抽取: ``ExponentialMovingAverage(0.999)``, applied for evaluation and export).

After every optimiser step each trainable weight's shadow becomes ``decay * shadow + (1 - decay) *
weight``; ``applied(model)`` swaps the shadows in for a block (evaluation, export) and back.
"""
from __future__ import annotations

import contextlib


class ExponentialMovingAverage:
    def __init__(self, model, decay: float):
        import torch

        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), not {decay}")
        self.decay = decay
        with torch.no_grad():
            self.shadow = {name: p.detach().clone().float() for name, p in model.named_parameters() if p.requires_grad}

    def update(self, model) -> None:
        import torch

        with torch.no_grad():
            for name, p in model.named_parameters():
                if name in self.shadow:
                    self.shadow[name].mul_(self.decay).add_(p.detach().float(), alpha=1.0 - self.decay)

    @contextlib.contextmanager
    def applied(self, model):
        """The model with the averaged weights inside the block, its own weights after it."""
        import torch

        saved = {}
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name in self.shadow:
                    saved[name] = p.detach().clone()
                    p.copy_(self.shadow[name].to(p.dtype))
        try:
            yield model
        finally:
            with torch.no_grad():
                for name, p in model.named_parameters():
                    if name in saved:
                        p.copy_(saved[name])

    def state_dict(self) -> dict:
        return {name: tensor.cpu().contiguous() for name, tensor in self.shadow.items()}

    def load_state_dict(self, state: dict) -> None:
        for name, tensor in state.items():
            if name in self.shadow:
                self.shadow[name].copy_(tensor)
