"""A batch of equal-length upper lines laid out as rows for the constrained search: one row per
position that takes a lower character, with its group leader (the first position holding the same
character), the model's hidden state and, once computed, its logits."""
from __future__ import annotations

import numpy as np


def codepoints(lines: list[str], length: int) -> np.ndarray:
    """Lines of ``length`` characters -> (B, T) uint32 codepoints."""
    return np.frombuffer("".join(lines).encode("utf-32-le"), dtype=np.uint32).reshape(len(lines), length).copy()


def strings(codepoints: np.ndarray) -> list[str]:
    """(B, T) codepoints -> B strings."""
    length = codepoints.shape[1]
    text = np.ascontiguousarray(codepoints, dtype=np.uint32).tobytes().decode("utf-32-le")
    return [text[i:i + length] for i in range(0, len(text), length)]


class Layout:
    """A batch of equal-length lines laid out as rows, one per position that takes a lower character
    (punctuation is copied), with the model's hidden state at each row."""

    def __init__(self, lines: list[str], ids: np.ndarray, punctuation, network):
        batch, length = ids.shape
        self.lines, self.ids = lines, ids  # ids: (B, T)
        self.chars = codepoints(lines, length)  # (B, T)
        self.free = ~punctuation(self.chars)  # (B, T): positions that take a lower character
        # each position's group leader: the first position of its line holding the same character
        self.leader = (self.chars[:, :, None] == self.chars[:, None, :]).argmax(-1)  # (B, T)
        self.row_of = np.full((batch, length), -1, dtype=np.int64)  # (B, T): the row of a free position
        self.line_of, self.position_of = np.nonzero(self.free)  # (N,) each: the rows, line by line
        self.row_of[self.line_of, self.position_of] = np.arange(len(self.line_of))
        self.leader_row = self.row_of[self.line_of, self.leader[self.line_of, self.position_of]]  # (N,)
        self.is_leader = self.leader_row == np.arange(len(self.line_of))  # (N,)
        self.upper_ids = ids[self.line_of, self.position_of]  # (N,)
        self.hidden = network.encode(ids)[self.line_of, self.position_of]  # (N, C)
        self.logits: np.ndarray | None = None  # (N, K) over the shortlist row ``columns``, or (N, V)
        self.columns: np.ndarray | None = None  # (N, K)


def logsumexp(x: np.ndarray) -> np.ndarray:
    top = x.max(-1, keepdims=True)
    return (top + np.log(np.exp(x - top).sum(-1, keepdims=True)))[..., 0]
