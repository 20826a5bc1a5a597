"""``Couplet``: lower lines for upper lines, from a trained model, plain or under the rules.

    >>> bot = Couplet.from_pretrained()          # the model shipped in data/models/couplet  # doctest: +SKIP
    >>> bot("春回大地千山秀")                      # doctest: +SKIP
    '...'

On the CPU the model runs in numpy (numpy_model.py), so an answer never waits for torch to import;
on a GPU it runs in PyTorch (model.py). Either way the decoding below works on numpy arrays.
"""
from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from .decode import (assemble, best_assignments, candidates_needed, character_groups, never_emitted, plain_decode,
                     tone_position, top_candidates)
from .folder import PAD, UNK
from .numpy_model import NumpyCouplet
from .shortlist import load_shortlist

_CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def default_model_dir() -> Path:
    """The couplet model shipped with the package (data/models/couplet)."""
    from ..info import shipped_model_dir

    return shipped_model_dir("couplet")


@dataclass
class CoupletAnswer:
    upper: str
    candidates: list[tuple[str, float]]  # (lower line, log-probability), best first
    unknown: list[str] = field(default_factory=list)  # upper characters the model does not know

    @property
    def best(self) -> str:
        return self.candidates[0][0] if self.candidates else ""


class _TorchNetwork:
    """A PyTorch CoupletModel on a device, with NumpyCouplet's interface (numpy in, numpy out)."""

    def __init__(self, model, device: str):
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.config = model.config

    def encode(self, input_ids: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            return self.model.encode(self.torch.from_numpy(input_ids).to(self.device)).float().cpu().numpy()

    def logits(self, hidden: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            return self.model.output(self.torch.from_numpy(hidden).to(self.device)).float().cpu().numpy()

    def shortlisted_logits(self, hidden: np.ndarray, upper_ids: np.ndarray, shortlist: np.ndarray) -> np.ndarray:
        """NumpyCouplet.shortlisted_logits's result; on a GPU the whole output layer costs little."""
        torch = self.torch
        with torch.inference_mode():
            logits = self.model.output(torch.from_numpy(hidden).to(self.device))  # (N, V)
            columns = torch.from_numpy(shortlist[upper_ids]).to(self.device)  # (N, K)
            return logits.gather(1, columns).float().cpu().numpy()


def _gpu_may_be_present() -> bool:
    """A cheap look for an NVIDIA driver, so that the CPU path never pays for importing torch."""
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidia0")


@contextlib.contextmanager
def _batch_threads(num_chunks: int):
    """A pool to decode batches on every core: numpy releases the GIL in its loops and in BLAS, but
    its elementwise loops use one core, so one batch per thread with single-threaded BLAS beats one
    batch at a time with multi-threaded BLAS (1.6x on this 2-core machine). One chunk: run it here."""
    threads = min(num_chunks, os.cpu_count() or 1, 8)
    if threads <= 1:
        yield _InlinePool()
        return
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        yield pool


class _InlinePool:
    @staticmethod
    def map(function, items):
        return map(function, items)


def _logsumexp(x: np.ndarray) -> np.ndarray:
    top = x.max(-1, keepdims=True)
    return (top + np.log(np.exp(x - top).sum(-1, keepdims=True)))[..., 0]


class Couplet:
    def __init__(self, network, vocab: list[str], device: str = "cpu", shortlist: np.ndarray | None = None):
        """``network``: a NumpyCouplet, or a PyTorch CoupletModel to run on ``device``; ``shortlist``:
        (V, K) lower-character ids per upper character (shortlist.py), or None for the whole vocabulary."""
        self.network = network if isinstance(network, NumpyCouplet) else _TorchNetwork(network, device)
        self.device = "cpu (numpy)" if isinstance(network, NumpyCouplet) else str(self.network.device)
        self.vocab = vocab
        self.index = {c: i for i, c in enumerate(vocab)}
        self.banned = never_emitted(vocab)
        self.shortlist = shortlist
        self._level_tone: np.ndarray | None = None

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike | None = None, device: str = "auto",
                        shortlist: bool = True) -> "Couplet":
        """A model folder (default: the one shipped with zhnlp). ``device``: auto (CUDA when there is
        a GPU, else the CPU), cpu, cuda or cuda:N. ``shortlist``: score each position's shortlist
        only, when the folder has one (shortlist.py); False: the whole vocabulary."""
        folder = Path(directory) if directory is not None else default_model_dir()
        if not folder.is_dir():
            raise InputError(f"no couplet model folder: {folder}",
                             "train one: zhnlp train couplet --data ../shared/data/couplet -o DIR, then pass --model DIR")
        if device == "cpu" or (device == "auto" and not _gpu_may_be_present()):
            network, vocab = NumpyCouplet.from_pretrained(folder)
        else:
            from ..training import resolve_device
            from .model import CoupletModel

            setup = resolve_device(device)
            network, vocab = (NumpyCouplet.from_pretrained(folder) if setup.device.type == "cpu"
                              else CoupletModel.from_pretrained(folder))
            device = str(setup.device)
        return cls(network, vocab, device, load_shortlist(folder, vocab) if shortlist else None)

    @property
    def max_length(self) -> int:
        return self.network.config.max_length

    def check(self, upper: str, line: int | None = None) -> str:
        """The stripped upper line, or an InputError saying what is wrong with it."""
        where = f"line {line}: " if line is not None else ""
        text = upper.strip().replace(" ", "")
        if not text:
            raise InputError(f"{where}empty upper line", "give a line of Chinese characters, e.g. 春回大地千山秀")
        if not _CHINESE.search(text):
            raise InputError(f"{where}no Chinese characters in {text[:40]!r}", "give a line of Chinese characters")
        if len(text) > self.max_length:
            raise InputError(f"{where}upper line has {len(text)} characters; the model takes at most {self.max_length}",
                             "split it into shorter lines")
        return text

    def level_tone_mask(self) -> np.ndarray:
        if self._level_tone is None:
            from .tones import is_level_tone

            self._level_tone = np.array([is_level_tone(c) for c in self.vocab], dtype=bool)
        return self._level_tone

    def answer(self, uppers: str | list[str], n: int = 1, constrained: bool = True, tone: bool = False,
               batch_size: int = 512, scores: bool = True) -> CoupletAnswer | list[CoupletAnswer]:
        """Lower lines for one upper line or a list: the n best under the rules (or the plain argmax).

        Lines of one length share a batch (``batch_size`` at most: larger batches share each shortlist
        row's output vectors among more positions); the rules' masks, the sums over repeated characters and
        the best character per group are computed for the whole batch at once. ``scores=False``
        skips the softmax's normaliser, the costliest step after the model: the lines are the same,
        their scores then unnormalised."""
        single = isinstance(uppers, str)
        lines = [self.check(uppers)] if single else [self.check(u, i + 1) for i, u in enumerate(uppers)]
        unk = self.index[UNK]
        answers: list[CoupletAnswer | None] = [None] * len(lines)
        by_length: dict[int, list[int]] = {}
        for i, upper in enumerate(lines):
            by_length.setdefault(len(upper), []).append(i)
        chunks = [rows[start:start + batch_size] for rows in by_length.values()
                  for start in range(0, len(rows), batch_size)]

        def solve(chunk: list[int]) -> None:
            ids = np.array([[self.index.get(c, unk) for c in lines[i]] for i in chunk], dtype=np.int64)  # (B, T)
            decoded = (self._decode_constrained([lines[i] for i in chunk], ids, n, tone, scores) if constrained
                       else self._decode_plain(ids))
            for i, row_ids, candidates in zip(chunk, ids, decoded):
                unknown = sorted({c for c, t in zip(lines[i], row_ids) if t == unk})
                answers[i] = CoupletAnswer(lines[i], candidates, unknown)

        if tone:
            self.level_tone_mask()  # computed once, before any thread needs it
        with _batch_threads(len(chunks) if isinstance(self.network, NumpyCouplet) else 1) as pool:
            list(pool.map(solve, chunks))  # list(): waits for every chunk and raises what one raised
        return answers[0] if single else answers

    def __call__(self, uppers: str | list[str], **kwargs):
        """The best lower line for one upper line, or a list of them for a list."""
        result = self.answer(uppers, scores=False, **kwargs)
        return result.best if isinstance(result, CoupletAnswer) else [a.best for a in result]

    def _decode_plain(self, ids: np.ndarray) -> list[list[tuple[str, float]]]:
        """The post's decoder: argmax per position, never the upper character there."""
        logits = self.network.logits(self.network.encode(ids))  # (B, T, V)
        log_probs = logits - _logsumexp(logits)[..., None]
        best_ids = plain_decode(ids, log_probs, [self.index[PAD], self.index[UNK]])  # (B, T)
        totals = np.take_along_axis(log_probs, best_ids[..., None], -1)[..., 0].sum(-1)
        return [[("".join(self.vocab[t] for t in row), float(total))] for row, total in zip(best_ids.tolist(), totals)]

    def _decode_constrained(self, lines: list[str], ids: np.ndarray, n: int, tone: bool, normalise: bool,
                            use_shortlist: bool = True) -> list[list[tuple[str, float]]]:
        """``decode.constrained_decode`` for a batch of lines of one length, with the softmax computed
        only where a character is chosen, over each position's shortlist (all the vocabulary when the
        model has none). A line whose groups' best characters are distinct is done after one argmax
        per group (most lines, when n = 1); the others go to ``best_assignments``. A line the
        shortlist cannot serve (no distinct characters left for its groups) is decoded again over
        the whole vocabulary."""
        groups = [character_groups(line) for line in lines]
        # rows: every non-punctuation position; each group's first position is its leader row
        row_line, row_position, leaders, followers, follower_leaders, tone_rows = [], [], [], [], [], []
        for line, line_groups in enumerate(groups):
            last = tone_position(lines[line]) if tone else None
            for positions in line_groups:
                leaders.append(len(row_line))
                for k, position in enumerate(positions):
                    if k:
                        followers.append(len(row_line))
                        follower_leaders.append(leaders[-1])
                    if position == last:
                        tone_rows.append(leaders[-1])
                    row_line.append(line)
                    row_position.append(position)
        hidden = self.network.encode(ids)[row_line, row_position]  # (N, C)
        upper_ids = ids[row_line, row_position]  # (N,)
        rows = np.arange(len(row_line))
        if use_shortlist and self.shortlist is not None:
            columns = self.shortlist[upper_ids]  # (N, K): the ids each row's scores stand for
            logits = self.network.shortlisted_logits(hidden, upper_ids, self.shortlist)  # (N, K)
            # the normaliser of the shortlist: scores are log-probabilities among its characters
            normaliser = _logsumexp(logits) if normalise else np.zeros(len(row_line), dtype=logits.dtype)  # (N,)
        else:  # the shortlist's exclusions, made by hand
            columns = None
            logits = self.network.logits(hidden)  # (N, V)
            # log-probability = logit - normaliser: a constant per row, so it never changes the choice
            normaliser = _logsumexp(logits) if normalise else np.zeros(len(row_line), dtype=logits.dtype)  # (N,)
            logits[:, self.banned] = -np.inf
            logits[rows, upper_ids] = -np.inf  # never the upper character
        if tone_rows:
            level = self.level_tone_mask()
            logits[tone_rows] = np.where(level[columns[tone_rows]] if columns is not None else level,
                                         logits[tone_rows], -np.inf)
        if followers:  # a repeated character: its group's score is the sum over its positions
            np.add.at(logits, follower_leaders, logits[followers])
            np.add.at(normaliser, follower_leaders, normaliser[followers])
        best_columns = logits.argmax(-1)  # (N,)
        best = (logits[rows, best_columns] - normaliser)[leaders].tolist()
        best_ids = (columns[rows, best_columns] if columns is not None else best_columns)[leaders].tolist()
        results: list[list[tuple[str, float]]] = []
        unserved: list[int] = []
        g = 0
        for line_number, (line, line_groups) in enumerate(zip(lines, groups)):
            count = len(line_groups)
            chosen, scores = best_ids[g:g + count], best[g:g + count]
            if n == 1 and len(set(chosen)) == count and min(scores) > -np.inf:
                results.append([(assemble(line, line_groups, chosen, self.vocab), sum(scores))])
            else:  # a clash (or n > 1): the exact search, over each group's best candidates
                group_rows = leaders[g:g + count]
                candidates = top_candidates(logits[group_rows] - normaliser[group_rows, None],
                                            candidates_needed(n, count))
                if columns is not None:
                    candidates = [(columns[row][picked], scores) for row, (picked, scores)
                                  in zip(group_rows, candidates)]
                found = best_assignments(candidates, n)
                if not found and columns is not None:
                    unserved.append(line_number)
                results.append([(assemble(line, line_groups, tokens, self.vocab), total) for total, tokens in found])
            g += count
        if unserved:
            again = self._decode_constrained([lines[i] for i in unserved], ids[unserved], n, tone, normalise,
                                             use_shortlist=False)
            for i, candidates in zip(unserved, again):
                results[i] = candidates
        return results
