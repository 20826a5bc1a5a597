"""Decoding for every autoregressive model: greedy, beam search and sampling, on one step function,
with decodes that always end (如何应对Seq2Seq中的"根本停不下来"问题, kexue.fm/archives/7500; Welleck
et al. 2020, "Consistency of a Recurrent Language Model With Respect to Incomplete Decoding").

A model gives ``step(tokens, state) -> (logits, state)``: the tokens so far (N, t), its state (a KV
cache, a recurrent state, or None) and the next token's logits (N, V); ``reorder(state, rows)``
keeps the given rows of a state (beams chosen, inputs finished; by default every tensor in the
state is indexed along its first dimension). On it:

- every decode ends, at the end token or at ``max_length`` new tokens, and a hypothesis cut at
  ``max_length`` is flagged ``truncated``;
- beam search runs all inputs x beams as one batch, keeps finished hypotheses until no open beam can
  beat them (bert4keras returns at the first finished beam), with a length penalty and n-best output;
- sampling (temperature, top-k, top-p) is *consistent* by default: the end token always stays among
  the candidates, so a model whose end probability is bounded below terminates with probability 1,
  where the usual filters (HF's, bert4keras') can drop it and run to the limit;
- ``min_length``, ``no_repeat_ngram_size`` and a ``repetition_penalty`` (CTRL's) shape the logits;
- a model can make ending certain by construction with ``zhnlp.nn.SelfTerminatingOutput``.

The choosing is done in numpy, so that a model that runs in numpy (the light title model's CPU path,
which answers before torch could be imported) decodes with no torch at all. A torch model's step gets
torch tensors on its device and returns torch logits; one (N, V) copy to the host per step is all the
framework costs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import InputError


@dataclass
class GenerationConfig:
    max_length: int = 32  # new tokens at most; a hypothesis cut there is flagged truncated
    min_length: int = 1  # the end token is banned before this many new tokens
    num_beams: int = 1  # 1: greedy (or sampling)
    num_return: int = 1  # hypotheses returned per input, best first (at most num_beams for beam search)
    length_penalty: float = 1.0  # beam scores are log p / length ** penalty (0: raw log p)
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0  # 0: no top-k filter
    top_p: float = 1.0  # 1: no nucleus filter
    consistent: bool = True  # the end token always stays a candidate of top-k / top-p (Welleck et al.)
    no_repeat_ngram_size: int = 0  # 0: off; n: no n-gram of new tokens twice
    repetition_penalty: float = 1.0  # > 1 discourages tokens already generated (CTRL)
    seed: int | None = None  # sampling's generator seed

    def check(self) -> None:
        if self.max_length < 1 or self.min_length < 0 or self.num_beams < 1 or self.num_return < 1:
            raise InputError("max_length, num_beams and num_return must be 1 or more", "e.g. --beam 4 --max-length 32")
        if self.num_beams > 1 and self.num_return > self.num_beams:
            raise InputError(f"{self.num_return} hypotheses asked from {self.num_beams} beams",
                             "use -n no larger than --beam")
        if self.temperature <= 0 or not 0 < self.top_p <= 1 or self.top_k < 0 or self.repetition_penalty <= 0:
            raise InputError("temperature and repetition_penalty must be > 0, top_p in (0, 1], top_k >= 0",
                             "e.g. --temperature 0.8 --top-p 0.9")


@dataclass
class Hypothesis:
    tokens: list[int]  # the new tokens, the end token excluded
    score: float  # log-probability (beam search: divided by length ** length_penalty)
    truncated: bool  # cut at max_length before the end token


def reorder_state(state, rows):
    """Every array of ``state`` (torch tensors or numpy arrays, nested in tuples, lists and dicts)
    indexed by ``rows`` on dim 0."""
    if state is None:
        return None
    if hasattr(state, "index_select"):
        return state.index_select(0, rows)
    if isinstance(state, np.ndarray):
        return state[rows]
    if isinstance(state, (tuple, list)):
        return type(state)(reorder_state(s, rows) for s in state)
    if isinstance(state, dict):
        return {k: reorder_state(v, rows) for k, v in state.items()}
    return state


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """(N, V) -> log-probabilities, -inf entries kept."""
    top = logits.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    shifted = logits - top
    with np.errstate(divide="ignore"):
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def process_logits(logits: np.ndarray, generated: np.ndarray, config: GenerationConfig, eos_id: int,
                   new_tokens: int, normalized: bool = False) -> np.ndarray:
    """The penalties and bans on (N, V) logits, given the new tokens so far (N, t): repetition
    penalty, no-repeat n-grams, no end token before min_length. Returns log-probabilities.
    ``normalized``: the logits are log-probabilities already; when nothing changed them they are
    returned as they are (a softmax over the vocabulary saved per step)."""
    logits = np.asarray(logits, dtype=np.float32)
    writable = False

    def edit() -> np.ndarray:
        nonlocal logits, writable
        if not writable:  # a copy before the first change: the caller's array stays as it was
            logits, writable = logits.copy(), True
        return logits

    if config.repetition_penalty != 1.0 and generated.shape[1]:
        seen = np.take_along_axis(logits, generated, axis=1)
        seen = np.where(seen > 0, seen / config.repetition_penalty, seen * config.repetition_penalty)
        np.put_along_axis(edit(), generated, seen, axis=1)
    n = config.no_repeat_ngram_size
    if n and generated.shape[1] >= n:
        # every earlier n-gram whose first n-1 tokens are the last n-1: its last token is banned
        windows = np.lib.stride_tricks.sliding_window_view(generated, n, axis=1)  # (N, W, n)
        last = generated[:, generated.shape[1] - n + 1:]  # (N, n-1)
        rows, starts = np.nonzero((windows[:, :, :n - 1] == last[:, None, :]).all(-1))
        if len(rows):
            edit()[rows, windows[rows, starts, n - 1]] = -np.inf
    if new_tokens < config.min_length:
        edit()[:, eos_id] = -np.inf
    return logits if normalized and not writable else log_softmax(logits)


def filter_candidates(log_probs: np.ndarray, config: GenerationConfig, eos_id: int) -> np.ndarray:
    """Top-k and top-p on (N, V) log-probabilities: the rest set to -inf. ``consistent``: the end
    token is kept whatever its rank (Welleck et al.'s consistent top-k and nucleus sampling)."""
    vocab = log_probs.shape[1]
    keep = np.ones(log_probs.shape, dtype=bool)
    if config.top_k and config.top_k < vocab:
        kth = np.partition(log_probs, vocab - config.top_k, axis=1)[:, vocab - config.top_k][:, None]  # (N, 1)
        keep &= log_probs >= kth
    if config.top_p < 1.0:
        order = np.argsort(-log_probs, axis=1, kind="stable")
        probs = np.exp(np.take_along_axis(log_probs, order, axis=1))
        before = np.cumsum(probs, axis=1) - probs  # mass of the better tokens
        inside = np.zeros_like(keep)
        np.put_along_axis(inside, order, before < config.top_p, axis=1)
        keep &= inside
    if config.consistent:
        keep[:, eos_id] = True
    return np.where(keep, log_probs, -np.inf)


class _Framework:
    """What the step function speaks: numpy, or torch on the prefix's device."""

    def __init__(self, prefix, normalized: bool = False):
        self.normalized = normalized  # the step returns log-probabilities
        self.torch = not isinstance(prefix, np.ndarray)
        if self.torch:
            import torch

            self.module, self.device = torch, prefix.device

    def prefix(self, prefix) -> np.ndarray:
        return prefix.detach().cpu().numpy().astype(np.int64) if self.torch else np.asarray(prefix, dtype=np.int64)

    def tokens(self, tokens: np.ndarray):
        return self.module.from_numpy(tokens).to(self.device) if self.torch else tokens

    def rows(self, rows):
        rows = np.asarray(rows, dtype=np.int64)
        return self.module.from_numpy(rows).to(self.device) if self.torch else rows

    def logits(self, logits) -> np.ndarray:
        return logits.detach().float().cpu().numpy() if self.torch else np.asarray(logits, dtype=np.float32)

    def no_grad(self):
        import contextlib

        return self.module.no_grad() if self.torch else contextlib.nullcontext()


def generate(step: Callable, prefix, eos_id: int, config: GenerationConfig | None = None, state=None,
             reorder: Callable = reorder_state, normalized: bool = False) -> list[list[Hypothesis]]:
    """Decode every row of ``prefix`` (B, t0), a numpy array or a torch tensor: the tokens the model
    starts from (a start token, or for UniLM the source and [SEP]), with ``state`` from the model's
    encoder (or None). ``step`` and ``reorder`` get tokens and rows in the prefix's framework (and
    device). ``normalized``: the step returns log-probabilities, not logits. Returns, per row,
    ``config.num_return`` hypotheses, best first."""
    config = config or GenerationConfig()
    config.check()
    framework = _Framework(prefix, normalized)
    with framework.no_grad():  # decoding never needs gradients
        if config.num_beams > 1 and not config.do_sample:
            return _beam_search(step, prefix, eos_id, config, state, reorder, framework)
        return _one_path(step, prefix, eos_id, config, state, reorder, framework)


def _one_path(step, prefix, eos_id, config, state, reorder, framework) -> list[list[Hypothesis]]:
    """Greedy or sampled decoding; ``num_return`` > 1 samples that many per input."""
    prefix = framework.prefix(prefix)
    copies = config.num_return if config.do_sample else 1
    rows_of = np.repeat(np.arange(prefix.shape[0]), copies)  # (N,)
    tokens = prefix[rows_of]  # (N, t0)
    state = reorder(state, framework.rows(rows_of)) if copies > 1 else state
    generator = np.random.default_rng(config.seed) if config.do_sample else None
    start = prefix.shape[1]
    scores = np.zeros(len(rows_of))  # (N,)
    open_rows = np.arange(len(rows_of))  # rows still decoding
    results: dict[int, Hypothesis] = {}
    for t in range(config.max_length):
        logits, state = step(framework.tokens(tokens), state)  # (n, V)
        log_probs = process_logits(framework.logits(logits), tokens[:, start:], config, eos_id, t,
                                   framework.normalized)  # (n, V)
        if config.do_sample:
            filtered = filter_candidates(log_probs / config.temperature, config, eos_id)
            probs = np.exp(log_softmax(filtered)).astype(np.float64)
            cumulative = np.cumsum(probs, axis=1)
            draws = generator.random(len(probs))[:, None] * cumulative[:, -1:]
            chosen = np.minimum((cumulative <= draws).sum(axis=1), probs.shape[1] - 1)  # (n,)
            chosen = np.where(probs[np.arange(len(chosen)), chosen] > 0, chosen, probs.argmax(1))
        else:
            chosen = log_probs.argmax(-1)  # (n,)
        scores[open_rows] += log_probs[np.arange(len(chosen)), chosen]
        finished = chosen == eos_id
        last = t == config.max_length - 1
        for i in np.flatnonzero(finished | last).tolist():
            row = int(open_rows[i])
            new = tokens[i, start:].tolist() + ([] if finished[i] else [int(chosen[i])])
            results[row] = Hypothesis(new, float(scores[row]), truncated=not bool(finished[i]))
        if last:
            break
        going = np.flatnonzero(~finished)
        if len(going) == 0:
            break
        tokens = np.concatenate([tokens, chosen[:, None]], axis=1)[going]
        state = reorder(state, framework.rows(going)) if len(going) < len(finished) else state
        open_rows = open_rows[going]
    out: list[list[Hypothesis]] = [[] for _ in range(prefix.shape[0])]
    for row in range(len(rows_of)):
        out[int(rows_of[row])].append(results[row])
    for hypotheses in out:
        hypotheses.sort(key=lambda h: -h.score)
    return out


def _beam_search(step, prefix, eos_id, config, state, reorder, framework) -> list[list[Hypothesis]]:
    """Beams of all inputs in one batch (B*K rows); finished hypotheses kept until no open beam can
    beat the worst of the n best (its best possible normalised score counts the longest length left
    when length_penalty > 0, since a longer hypothesis then divides by more)."""
    prefix = framework.prefix(prefix)
    batch, width, start = prefix.shape[0], config.num_beams, prefix.shape[1]
    rows = np.repeat(np.arange(batch), width)  # (B K,)
    tokens = prefix[rows]  # (B K, t0)
    state = reorder(state, framework.rows(rows))
    scores = np.full((batch, width), -np.inf)
    scores[:, 0] = 0.0  # the beams start as copies: only the first counts at the first step
    scores = scores.reshape(-1)  # (B K,)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    done = [False] * batch
    alpha = config.length_penalty

    def normalised(raw: float, length: int) -> float:
        return raw / (max(length, 1) ** alpha) if alpha else raw

    for t in range(config.max_length):
        logits, state = step(framework.tokens(tokens), state)  # (B K, V)
        log_probs = process_logits(framework.logits(logits), tokens[:, start:], config, eos_id, t,
                                   framework.normalized)  # (B K, V)
        vocab = log_probs.shape[1]
        total = (scores[:, None] + log_probs).reshape(batch, width * vocab)  # (B, K V)
        wanted = min(2 * width, width * vocab)
        top_index = np.argpartition(total, -wanted, axis=1)[:, -wanted:] if wanted < width * vocab else \
            np.broadcast_to(np.arange(width * vocab), (batch, width * vocab))
        top_scores = np.take_along_axis(total, top_index, axis=1)  # (B, 2K)
        order = np.lexsort((top_index, -top_scores), axis=1)  # best first, ties by index
        top_index, top_scores = np.take_along_axis(top_index, order, 1), np.take_along_axis(top_scores, order, 1)
        beam_of, token_of = top_index // vocab, top_index % vocab  # (B, 2K) each
        next_rows, next_tokens, next_scores = [], [], []
        last = t == config.max_length - 1
        for b in range(batch):
            kept = 0
            for score, beam, token in zip(top_scores[b].tolist(), beam_of[b].tolist(), token_of[b].tolist()):
                if kept == width:
                    break
                row = b * width + beam
                if score == -math.inf:
                    continue
                if done[b]:  # a finished input keeps filling its rows with anything (ignored)
                    next_rows.append(row), next_tokens.append(token), next_scores.append(-math.inf)
                    kept += 1
                    continue
                if token == eos_id:
                    finished[b].append(Hypothesis(tokens[row, start:].tolist(), normalised(score, t + 1), False))
                    continue
                next_rows.append(row), next_tokens.append(token), next_scores.append(score)
                kept += 1
            while kept < width:  # fewer candidates than beams (a tiny vocabulary): pad with dead rows
                next_rows.append(b * width), next_tokens.append(eos_id), next_scores.append(-math.inf)
                kept += 1
        index = np.asarray(next_rows, dtype=np.int64)
        tokens = np.concatenate([tokens[index], np.asarray(next_tokens, dtype=np.int64)[:, None]], axis=1)
        scores = np.asarray(next_scores)
        state = reorder(state, framework.rows(index))
        for b in range(batch):
            if done[b]:
                continue
            open_best = float(scores[b * width:(b + 1) * width].max())
            if last:  # the open beams end here, cut: flagged
                for row in range(b * width, (b + 1) * width):
                    if scores[row] > -math.inf:
                        finished[b].append(Hypothesis(tokens[row, start:].tolist(), normalised(float(scores[row]),
                                                                                                  t + 1), True))
                done[b] = True
                continue
            best_hypotheses = sorted((h.score for h in finished[b]), reverse=True)[:config.num_return]
            if len(best_hypotheses) == config.num_return:
                reachable = normalised(open_best, config.max_length if alpha > 0 else t + 1)
                if open_best == -math.inf or reachable <= best_hypotheses[-1]:
                    done[b] = True
        if all(done):
            break
    for hypotheses in finished:
        hypotheses.sort(key=lambda h: -h.score)
        del hypotheses[config.num_return:]
    return finished
