"""The couplet CNN's forward pass in numpy, for answering on the CPU without importing torch.

Importing torch takes about a second; a `zhnlp couplet "..."` call on the CPU needs only this:
an embedding lookup, the gated residual convolutions (zhnlp/nn_numpy.py) and the output layer, on the weights of a model folder. ``tests/test_couplet.py`` checks it
against the PyTorch model (zhnlp/couplet/model.py, zhnlp/nn/gated_cnn.py) on random weights.
"""
from __future__ import annotations

import os

import numpy as np

from ..nn_numpy import NumpyGatedStack
from .contexts import context_ids
from .folder import CoupletConfig, load_weights, read_folder, resolve_folder


ENCODE_POSITIONS = 1024  # positions encoded at once: each layer's arrays then fit a core's cache
GROUPS_PER_PRODUCT = 64  # shortlists gathered for one stacked product: 64 x 128 x 128 floats, 4 MB


class NumpyCouplet:
    def __init__(self, config: CoupletConfig, weights: dict[str, np.ndarray], vocab: list[str] | None = None):
        self.config = config
        self.vocab = vocab
        self.embedding = weights["embedding.weight"]  # (V, C)
        self.convolutions = NumpyGatedStack(weights, "encoder", config.dilations, config.kernel_size)
        self.output_weight = np.ascontiguousarray(weights["output.weight"].T)  # (C, V)
        self.output_rows = np.ascontiguousarray(weights["output.weight"])  # (V, C): a shortlist's rows gathered
        self.output_bias = weights["output.bias"]  # (V,)
        if config.context_buckets:
            self.context_table = weights["context_embedding.weight"]  # (buckets, D)
            self.context_output = np.ascontiguousarray(weights["context_output.weight"].T)  # (D, C)
            self.context_input = (np.ascontiguousarray(weights["context_input.weight"].T)  # (D, C)
                                  if config.context_input else None)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None) -> "NumpyCouplet":
        """The network of a couplet folder (None: the shipped one), its vocabulary in ``.vocab``."""
        directory = resolve_folder(name_or_path)
        config, vocab = read_folder(directory)
        return cls(config, load_weights(directory, config), vocab)

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
        config = self.config
        if not config.context_buckets:
            return self.convolutions(self.embedding[input_ids], mask)  # (B, T, C)
        rows = context_ids(input_ids, config.context_windows, config.context_buckets)  # (B, T, F)
        context = np.take(self.context_table, rows[..., 0], axis=0)  # (B, T, D); np.take: 3x faster than [rows]
        for feature in range(1, rows.shape[-1]):
            context += np.take(self.context_table, rows[..., feature], axis=0)
        x = self.embedding[input_ids]  # (B, T, C)
        if self.context_input is not None:
            x = x + context @ self.context_input
        hidden = self.convolutions(x, mask)
        hidden += context @ self.context_output
        if mask is not None:
            hidden *= mask
        return hidden  # (B, T, C)

    def logits(self, hidden: np.ndarray) -> np.ndarray:
        """(..., C) hidden states -> (..., V) logits."""
        # one 2-D product: numpy would loop over leading dimensions with small ones
        flat = hidden.reshape(-1, hidden.shape[-1]) @ self.output_weight + self.output_bias
        return flat.reshape(*hidden.shape[:-1], -1)

    def shortlisted_logits(self, hidden: np.ndarray, upper_ids: np.ndarray, shortlist: np.ndarray,
                           pool=None, parts: int = 1) -> np.ndarray:
        """(N, C) hidden states at positions holding ``upper_ids`` (N,) -> (N, K) logits of each
        position's shortlist row ``shortlist[upper_ids]``. The rows of one upper character share its
        K output vectors: one (n, C) x (C, K) product per distinct character, and the characters held
        by the same number n of rows go through one stacked product, GROUPS_PER_PRODUCT at most.
        With a ``pool``: the products in ``parts`` parts, on its threads."""
        count, channels = hidden.shape
        size = shortlist.shape[1]
        chars, inverse, counts = np.unique(upper_ids, return_inverse=True, return_counts=True)
        group_order = np.lexsort((chars, counts))  # the distinct characters by (rows, character)
        chars, counts = chars[group_order], counts[group_order]
        rank = np.empty_like(group_order)
        rank[group_order] = np.arange(len(group_order))
        order = np.argsort(rank[inverse.ravel()], kind="stable")  # rows, their characters' groups in that order
        inputs = hidden[order]  # (N, C), rows in ``order``
        grouped = np.empty((count, size), dtype=np.float32)  # (N, K), rows in ``order``
        group_starts = np.r_[0, np.cumsum(counts)]  # (G+1,): each character's first row
        # runs of characters with the same number of rows, GROUPS_PER_PRODUCT characters at most
        same_count = np.flatnonzero(np.r_[True, counts[1:] != counts[:-1]]).tolist() + [len(chars)]
        runs = [(first, min(first + GROUPS_PER_PRODUCT, end)) for begin, end in zip(same_count[:-1], same_count[1:])
                for first in range(begin, end, GROUPS_PER_PRODUCT)]

        def multiply(part: list[tuple[int, int]]) -> None:  # runs write disjoint rows of ``grouped``
            for first, last in part:
                rows = int(counts[first])
                start, end = int(group_starts[first]), int(group_starts[last])
                columns = shortlist[chars[first:last]]  # (g, K)
                products = grouped[start:end].reshape(last - first, rows, size)  # (g, n, K)
                np.matmul(inputs[start:end].reshape(last - first, rows, channels),
                          self.output_rows[columns].transpose(0, 2, 1), out=products)  # (g, n, C) x (g, C, K)
                products += self.output_bias[columns][:, None, :]

        parts = max(1, min(parts if pool else 1, len(runs)))
        list((pool.map if pool else map)(multiply, [runs[p::parts] for p in range(parts)]))
        out = np.empty_like(grouped)
        out[order] = grouped
        return out
