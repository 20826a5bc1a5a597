"""The light triple extractor's forward pass in numpy, for extracting on the CPU without importing
torch (which alone takes longer than a cold call may): the same embeddings, gated convolutions
(zhnlp/nn_numpy.py), self-attention, conditional LayerNorm and pointers as model.py, on the weights
of a model folder; tests check it against the PyTorch model."""
from __future__ import annotations

import numpy as np

from ..nn_numpy import NumpyGatedStack, sigmoid
from .folder import TripleConfig


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    return centred / np.sqrt((centred * centred).mean(-1, keepdims=True) + eps) * weight + bias


class NumpyTripleModel:
    runs_in_numpy = True  # extract_batch hands it numpy arrays, no torch

    def __init__(self, config: TripleConfig, weights: dict[str, np.ndarray]):
        self.config = config
        w = {k: v.astype(np.float32) for k, v in weights.items()}
        self.embedding, self.positions = w["embedding.weight"], w["positions.weight"]
        if config.word_vocab_size:  # each word's vector already projected: one row to add per character
            self.words = w["words.weight"] @ w["word_projection.weight"].T  # (words, C)
        self.encoder = NumpyGatedStack(w, "encoder", config.dilations, config.kernel_size)
        self.in_proj = (w["attention.in_proj_weight"].T.copy(), w["attention.in_proj_bias"])  # (C, 3C)
        self.out_proj = (w["attention.out_proj.weight"].T.copy(), w["attention.out_proj.bias"])
        self.subject_head = (w["subject_head.weight"].T.copy(), w["subject_head.bias"])
        self.norm = (w["condition.norm.weight"], w["condition.norm.bias"])
        self.scale, self.shift = w["condition.scale.weight"].T.copy(), w["condition.shift.weight"].T.copy()  # (2C, C)
        self.object_hidden = (w["object_hidden.weight"].T.copy(), w["object_hidden.bias"])
        self.object_head = (w["object_head.weight"].T.copy(), w["object_head.bias"])
        if config.known_triples:  # distant supervision's projections (model.py)
            self.known_input, self.known_output = w["known_input.weight"].T.copy(), w["known_output.weight"].T.copy()
            self.known_objects, self.known_shift = w["known_objects.weight"].T.copy(), w["known_shift"]  # (2P, C), (2P,)

    def encode(self, input_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, T) character ids, or (B, T, K) columns as model.py's; 0 = padding -> (encoding
        (B, T, C), mask (B, T))."""
        chars = input_ids[..., 0] if input_ids.ndim == 3 else input_ids
        mask = chars != 0
        x = self.embedding[chars] + self.positions[np.arange(chars.shape[1])][None]
        if self.config.word_vocab_size:
            x += self.words[input_ids[..., 1]]
        if self.config.known_triples:
            marks = input_ids[..., -2:].astype(np.float32)  # (B, T, 2)
            x += marks @ self.known_input
        encoded = self.encoder(x.astype(np.float32), mask[..., None].astype(np.float32))
        if self.config.known_triples:
            encoded += marks @ self.known_output
        return encoded, mask

    def subject_probs(self, encoded: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length, channels = encoded.shape
        heads = self.config.attention_heads
        size = channels // heads
        qkv = encoded.reshape(-1, channels) @ self.in_proj[0] + self.in_proj[1]  # (B T, 3C)
        qkv[:, :channels] *= 1 / np.sqrt(size)
        q, k, v = (qkv[:, i * channels:(i + 1) * channels].reshape(batch, length, heads, size).transpose(0, 2, 1, 3)
                   for i in range(3))  # (B, heads, T, size)
        # the softmax in place on the (B, heads, T, T) scores, its division done on the (B, heads, T, size) result
        scores = q @ k.transpose(0, 1, 3, 2)  # (B, heads, T, T)
        scores += np.where(mask, 0.0, -1e30).astype(np.float32)[:, None, None, :]
        scores -= scores.max(-1, keepdims=True)
        np.exp(scores, out=scores)
        attended = scores @ v  # (B, heads, T, size)
        attended /= scores.sum(-1, keepdims=True)
        attended = attended.transpose(0, 2, 1, 3).reshape(-1, channels) @ self.out_proj[0] + self.out_proj[1]
        logits = (encoded.reshape(-1, channels) + attended) @ self.subject_head[0] + self.subject_head[1]
        return (sigmoid(logits) ** 2).reshape(batch, length, 2)

    def object_probs(self, encoded: np.ndarray, subject_spans: np.ndarray,
                     known_objects: np.ndarray | None = None) -> np.ndarray:
        """subject_spans: (N, 2); known_objects: (N, T, P, 2) with distant supervision -> (N, T, P, 2)."""
        rows = np.arange(len(encoded))
        condition = np.concatenate([encoded[rows, subject_spans[:, 0]], encoded[rows, subject_spans[:, 1]]], -1)
        normed = _layer_norm(encoded, *self.norm)
        conditioned = normed * (1 + (condition @ self.scale)[:, None]) + (condition @ self.shift)[:, None]
        marked = np.zeros(0, dtype=np.int64)
        if self.config.known_triples:  # most subjects have no found object: only the rows that have one
            known = known_objects.reshape(*known_objects.shape[:2], -1).astype(np.float32)  # (N, T, 2P)
            marked = np.flatnonzero(known.any(axis=(1, 2)))
            conditioned[marked] += known[marked] @ self.known_objects
        hidden = np.maximum(conditioned @ self.object_hidden[0] + self.object_hidden[1], 0.0)
        logits = hidden @ self.object_head[0] + self.object_head[1]  # (N, T, 2P)
        if len(marked):
            logits[marked] += known[marked] * self.known_shift
        return (sigmoid(logits) ** 4).reshape(*logits.shape[:2], self.config.num_predicates, 2)
