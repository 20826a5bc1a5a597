"""``Couplet``: lower lines for upper lines, from a trained model, plain or under the rules.

    >>> bot = Couplet.from_pretrained()          # the model shipped in data/models/couplet  # doctest: +SKIP
    >>> bot("春回大地千山秀")                      # doctest: +SKIP
    '...'

On the CPU the model runs in numpy (numpy_model.py), so an answer never waits for torch to import;
on a GPU it runs in PyTorch (model.py). Either way the decoding below works on numpy arrays. A model
folder with a memory of training pairs (memory.py) has its counts mixed into the CNN's
probabilities and its best lines re-ranked.
"""
from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError
from .decode import (assemble, best_assignments, candidates_needed, character_groups, is_punctuation, never_emitted,
                     plain_decode, top_candidates)
from .folder import PAD, UNK
from .memory import CANDIDATES, CoupletMemory, flat_layout
from .numpy_model import NumpyCouplet
from .shortlist import load_shortlist

_CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# lines decoded together: the output layer runs once per wave (more lines share each shortlist row's
# output vectors), and the model's states of a wave stay in memory (about 4 KB a line)
WAVE_LINES = 8192
OUTPUT_ROWS = 16384  # positions whose whole output layer PyTorch computes at once: 16384 x V floats, 425 MB
SEARCH_BLOCK = 256  # lines whose candidates are ranked at once (over the whole vocabulary: 256 x ~8 x V floats)


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

    def shortlisted_logits(self, hidden: np.ndarray, upper_ids: np.ndarray, shortlist: np.ndarray,
                           pool=None, parts: int = 1) -> np.ndarray:
        """NumpyCouplet.shortlisted_logits's result; on a GPU the whole output layer costs little, in
        slices of OUTPUT_ROWS positions (a wave of long lines would otherwise hold gigabytes of logits)."""
        torch = self.torch
        out = np.empty((len(hidden), shortlist.shape[1]), dtype=np.float32)  # (N, K)
        with torch.inference_mode():
            for start in range(0, len(hidden), OUTPUT_ROWS):
                rows = slice(start, start + OUTPUT_ROWS)
                logits = self.model.output(torch.from_numpy(hidden[rows]).to(self.device))  # (n, V)
                columns = torch.from_numpy(shortlist[upper_ids[rows]].astype(np.int64)).to(self.device)  # (n, K)
                out[rows] = logits.gather(1, columns).float().cpu().numpy()
        return out


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
        pool.threads = threads
        yield pool


class _InlinePool:
    threads = 1

    @staticmethod
    def map(function, items):
        return map(function, items)


def _logsumexp(x: np.ndarray) -> np.ndarray:
    top = x.max(-1, keepdims=True)
    return (top + np.log(np.exp(x - top).sum(-1, keepdims=True)))[..., 0]


class Couplet:
    def __init__(self, network, vocab: list[str], device: str = "cpu", shortlist: np.ndarray | None = None,
                 memory: CoupletMemory | None = None):
        """``network``: a NumpyCouplet, or a PyTorch CoupletModel to run on ``device``; ``shortlist``:
        (V, K) lower-character ids per upper character (shortlist.py), or None for the whole vocabulary;
        ``memory``: training pairs whose counts join the constrained decoder (memory.py; it then
        scores the whole vocabulary), or None."""
        self.network = network if isinstance(network, NumpyCouplet) else _TorchNetwork(network, device)
        self.device = "cpu (numpy)" if isinstance(network, NumpyCouplet) else str(self.network.device)
        self.vocab = vocab
        self.index = {c: i for i, c in enumerate(vocab)}
        self.banned = never_emitted(vocab)
        self.shortlist = shortlist
        self.memory = memory
        # each id's character as a codepoint, to write lower lines as arrays ([PAD], [UNK]: never emitted)
        self._vocab_codepoints = np.array([ord(c) if len(c) == 1 else 0 for c in vocab], dtype=np.uint32)
        # the other way, codepoint -> id: the vocabulary's characters by codepoint, for np.searchsorted
        single = np.flatnonzero([len(c) == 1 for c in vocab])
        by_codepoint = np.argsort(self._vocab_codepoints[single])
        self._sorted_codepoints = self._vocab_codepoints[single][by_codepoint]
        self._sorted_ids = single[by_codepoint].astype(np.int64)
        self._level_tone: np.ndarray | None = None

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike | None = None, device: str = "auto",
                        shortlist: bool = True, memory: bool = True) -> "Couplet":
        """A model folder (default: the one shipped with zhnlp). ``device``: auto (CUDA when there is
        a GPU, else the CPU), cpu, cuda or cuda:N. ``shortlist``: score each position's shortlist
        only, when the folder has one (shortlist.py); False: the whole vocabulary. ``memory``: use the
        folder's memory of training pairs, when it has one (memory.py; `zhnlp train couplet-memory`)."""
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
        return cls(network, vocab, device, load_shortlist(folder, vocab) if shortlist else None,
                   CoupletMemory.load(folder, len(vocab)) if memory else None)

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

        Lines of one length share a batch (``batch_size`` at most; the batches of up to WAVE_LINES lines
        share the output layer, so that each shortlist row's output vectors serve many positions); the
        rules' masks, the sums over repeated characters and the best character per group are computed
        for the whole batch at once. ``scores=False`` skips the softmax's normaliser, the costliest step
        after the model: the lines are the same, their scores then unnormalised."""
        single = isinstance(uppers, str)
        lines = [self.check(uppers)] if single else [self.check(u, i + 1) for i, u in enumerate(uppers)]
        unk = self.index[UNK]
        answers: list[CoupletAnswer | None] = [None] * len(lines)
        by_length: dict[int, list[int]] = {}
        for i, upper in enumerate(lines):
            by_length.setdefault(len(upper), []).append(i)
        chunks = [rows[start:start + batch_size] for rows in by_length.values()
                  for start in range(0, len(rows), batch_size)]
        if tone:
            self.level_tone_mask()  # computed once, before any thread needs it
        with _batch_threads(len(chunks) if isinstance(self.network, NumpyCouplet) else 1) as pool:
            for wave in _waves(chunks, WAVE_LINES):  # the model's states for one wave at a time
                batches = [([lines[i] for i in chunk], self._ids([lines[i] for i in chunk])) for chunk in wave]
                if constrained:
                    decoded = self._decode_constrained(batches, n, tone, scores, pool)
                else:  # list(): waits for every batch and raises what one raised
                    decoded = list(pool.map(lambda batch: self._decode_plain(batch[1]), batches))
                for chunk, (_, ids), batch_candidates in zip(wave, batches, decoded):
                    has_unknown = (ids == unk).any(1).tolist()  # (B,)
                    for i, row_ids, candidates, any_unknown in zip(chunk, ids, batch_candidates, has_unknown):
                        unknown = sorted({c for c, t in zip(lines[i], row_ids) if t == unk}) if any_unknown else []
                        answers[i] = CoupletAnswer(lines[i], candidates, unknown)
        return answers[0] if single else answers

    def _ids(self, lines: list[str]) -> np.ndarray:
        """Lines of one length -> (B, T) vocabulary ids, [UNK] for characters the model does not know."""
        codepoints = _codepoints(lines, len(lines[0]))  # (B, T)
        found = np.minimum(np.searchsorted(self._sorted_codepoints, codepoints), len(self._sorted_codepoints) - 1)
        return np.where(self._sorted_codepoints[found] == codepoints, self._sorted_ids[found], self.index[UNK])

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

    def _decode_constrained(self, batches: list[tuple[list[str], np.ndarray]], n: int, tone: bool, normalise: bool,
                            pool, use_shortlist: bool = True) -> list[list[list[tuple[str, float]]]]:
        """``decode.constrained_decode`` for batches of equal-length lines (their texts and (B, T) ids),
        in array operations: the model runs batch by batch on the pool's threads, the output layer
        once for all of them (NumpyCouplet.shortlisted_logits: the positions holding one upper
        character share its shortlist's output vectors), the search batch by batch again."""
        layouts = list(pool.map(lambda batch: _Layout(*batch, self._punctuation, self.network), batches))
        if self.memory is not None:
            return list(pool.map(lambda layout: self._search_remembered(layout, n, tone), layouts))
        shortlist = self.shortlist if use_shortlist else None
        if shortlist is not None:
            logits = self.network.shortlisted_logits(np.concatenate([layout.hidden for layout in layouts]),
                                                     np.concatenate([layout.upper_ids for layout in layouts]),
                                                     shortlist, pool, pool.threads)  # (N all, K)
            ends = np.cumsum([len(layout.hidden) for layout in layouts])[:-1]
            for layout, part in zip(layouts, np.split(logits, ends)):
                layout.logits, layout.columns = part, shortlist[layout.upper_ids]  # (N, K) each
        return list(pool.map(lambda layout: self._search(layout, n, tone, normalise), layouts))

    def _search(self, layout: "_Layout", n: int, tone: bool, normalise: bool) -> list[list[tuple[str, float]]]:
        """The n best lower lines of one batch under the rules. A line whose groups' best characters
        are distinct is done after one argmax per group (most lines, when n = 1); the others go to
        ``best_assignments``. A line the shortlist cannot serve (no distinct characters left for its
        groups) is decoded again over the whole vocabulary."""
        rows = np.arange(len(layout.line_of))
        columns = layout.columns  # (N, K): the ids each row's scores stand for; None: every id
        if columns is None and layout.logits is None:  # the whole vocabulary (a memory's decoder sets its own)
            layout.logits = self.network.logits(layout.hidden)  # (N, V)
        logits = layout.logits
        # log-probability = logit - normaliser, a constant per row that never changes the choice; over
        # a shortlist, scores are log-probabilities among its characters
        normaliser = _logsumexp(logits) if normalise else np.zeros(len(rows), dtype=logits.dtype)  # (N,)
        if columns is None:
            logits[:, self.banned] = -np.inf
            logits[rows, layout.upper_ids] = -np.inf  # never the upper character
        batch, length = layout.ids.shape
        if tone:  # the group of each line's last free position ends on a level tone
            last = length - 1 - layout.free[:, ::-1].argmax(1)  # (B,)
            tone_rows = layout.row_of[np.arange(batch), layout.leader[np.arange(batch), last]]  # (B,)
            level = self.level_tone_mask()
            logits[tone_rows] = np.where(level[columns[tone_rows]] if columns is not None else level,
                                         logits[tone_rows], -np.inf)
        followers = np.flatnonzero(~layout.is_leader)
        if len(followers):  # a repeated character: its group's score is the sum over its positions
            np.add.at(logits, layout.leader_row[followers], logits[followers])
            np.add.at(normaliser, layout.leader_row[followers], normaliser[followers])
        best_columns = logits.argmax(-1)  # (N,)
        best_scores = logits[rows, best_columns] - normaliser  # (N,)
        best_ids = columns[rows, best_columns] if columns is not None else best_columns  # (N,)

        # a line is done when its leaders' best characters differ (and none is impossible)
        leaders = layout.is_leader
        chosen = np.where(layout.free, -1 - np.arange(length), 0)  # (B, T): distinct placeholders off the leaders
        chosen[layout.line_of[leaders], layout.position_of[leaders]] = best_ids[leaders]
        chosen.sort(1)
        clash = (chosen[:, 1:] == chosen[:, :-1]).any(1)  # (B,)
        clash |= np.bincount(layout.line_of[leaders], ~np.isfinite(best_scores[leaders]), minlength=batch) > 0
        totals = np.bincount(layout.line_of[leaders], best_scores[leaders], minlength=batch)  # (B,)

        # a clash (or n > 1): the exact search over each group's best candidates, for a block of lines at once
        searched = np.flatnonzero(clash) if n == 1 else np.arange(batch)
        n_best: dict[int, list[tuple[float, list[int]]]] = {}  # line -> its n best (total, id per group)
        for block in (searched[i:i + SEARCH_BLOCK] for i in range(0, len(searched), SEARCH_BLOCK)):
            in_block = np.zeros(batch, dtype=bool)
            in_block[block] = True
            group_rows = rows[leaders & in_block[layout.line_of]]  # line by line, groups in order of first appearance
            group_counts = np.bincount(layout.line_of[group_rows], minlength=batch)[block]  # (lines,)
            picked, scores = top_candidates(logits[group_rows] - normaliser[group_rows, None],
                                            candidates_needed(n, int(group_counts.max())))  # (R, k) each
            ids = picked if columns is None else np.take_along_axis(columns[group_rows], picked, 1)
            bounds = np.r_[0, np.cumsum(group_counts)].tolist()
            for line, start, end in zip(block.tolist(), bounds[:-1], bounds[1:]):
                n_best[line] = found = best_assignments(ids[start:end], scores[start:end], n)
                if n == 1 and found:
                    totals[line] = found[0][0]
                    best_ids[group_rows[start:end]] = found[0][1]
        unserved = [line for line, found in n_best.items() if not found and columns is not None]

        lower = layout.chars.copy()
        lower[layout.line_of, layout.position_of] = self._vocab_codepoints[best_ids[layout.leader_row]]
        results = [[(text, float(total))] for text, total in zip(_strings(lower), totals)]
        for line, found in n_best.items():
            if n > 1 or not found:  # n == 1: written above, as arrays
                upper = layout.lines[line]
                results[line] = [(assemble(upper, character_groups(upper), tokens, self.vocab), total)
                                 for total, tokens in found]
        if unserved:
            again = self._decode_constrained([([layout.lines[i] for i in unserved], layout.ids[unserved])], n, tone,
                                             normalise, _InlinePool(), use_shortlist=False)[0]
            for i, candidates in zip(unserved, again):
                results[i] = candidates
        return results

    def _search_remembered(self, layout: "_Layout", n: int, tone: bool) -> list[list[tuple[str, float]]]:
        """``_search`` on the CNN's probabilities moved towards the memory's counts, over the whole
        vocabulary (the shortlist may lack what the memory found); its CANDIDATES best lines per upper
        line re-ranked by the memory's lower-line bigrams and phrase pairs, the n best kept."""
        logits = self.network.logits(layout.hidden)  # (N, V)
        logits -= _logsumexp(logits)[:, None]
        flat, centres = flat_layout(layout.ids)
        centres = centres.reshape(layout.ids.shape)[layout.line_of, layout.position_of]  # (N,)
        layout.logits, layout.columns = self.memory.interpolate(logits, flat, centres), None
        found = self._search(layout, max(n, CANDIDATES), tone, normalise=False)
        texts = [text for candidates in found for text, _ in candidates]
        if not texts:
            return found
        line_of = np.repeat(np.arange(len(found)), [len(candidates) for candidates in found])
        scores = np.array([score for candidates in found for _, score in candidates])
        scores += self.memory.rerank_scores(layout.ids[line_of], self._ids(texts))
        ranked: list[list[tuple[str, float]]] = [[] for _ in found]
        for line, text, score in sorted(zip(line_of.tolist(), texts, scores.tolist()), key=lambda c: (c[0], -c[2])):
            if len(ranked[line]) < n:
                ranked[line].append((text, score))
        return ranked

    def _punctuation(self, chars: np.ndarray) -> np.ndarray:
        """(B, T) codepoints -> whether each is punctuation (decode.is_punctuation)."""
        unique, inverse = np.unique(chars, return_inverse=True)
        return np.array([is_punctuation(chr(c)) for c in unique.tolist()], dtype=bool)[inverse].reshape(chars.shape)


def _waves(chunks: list[list[int]], lines: int) -> Iterator[list[list[int]]]:
    """Consecutive runs of chunks holding about ``lines`` lines each (at least one chunk)."""
    wave: list[list[int]] = []
    held = 0
    for chunk in chunks:
        if wave and held + len(chunk) > lines:
            yield wave
            wave, held = [], 0
        wave.append(chunk)
        held += len(chunk)
    if wave:
        yield wave


def _codepoints(lines: list[str], length: int) -> np.ndarray:
    """Lines of ``length`` characters -> (B, T) uint32 codepoints."""
    return np.frombuffer("".join(lines).encode("utf-32-le"), dtype=np.uint32).reshape(len(lines), length).copy()


def _strings(codepoints: np.ndarray) -> list[str]:
    """(B, T) codepoints -> B strings."""
    length = codepoints.shape[1]
    text = np.ascontiguousarray(codepoints, dtype=np.uint32).tobytes().decode("utf-32-le")
    return [text[i:i + length] for i in range(0, len(text), length)]


class _Layout:
    """A batch of equal-length lines laid out as rows, one per position that takes a lower character
    (punctuation is copied), with the model's hidden state at each row."""

    def __init__(self, lines: list[str], ids: np.ndarray, punctuation, network):
        batch, length = ids.shape
        self.lines, self.ids = lines, ids  # ids: (B, T)
        self.chars = _codepoints(lines, length)  # (B, T)
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
