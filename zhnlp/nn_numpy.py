"""numpy twins of zhnlp.nn's blocks, for models that answer on the CPU without importing torch (the
couplet CNN, the triple extractor): the same arithmetic on the weights of the PyTorch modules, checked
against them by the models' tests."""
from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # no overflow warnings for large |x|


class NumpyGatedStack:
    """zhnlp.nn.GatedResidualStack in numpy: per layer [h, g] = Conv1D(x), x·σ(g) + h·(1 − σ(g)),
    each convolution one matrix product over the k shifted inputs side by side; padding zeroed
    before every convolution."""

    def __init__(self, weights: dict[str, np.ndarray], prefix: str, dilations, kernel_size: int):
        self.kernel_size = kernel_size
        self.layers = []  # per layer: (dilation, (k C, 2C) weight, (2C,) bias)
        for i, dilation in enumerate(dilations):
            kernel = weights[f"{prefix}.layers.{i}.conv.weight"]  # (2C, C, k), as torch's Conv1d
            stacked = np.ascontiguousarray(kernel.transpose(2, 1, 0).reshape(-1, kernel.shape[0]))  # (k C, 2C)
            self.layers.append((dilation, stacked, weights[f"{prefix}.layers.{i}.conv.bias"]))

    def __call__(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """x: (B, T, C) float32; mask: (B, T, 1) float32 with 1 at real positions, or None."""
        batch, length, channels = x.shape
        kernel_size = self.kernel_size
        # what the convolution sees at each position: the k shifted inputs side by side, zero beyond the ends
        windows = np.empty((batch, length, kernel_size * channels), dtype=np.float32)  # (B, T, k C)
        # every layer writes into the same buffers: fresh arrays of this size cost page faults each time
        hg = np.empty((batch * length, 2 * channels), dtype=np.float32)  # (B T, 2C)
        x = np.array(x, dtype=np.float32)  # a copy, updated in place
        flat = x.reshape(-1, channels)  # (B T, C), a view of x
        for dilation, weight, bias in self.layers:
            if mask is not None:
                x *= mask
            for j in range(kernel_size):
                shift = j * dilation - dilation * (kernel_size - 1) // 2  # input offset seen by tap j
                view = windows[:, :, j * channels:(j + 1) * channels]
                if shift < 0:
                    view[:, -shift:] = x[:, :length + shift]
                    view[:, :-shift] = 0.0
                elif shift > 0:
                    view[:, :length - shift] = x[:, shift:]
                    view[:, length - shift:] = 0.0
                else:
                    view[:] = x
            np.matmul(windows.reshape(-1, windows.shape[-1]), weight, out=hg)
            hg += bias
            h, g = hg[:, :channels], hg[:, channels:]  # (B T, C) each
            np.negative(g, out=g)  # g becomes the gate σ(g) = 1 / (1 + e^-g), in place
            np.exp(g, out=g)
            g += 1.0
            np.reciprocal(g, out=g)
            flat -= h  # x·σ + h·(1 − σ) = h + (x − h)·σ, in place
            flat *= g
            flat += h
        if mask is not None:
            x *= mask
        return x
