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

import os
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from ..chars import has_han
from ..errors import InputError
from . import batching
from ..parallel import batch_threads
from .batching import waves
from .decode import never_emitted, plain_decode
from .defaults import DECODE_BATCH_SIZE
from .folder import PAD, UNK, resolve_folder
from .layout import codepoints, logsumexp
from .memory import CoupletMemory
from .numpy_model import NumpyCouplet
from .search import decode_constrained
from .shortlist import load_shortlist
from ..training.device import gpu_may_be_present
from .torch_network import TorchNetwork



@dataclass
class CoupletAnswer:
    upper: str
    candidates: list[tuple[str, float]]  # (lower line, log-probability), best first
    unknown: list[str] = field(default_factory=list)  # upper characters the model does not know

    @property
    def best(self) -> str:
        return self.candidates[0][0] if self.candidates else ""


class Couplet:
    def __init__(self, network, vocab: list[str] | None = None, device: str = "cpu",
                 shortlist: np.ndarray | None = None, memory: CoupletMemory | None = None):
        """``network``: a NumpyCouplet, or a PyTorch CoupletModel to run on ``device``; ``vocab``: its
        characters (default: the network's ``.vocab``, set by from_pretrained); ``shortlist``:
        (V, K) lower-character ids per upper character (shortlist.py), or None for the whole vocabulary;
        ``memory``: training pairs whose counts join the constrained decoder (memory.py; it then
        scores the whole vocabulary), or None."""
        self.network = network if isinstance(network, NumpyCouplet) else TorchNetwork(network, device)
        self.device = "cpu (numpy)" if isinstance(network, NumpyCouplet) else str(self.network.device)
        vocab = vocab if vocab is not None else network.vocab
        self.vocab = vocab
        self.index = {c: i for i, c in enumerate(vocab)}
        self.banned = never_emitted(vocab)
        self.shortlist = shortlist
        self.memory = memory
        # each id's character as a codepoint, to write lower lines as arrays ([PAD], [UNK]: never emitted)
        self.vocab_codepoints = np.array([ord(c) if len(c) == 1 else 0 for c in vocab], dtype=np.uint32)
        # the other way, codepoint -> id: the vocabulary's characters by codepoint, for np.searchsorted
        single = np.flatnonzero([len(c) == 1 for c in vocab])
        by_codepoint = np.argsort(self.vocab_codepoints[single])
        self._sorted_codepoints = self.vocab_codepoints[single][by_codepoint]
        self._sorted_ids = single[by_codepoint].astype(np.int64)
        self._level_tone: np.ndarray | None = None

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike | None = None, device: str = "auto",
                        shortlist: bool = True, memory: bool = True) -> "Couplet":
        """A model folder (default: the one shipped with zhnlp). ``device``: auto (CUDA when there is
        a GPU, else the CPU), cpu, cuda or cuda:N. ``shortlist``: score each position's shortlist
        only, when the folder has one (shortlist.py); False: the whole vocabulary. ``memory``: use the
        folder's memory of training pairs, when it has one (memory.py; `zhnlp train couplet-memory`)."""
        from ..optional import available

        folder = resolve_folder(directory)
        if device == "cpu" or (device == "auto" and not (gpu_may_be_present() and available("torch"))):
            network = NumpyCouplet.from_pretrained(folder)
        else:
            from ..training import resolve_device
            from .model import CoupletModel

            setup = resolve_device(device)
            network = (NumpyCouplet.from_pretrained(folder) if setup.device.type == "cpu"
                       else CoupletModel.from_pretrained(folder))
            device = str(setup.device)
        vocab = network.vocab
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
        if not has_han(text):
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
               batch_size: int = DECODE_BATCH_SIZE, scores: bool = True) -> CoupletAnswer | list[CoupletAnswer]:
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
        with batch_threads(len(chunks) if isinstance(self.network, NumpyCouplet) else 1) as pool:
            for wave in waves(chunks, batching.WAVE_LINES):  # the model's states for one wave at a time
                batches = [([lines[i] for i in chunk], self.encode_lines([lines[i] for i in chunk])) for chunk in wave]
                if constrained:
                    decoded = decode_constrained(self, batches, n, tone, scores, pool)
                else:  # list(): waits for every batch and raises what one raised
                    decoded = list(pool.map(lambda batch: self._decode_plain(batch[1]), batches))
                for chunk, (_, ids), batch_candidates in zip(wave, batches, decoded):
                    has_unknown = (ids == unk).any(1).tolist()  # (B,)
                    for i, row_ids, candidates, any_unknown in zip(chunk, ids, batch_candidates, has_unknown):
                        unknown = sorted({c for c, t in zip(lines[i], row_ids) if t == unk}) if any_unknown else []
                        answers[i] = CoupletAnswer(lines[i], candidates, unknown)
        return answers[0] if single else answers

    def answer_stream(self, blocks: Iterable[list[str]], n: int = 1, constrained: bool = True, tone: bool = False,
                      batch_size: int = DECODE_BATCH_SIZE, scores: bool = True,
                      source: str | None = None) -> Iterator[list[CoupletAnswer | None]]:
        """Answers for a stream of upper lines in blocks (textio.iter_line_blocks: what a pipe had
        ready, or a part of a file), a block at a time (split at batching.WAVE_LINES lines): each
        block's answers are yielded as soon as they are ready, so that a reader of a pipe sees them
        before the input ends. A blank line of a ``source`` answers None (a blank line out); a bad
        line is an InputError naming ``source`` and the line."""
        number = 0
        for lines in blocks:
            for start in range(0, len(lines), batching.WAVE_LINES):
                block: list[str] = []
                for line in lines[start:start + batching.WAVE_LINES]:
                    number += 1
                    if not line.strip() and source is not None:
                        block.append("")
                        continue
                    try:
                        block.append(self.check(line, number if source else None))
                    except InputError as error:
                        raise InputError(f"{source}, {error.message}" if source else error.message,
                                         error.hint) from None
                found = iter(self.answer([line for line in block if line], n=n, constrained=constrained, tone=tone,
                                         batch_size=batch_size, scores=scores) if any(block) else [])
                yield [next(found) if line else None for line in block]

    def encode_lines(self, lines: list[str]) -> np.ndarray:
        """Lines of one length -> (B, T) vocabulary ids, [UNK] for characters the model does not know."""
        chars = codepoints(lines, len(lines[0]))  # (B, T)
        found = np.minimum(np.searchsorted(self._sorted_codepoints, chars), len(self._sorted_codepoints) - 1)
        return np.where(self._sorted_codepoints[found] == chars, self._sorted_ids[found], self.index[UNK])

    def __call__(self, uppers: str | list[str], **kwargs):
        """The best lower line for one upper line, or a list of them for a list."""
        result = self.answer(uppers, scores=False, **kwargs)
        return result.best if isinstance(result, CoupletAnswer) else [a.best for a in result]

    def _decode_plain(self, ids: np.ndarray) -> list[list[tuple[str, float]]]:
        """The post's decoder: argmax per position, never the upper character there."""
        logits = self.network.logits(self.network.encode(ids))  # (B, T, V)
        log_probs = logits - logsumexp(logits)[..., None]
        best_ids = plain_decode(ids, log_probs, [self.index[PAD], self.index[UNK]])  # (B, T)
        totals = np.take_along_axis(log_probs, best_ids[..., None], -1)[..., 0].sum(-1)
        return [[("".join(self.vocab[t] for t in row), float(total))] for row, total in zip(best_ids.tolist(), totals)]
