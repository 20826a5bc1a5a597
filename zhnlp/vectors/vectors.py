"""A vectors folder: config.json (``model_type: vectors``), vocab.txt (one token a line) and
vectors.safetensors (``vectors``: (N, D) float32), read without gensim or torch.

``Vectors.fill(matrix, vocab)`` copies the vector of every token of a model's vocabulary that has
one into its row of the embedding matrix (a numpy array or a torch tensor, changed in place), leaves
the other rows as the model initialised them, and says how many of each there were.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

MODEL_TYPE = "vectors"
CONFIG_FILE, VOCAB_FILE, VECTORS_FILE = "config.json", "vocab.txt", "vectors.safetensors"


@dataclass
class FillReport:
    filled: int  # rows set from a vector
    unknown: int  # rows left as initialised (no vector for the token)
    unknown_examples: list[str]  # a few of the tokens without a vector

    def __str__(self) -> str:
        return f"{self.filled:,} rows from vectors, {self.unknown:,} left as initialised"


class Vectors:
    def __init__(self, tokens: list[str], matrix: np.ndarray, config: dict | None = None):
        if len(tokens) != len(matrix):
            raise ValueError(f"{len(tokens)} tokens but {len(matrix)} vectors")
        self.tokens = tokens
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)  # (N, D)
        self.index = {token: i for i, token in enumerate(tokens)}
        self.config = config or {}

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def __getitem__(self, token: str) -> np.ndarray:
        return self.matrix[self.index[token]]

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]

    def similarity(self, a: str, b: str) -> float:
        u, v = self[a], self[b]
        return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12))

    def most_similar(self, token: str, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` tokens nearest ``token`` by cosine, nearest first."""
        if token not in self.index:
            raise InputError(f"no vector for {token!r}", "give a token of the vectors' vocab.txt")
        unit = self.matrix / (np.linalg.norm(self.matrix, axis=1, keepdims=True) + 1e-12)  # (N, D)
        scores = unit @ unit[self.index[token]]  # (N,)
        scores[self.index[token]] = -np.inf
        best = np.argsort(-scores)[:n]
        return [(self.tokens[i], float(scores[i])) for i in best]

    def fill(self, matrix, vocab: list[str], scale: float | None = None) -> FillReport:
        """Copy vectors into the rows of ``matrix`` (V, D) whose ``vocab`` token has one, in place.
        ``scale``: rescale the vectors to this standard deviation (e.g. the model's init's), or None."""
        if len(vocab) != matrix.shape[0]:
            raise InputError(f"the embedding matrix has {matrix.shape[0]} rows but the vocabulary {len(vocab)} tokens",
                             "give the vocabulary the model was built with")
        if matrix.shape[1] != self.dim:
            raise InputError(f"the vectors have {self.dim} dimensions but the embedding {matrix.shape[1]}",
                             f"train vectors with --dim {matrix.shape[1]}, or build the model with width {self.dim}")
        rows = [i for i, token in enumerate(vocab) if token in self.index]
        found = self.matrix[[self.index[vocab[i]] for i in rows]] if rows else np.zeros((0, self.dim), np.float32)
        if scale is not None and len(found):
            found = found * (scale / (found.std() + 1e-12))
        if hasattr(matrix, "detach"):  # a torch tensor (an nn.Embedding's weight)
            import torch

            with torch.no_grad():
                matrix[rows] = torch.from_numpy(found).to(matrix.device, matrix.dtype)
        else:
            matrix[rows] = found
        missing = [token for token in vocab if token not in self.index]
        return FillReport(len(rows), len(missing), missing[:10])

    # ------------------------------------------------------------------ folders
    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        from safetensors.numpy import save_file

        from .. import __version__
        from ..outputs import atomic_path, write_text

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / VECTORS_FILE) as tmp:
            save_file({"vectors": self.matrix}, str(tmp))
        write_text(directory / VOCAB_FILE, "".join(token + "\n" for token in self.tokens))
        config = {**self.config, "model_type": MODEL_TYPE, "dim": self.dim, "size": len(self), "zhnlp_version": __version__}
        write_text(directory / CONFIG_FILE, json.dumps(config, indent=1, ensure_ascii=False) + "\n")
        return directory

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike) -> "Vectors":
        from safetensors.numpy import load_file

        from ..hub import resolve_model

        folder = resolve_model(name_or_path, required=(CONFIG_FILE, VOCAB_FILE, VECTORS_FILE), what="vectors",
                               expected=MODEL_TYPE)
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        tokens = (folder / VOCAB_FILE).read_text(encoding="utf-8").split("\n")[:-1]
        matrix = load_file(str(folder / VECTORS_FILE)).get("vectors")
        if matrix is None or matrix.ndim != 2 or len(matrix) != len(tokens):
            raise InputError(f"{folder / VECTORS_FILE} does not hold one vector per line of {VOCAB_FILE}",
                             "train the folder again: zhnlp vectors train CORPUS --vocab VOCAB -o DIR")
        return cls(tokens, matrix, config)
