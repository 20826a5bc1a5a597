"""``Couplet``: lower lines for upper lines, from a trained model, plain or under the rules.

    >>> bot = Couplet.from_pretrained()          # the model shipped in data/models/couplet  # doctest: +SKIP
    >>> bot("春回大地千山秀")                      # doctest: +SKIP
    '...'
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from .decode import constrained_decode, is_punctuation, plain_decode
from .model import PAD, UNK, CoupletModel

_CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def default_model_dir() -> Path:
    """The couplet model shipped with the package (data/models/couplet)."""
    from importlib import resources

    try:
        packaged = Path(str(resources.files("zhnlp.data"))) / "models" / "couplet"
        if packaged.is_dir():
            return packaged
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[2] / "data" / "models" / "couplet"


@dataclass
class CoupletAnswer:
    upper: str
    candidates: list[tuple[str, float]]  # (lower line, log-probability), best first
    unknown: list[str] = field(default_factory=list)  # upper characters the model does not know

    @property
    def best(self) -> str:
        return self.candidates[0][0] if self.candidates else ""


class Couplet:
    def __init__(self, model: CoupletModel, vocab: list[str], device: str = "cpu"):
        import torch

        self.model = model.to(device).eval()
        self.vocab = vocab
        self.index = {c: i for i, c in enumerate(vocab)}
        self.device = torch.device(device)
        self.banned = np.array([i for i, c in enumerate(vocab) if c in (PAD, UNK) or is_punctuation(c)], dtype=np.int64)
        self._level_tone: np.ndarray | None = None

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike | None = None, device: str = "auto") -> "Couplet":
        from ..training import resolve_device

        folder = Path(directory) if directory is not None else default_model_dir()
        if not folder.is_dir():
            raise InputError(f"no couplet model folder: {folder}",
                             "train one: zhnlp train couplet --data ../shared/data/couplet -o DIR, then pass --model DIR")
        model, vocab = CoupletModel.from_pretrained(folder)
        return cls(model, vocab, str(resolve_device(device).device))

    @property
    def max_length(self) -> int:
        return self.model.config.max_length

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

    def log_probs(self, uppers: list[str]) -> list[np.ndarray]:
        """(T, V) log-probabilities for each upper line (lines of one length share a batch)."""
        import torch

        unk = self.index[UNK]
        results: list[np.ndarray | None] = [None] * len(uppers)
        by_length: dict[int, list[int]] = {}
        for i, upper in enumerate(uppers):
            by_length.setdefault(len(upper), []).append(i)
        with torch.inference_mode():
            for length, rows in by_length.items():
                for start in range(0, len(rows), 512):
                    chunk = rows[start:start + 512]
                    ids = torch.tensor([[self.index.get(c, unk) for c in uppers[i]] for i in chunk],
                                       device=self.device)  # (B, T)
                    out = torch.log_softmax(self.model(ids).float(), -1).cpu().numpy()  # (B, T, V)
                    for row, i in enumerate(chunk):
                        results[i] = out[row]
        return results

    def answer(self, uppers: str | list[str], n: int = 1, constrained: bool = True,
               tone: bool = False) -> CoupletAnswer | list[CoupletAnswer]:
        """Lower lines for one upper line or a list: the n best under the rules (or the plain argmax)."""
        single = isinstance(uppers, str)
        lines = [self.check(uppers)] if single else [self.check(u, i + 1) for i, u in enumerate(uppers)]
        unk = self.index[UNK]
        answers = []
        for upper, scores in zip(lines, self.log_probs(lines)):
            ids = [self.index.get(c, unk) for c in upper]
            unknown = sorted({c for c, i in zip(upper, ids) if i == unk})
            if constrained:
                candidates = constrained_decode(upper, ids, scores, self.vocab, self.banned, n,
                                                self.level_tone_mask() if tone else None)
            else:
                best = plain_decode(ids, scores, np.array([self.index[PAD], unk]))
                candidates = [("".join(self.vocab[i] for i in best), float(scores[np.arange(len(best)), best].sum()))]
            answers.append(CoupletAnswer(upper, candidates, unknown))
        return answers[0] if single else answers

    def __call__(self, uppers: str | list[str], **kwargs):
        """The best lower line for one upper line, or a list of them for a list."""
        result = self.answer(uppers, **kwargs)
        return result.best if isinstance(result, CoupletAnswer) else [a.best for a in result]
