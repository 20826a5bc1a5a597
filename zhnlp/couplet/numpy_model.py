"""The couplet CNN's forward pass in numpy, for answering on the CPU without importing torch.

Importing torch takes about a second; a `zhnlp couplet "..."` call on the CPU needs only this:
an embedding lookup, the gated residual convolutions (each one matrix product over the k shifted
inputs side by side) and the output layer, on the weights of a model folder. ``tests/test_couplet.py`` checks it
against the PyTorch model (zhnlp/couplet/model.py, zhnlp/nn/gated_cnn.py) on random weights.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .folder import WEIGHTS_FILE, CoupletConfig, read_folder


class NumpyCouplet:
    def __init__(self, config: CoupletConfig, weights: dict[str, np.ndarray]):
        self.config = config
        self.embedding = weights["embedding.weight"]  # (V, C)
        self.convolutions = []  # per layer: (dilation, (k C, 2C) weight, (2C,) bias)
        for i, dilation in enumerate(config.dilations):
            kernel = weights[f"encoder.layers.{i}.conv.weight"]  # (2C, C, k), as torch's Conv1d
            stacked = np.ascontiguousarray(kernel.transpose(2, 1, 0).reshape(-1, kernel.shape[0]))  # (k C, 2C)
            self.convolutions.append((dilation, stacked, weights[f"encoder.layers.{i}.conv.bias"]))
        self.output_weight = np.ascontiguousarray(weights["output.weight"].T)  # (C, V)
        self.output_bias = weights["output.bias"]  # (V,)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> tuple["NumpyCouplet", list[str]]:
        from safetensors.numpy import load_file

        config, vocab = read_folder(directory)
        weights = {k: v.astype(np.float32) for k, v in load_file(str(Path(directory) / WEIGHTS_FILE)).items()}
        return cls(config, weights), vocab

    def encode(self, input_ids: np.ndarray) -> np.ndarray:
        """(B, T) ids, 0 = padding -> (B, T, C) hidden states."""
        mask = (input_ids != 0)[..., None].astype(np.float32)  # (B, T, 1)
        x = self.embedding[input_ids]  # (B, T, C)
        length = x.shape[1]
        kernel_size = self.config.kernel_size
        for dilation, weight, bias in self.convolutions:
            x = x * mask
            pad = dilation * (kernel_size - 1) // 2
            padded = np.pad(x, ((0, 0), (pad, pad), (0, 0)))  # (B, T + 2 pad, C)
            windows = np.concatenate([padded[:, j * dilation:j * dilation + length] for j in range(kernel_size)],
                                     axis=-1)  # (B, T, k C): what the convolution sees at each position
            hg = (windows.reshape(-1, windows.shape[-1]) @ weight).reshape(*x.shape[:2], -1) + bias  # (B, T, 2C)
            h, g = np.split(hg, 2, axis=-1)  # (B, T, C) each
            gate = 1.0 / (1.0 + np.exp(-g))
            x = x * gate + h * (1.0 - gate)
        return x * mask

    def logits(self, hidden: np.ndarray) -> np.ndarray:
        """(..., C) hidden states -> (..., V) logits."""
        # one 2-D product: numpy would loop over leading dimensions with small ones
        flat = hidden.reshape(-1, hidden.shape[-1]) @ self.output_weight + self.output_bias
        return flat.reshape(*hidden.shape[:-1], -1)
