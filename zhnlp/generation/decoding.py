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
torch is imported only when a decode runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

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
    """Every tensor of ``state`` (nested in tuples, lists and dicts) indexed by ``rows`` on dim 0."""
    if state is None:
        return None
    if hasattr(state, "index_select"):
        return state.index_select(0, rows)
    if isinstance(state, (tuple, list)):
        return type(state)(reorder_state(s, rows) for s in state)
    if isinstance(state, dict):
        return {k: reorder_state(v, rows) for k, v in state.items()}
    return state


def process_logits(logits, generated, config: GenerationConfig, eos_id: int, new_tokens: int):
    """The penalties and bans on (N, V) logits, given the new tokens so far (N, t): repetition
    penalty, no-repeat n-grams, no end token before min_length. Returns log-probabilities."""
    import torch

    logits = logits.float()
    if config.repetition_penalty != 1.0 and generated.shape[1]:
        seen = torch.gather(logits, 1, generated)
        seen = torch.where(seen > 0, seen / config.repetition_penalty, seen * config.repetition_penalty)
        logits = logits.scatter(1, generated, seen)
    n = config.no_repeat_ngram_size
    if n and generated.shape[1] >= n:
        rows = generated.tolist()
        for row, tokens in enumerate(rows):
            prefix = tuple(tokens[len(tokens) - n + 1:]) if n > 1 else ()
            banned = {tokens[i + n - 1] for i in range(len(tokens) - n + 1) if tuple(tokens[i:i + n - 1]) == prefix}
            if banned:
                logits[row, list(banned)] = -math.inf
    if new_tokens < config.min_length:
        logits[:, eos_id] = -math.inf
    return torch.log_softmax(logits, dim=-1)


def filter_candidates(log_probs, config: GenerationConfig, eos_id: int):
    """Top-k and top-p on (N, V) log-probabilities: the rest set to -inf. ``consistent``: the end
    token is kept whatever its rank (Welleck et al.'s consistent top-k and nucleus sampling)."""
    import torch

    keep = torch.ones_like(log_probs, dtype=torch.bool)
    if config.top_k and config.top_k < log_probs.shape[1]:
        kth = torch.topk(log_probs, config.top_k, dim=-1).values[:, -1:]  # (N, 1)
        keep &= log_probs >= kth
    if config.top_p < 1.0:
        ordered, order = torch.sort(log_probs, dim=-1, descending=True)
        before = torch.cumsum(ordered.exp(), dim=-1) - ordered.exp()  # mass of the better tokens
        inside = torch.zeros_like(keep).scatter(1, order, before < config.top_p)
        keep &= inside
    if config.consistent:
        keep[:, eos_id] = True
    return log_probs.masked_fill(~keep, -math.inf)


def generate(step: Callable, prefix, eos_id: int, config: GenerationConfig | None = None, state=None,
             reorder: Callable = reorder_state) -> list[list[Hypothesis]]:
    """Decode every row of ``prefix`` (B, t0): the tokens the model starts from (a start token, or
    for UniLM the source and [SEP]), with ``state`` from the model's encoder (or None). Returns, per
    row, ``config.num_return`` hypotheses, best first."""
    import torch

    config = config or GenerationConfig()
    config.check()
    with torch.no_grad():  # decoding never needs gradients
        if config.num_beams > 1 and not config.do_sample:
            return _beam_search(step, prefix, eos_id, config, state, reorder)
        return _one_path(step, prefix, eos_id, config, state, reorder)


def _one_path(step, prefix, eos_id, config, state, reorder) -> list[list[Hypothesis]]:
    """Greedy or sampled decoding; ``num_return`` > 1 samples that many per input."""
    import torch

    copies = config.num_return if config.do_sample else 1
    rows_of = torch.arange(prefix.shape[0], device=prefix.device).repeat_interleave(copies)  # (N,)
    tokens = prefix.index_select(0, rows_of)  # (N, t0)
    state = reorder(state, rows_of) if copies > 1 else state
    generator = None
    if config.do_sample:
        generator = torch.Generator(device=prefix.device)
        generator.manual_seed(config.seed if config.seed is not None else torch.seed() % (1 << 63))
    start = prefix.shape[1]
    scores = torch.zeros(len(rows_of), device=prefix.device)  # (N,)
    open_rows = torch.arange(len(rows_of), device=prefix.device)  # rows still decoding
    results: dict[int, Hypothesis] = {}
    for t in range(config.max_length):
        logits, state = step(tokens, state)  # (n, V)
        log_probs = process_logits(logits, tokens[:, start:], config, eos_id, t)  # (n, V)
        if config.do_sample:
            filtered = filter_candidates(log_probs / config.temperature, config, eos_id)
            chosen = torch.multinomial(torch.softmax(filtered, dim=-1), 1, generator=generator)[:, 0]  # (n,)
        else:
            chosen = log_probs.argmax(-1)  # (n,)
        scores[open_rows] += log_probs.gather(1, chosen[:, None])[:, 0]
        finished = chosen == eos_id
        last = t == config.max_length - 1
        for i in torch.nonzero(finished | last).flatten().tolist():
            row = int(open_rows[i])
            new = tokens[i, start:].tolist() + ([] if finished[i] else [int(chosen[i])])
            results[row] = Hypothesis(new, float(scores[row]), truncated=not bool(finished[i]))
        if last:
            break
        going = torch.nonzero(~finished).flatten()
        if len(going) == 0:
            break
        tokens = torch.cat([tokens, chosen[:, None]], dim=1).index_select(0, going)
        state = reorder(state, going) if len(going) < len(finished) else state
        open_rows = open_rows.index_select(0, going)
    out: list[list[Hypothesis]] = [[] for _ in range(prefix.shape[0])]
    for row in range(len(rows_of)):
        out[int(rows_of[row])].append(results[row])
    for hypotheses in out:
        hypotheses.sort(key=lambda h: -h.score)
    return out


def _beam_search(step, prefix, eos_id, config, state, reorder) -> list[list[Hypothesis]]:
    """Beams of all inputs in one batch (B*K rows); finished hypotheses kept until no open beam can
    beat the worst of the n best (its best possible normalised score counts the longest length left
    when length_penalty > 0, since a longer hypothesis then divides by more)."""
    import torch

    batch, width, start = prefix.shape[0], config.num_beams, prefix.shape[1]
    device = prefix.device
    rows = torch.arange(batch, device=device).repeat_interleave(width)  # (B K,)
    tokens = prefix.index_select(0, rows)  # (B K, t0)
    state = reorder(state, rows)
    scores = torch.full((batch, width), -math.inf, device=device)
    scores[:, 0] = 0.0  # the beams start as copies: only the first counts at the first step
    scores = scores.flatten()  # (B K,)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    done = [False] * batch
    alpha = config.length_penalty

    def normalised(raw: float, length: int) -> float:
        return raw / (max(length, 1) ** alpha) if alpha else raw

    for t in range(config.max_length):
        logits, state = step(tokens, state)  # (B K, V)
        log_probs = process_logits(logits, tokens[:, start:], config, eos_id, t)  # (B K, V)
        vocab = log_probs.shape[1]
        total = (scores[:, None] + log_probs).view(batch, width * vocab)  # (B, K V)
        top_scores, top_index = torch.topk(total, min(2 * width, width * vocab), dim=-1)  # (B, 2K)
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
        index = torch.tensor(next_rows, device=device)
        tokens = torch.cat([tokens.index_select(0, index), torch.tensor(next_tokens, device=device)[:, None]], dim=1)
        scores = torch.tensor(next_scores, device=device)
        state = reorder(state, index)
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
