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


ENCODE_POSITIONS = 1024


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
        # (V, C+1): each output vector and its bias, a shortlist's rows gathered from it
        self.output_with_bias = np.ascontiguousarray(np.c_[weights["output.weight"], self.output_bias])

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> tuple["NumpyCouplet", list[str]]:
        from safetensors.numpy import load_file

        config, vocab = read_folder(directory)
        weights = {k: v.astype(np.float32) for k, v in load_file(str(Path(directory) / WEIGHTS_FILE)).items()}
        return cls(config, weights), vocab

    def encode(self, input_ids: np.ndarray) -> np.ndarray:
        """(B, T) ids, 0 = padding -> (B, T, C) hidden states, a slice of lines at a time: about
        ENCODE_POSITIONS positions keep each layer's arrays in the core's cache (20% faster per line
        here than 5,000 positions at once)."""
        lines = max(1, ENCODE_POSITIONS // max(1, input_ids.shape[1]))
        if len(input_ids) <= lines:
            return self._encode(input_ids)
        out = np.empty((*input_ids.shape, self.config.embedding_dim), dtype=np.float32)  # (B, T, C)
        for start in range(0, len(input_ids), lines):
            out[start:start + lines] = self._encode(input_ids[start:start + lines])
        return out

    def _encode(self, input_ids: np.ndarray) -> np.ndarray:
        mask = (input_ids != 0)[..., None].astype(np.float32) if (input_ids == 0).any() else None  # (B, T, 1)
        x = self.embedding[input_ids]  # (B, T, C)
        batch, length, channels = x.shape
        kernel_size = self.config.kernel_size
        # what the convolution sees at each position: the k shifted inputs side by side, zero beyond the ends
        windows = np.empty((batch, length, kernel_size * channels), dtype=np.float32)  # (B, T, k C)
        for dilation, weight, bias in self.convolutions:
            if mask is not None:
                x = x * mask
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
            hg = windows.reshape(-1, windows.shape[-1]) @ weight  # (B T, 2C)
            hg += bias
            h, g = hg[:, :channels], hg[:, channels:]  # (B T, C) each
            np.negative(g, out=g)  # g becomes the gate σ(g) = 1 / (1 + e^-g), in place
            np.exp(g, out=g)
            g += 1.0
            np.reciprocal(g, out=g)
            x = x.reshape(-1, channels) - h  # x·σ + h·(1 − σ) = h + (x − h)·σ
            x *= g
            x += h
            x = x.reshape(batch, length, channels)
        return x if mask is None else x * mask

    def logits(self, hidden: np.ndarray) -> np.ndarray:
        """(..., C) hidden states -> (..., V) logits."""
        # one 2-D product: numpy would loop over leading dimensions with small ones
        flat = hidden.reshape(-1, hidden.shape[-1]) @ self.output_weight + self.output_bias
        return flat.reshape(*hidden.shape[:-1], -1)

    def shortlisted_logits(self, hidden: np.ndarray, upper_ids: np.ndarray, shortlist: np.ndarray,
                           pool=None, parts: int = 1) -> np.ndarray:
        """(N, C) hidden states at positions holding ``upper_ids`` (N,) -> (N, K) logits of each
        position's shortlist row ``shortlist[upper_ids]``: one (n, C+1) x (C+1, K) product per distinct
        upper character (the bias as one more input), whose rows share the K output vectors. With a
        ``pool``: the distinct characters in ``parts`` parts of about equal numbers of rows."""
        count, channels = hidden.shape
        size = shortlist.shape[1]
        order = np.argsort(upper_ids, kind="stable")
        ordered = upper_ids[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if count else ordered
        ends = np.r_[starts[1:], count].astype(np.int64)
        inputs = np.empty((count, channels + 1), dtype=np.float32)  # (N, C+1), rows by upper character
        np.take(hidden, order, axis=0, out=inputs[:, :channels])
        inputs[:, channels] = 1.0
        grouped = np.empty((count, size), dtype=np.float32)  # (N, K), rows by upper character

        def products(groups: range) -> None:  # parts write disjoint rows of ``grouped``
            vectors = np.empty((size, channels + 1), dtype=np.float32)  # (K, C+1)
            for start, end in zip(starts[groups].tolist(), ends[groups].tolist()):
                np.take(self.output_with_bias, shortlist[ordered[start]], axis=0, out=vectors)
                np.matmul(inputs[start:end], vectors.T, out=grouped[start:end])

        cuts = np.searchsorted(starts, np.linspace(0, count, parts + 1)[1:-1]).tolist() if pool else []
        bounds = [0, *cuts, len(starts)]
        list((pool or _Inline).map(products, [range(a, b) for a, b in zip(bounds[:-1], bounds[1:])]))
        out = np.empty_like(grouped)
        out[order] = grouped
        return out


class _Inline:
    map = staticmethod(map)
