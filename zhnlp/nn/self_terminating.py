"""The self-terminating output layer of Welleck et al. 2020 ("Consistency of a Recurrent Language
Model With Respect to Incomplete Decoding"; 如何应对Seq2Seq中的"根本停不下来"问题,
kexue.fm/archives/7500): the end token's probability grows with the step, so that every decode ends.

With a_t = sigmoid(u . h_t) per step, p(end at step t) = 1 - prod_{s <= t} (1 - eps) a_s, which is at
least 1 - (1 - eps)^(t+1); the other tokens share the rest, softmax-weighted. The running product is
a cumulative sum of logs over the positions, so training computes all positions at once; a decoder
stepping one token at a time carries the sum in its state (``log_keep``).
"""
from __future__ import annotations

import torch
from torch import nn


class SelfTerminatingOutput(nn.Module):
    def __init__(self, hidden_size: int, vocab_size: int, eos_id: int, epsilon: float = 1e-3):
        super().__init__()
        if not 0.0 < epsilon < 1.0:
            raise ValueError(f"epsilon must be in (0, 1), not {epsilon}")
        self.tokens = nn.Linear(hidden_size, vocab_size)  # logits of every token; the end token's is unused
        self.keep = nn.Linear(hidden_size, 1)  # u . h_t: how much the sequence wants to go on
        self.eos_id = eos_id
        self.log_one_minus_epsilon = float(torch.log1p(torch.tensor(-epsilon)))

    def forward(self, hidden: torch.Tensor, log_keep: torch.Tensor | None = None):
        """hidden: (B, T, C) -> (log-probabilities (B, T, V), log_keep (B,) after the last position).
        ``log_keep``: the sum carried from earlier steps (None: the sequence starts here)."""
        step_keep = self.log_one_minus_epsilon + nn.functional.logsigmoid(self.keep(hidden).squeeze(-1).float())
        # step_keep: (B, T), log (1 - eps) a_t
        cumulative = torch.cumsum(step_keep, dim=1)  # (B, T): log prod (1 - eps) a_s
        if log_keep is not None:
            cumulative = cumulative + log_keep[:, None]
        log_p_end = torch.log((-torch.expm1(cumulative)).clamp(min=1e-30))  # log(1 - prod): cumulative < 0
        logits = self.tokens(hidden).float()  # (B, T, V)
        logits[..., self.eos_id] = -torch.inf
        log_probs = torch.log_softmax(logits, dim=-1) + cumulative[..., None]  # the rest shares prod ... a_s
        log_probs[..., self.eos_id] = log_p_end
        return log_probs, cumulative[:, -1]
