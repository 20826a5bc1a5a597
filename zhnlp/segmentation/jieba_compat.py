"""``jieba.lcut(text, HMM=False)``, exactly, on the project's compiled unigram DP.

jieba 0.42.1 without HMM: the text is split into blocks of ``[\\u4E00-\\u9FD5a-zA-Z0-9+#&._%-]``; in a
block, the maximum-probability path through the DAG of dictionary words is taken (a position where
no word starts falls back to its single character), and runs of single-character ASCII letters or
digits on that path are joined into one token; outside the blocks, ``\\r\\n`` and each whitespace
character are tokens, and every other character is a token of its own. All of it runs in
``WordLattice.cut_jieba``, on the DP that ``zhnlp segment`` uses, loaded with jieba's dictionary
(WoBERT's tokenizer relies on this).
"""
from __future__ import annotations

import os
from typing import Iterable

from .._native import kernels
from ..errors import InputError


def jieba_dictionary_path() -> str:
    """Path of the dict.txt that the installed jieba ships."""
    try:
        import jieba
    except ImportError:
        raise InputError("jieba is not installed", "pip install jieba==0.42.1") from None
    return os.path.join(os.path.dirname(jieba.__file__), "dict.txt")


def _cache_file(path: str | os.PathLike):
    """Where the lattice of a dictionary file is cached, or None when the file cannot be read."""
    import hashlib

    from .. import __version__
    from .._native import COMPILED
    from ..info import cache_dir

    try:
        resolved = os.path.realpath(path)
        info = os.stat(resolved)
    except OSError:
        return None
    key = f"{resolved}|{info.st_size}|{info.st_mtime_ns}|{'compiled' if COMPILED else 'pure'}|{__version__}"
    return cache_dir() / "lattices" / (hashlib.sha1(key.encode("utf-8")).hexdigest() + ".bin")


def _write_cache(target, data: bytes) -> None:
    """Write a cache file atomically; a cache folder that cannot be written is no error."""
    from ..errors import OutputError
    from ..outputs import atomic_path

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
    except (OSError, OutputError):
        pass


class JiebaSegmenter:
    """Cuts text as ``jieba.lcut(text, HMM=False)`` does, given the same dictionary.

    >>> seg = JiebaSegmenter.from_jieba()  # doctest: +SKIP
    >>> seg.cut("我来到北京清华大学")  # doctest: +SKIP
    ['我', '来到', '北京', '清华大学']
    """

    def __init__(self, words: Iterable[tuple[str, float]]):
        self.lattice = kernels.WordLattice()
        total = 0.0
        for word, count in words:
            # as jieba's gen_pfdict: a repeated word keeps its last count, the total counts them all
            self.lattice.set_count(word, float(count))
            total += count
        self.lattice.total = total

    def add_word(self, word: str, count: float) -> None:
        """As ``jieba.add_word(word, count)``: the word takes this count, the total grows by it."""
        total = self.lattice.total + count
        self.lattice.set_count(word, float(count))
        self.lattice.total = total

    @classmethod
    def from_dict_file(cls, path: str | os.PathLike, cache: bool = True) -> "JiebaSegmenter":
        """A jieba-format dictionary: ``word freq [tag]`` per line. ``cache``: keep the built
        lattice under zhnlp's cache folder (keyed by the file's path, size and time, and by the
        kernels in use) and load it from there next time: jieba's dictionary then takes 20 ms, not
        0.4 s. ``ZHNLP_NO_CACHE=1`` turns the cache off; a cache that cannot be written is skipped."""
        cached = _cache_file(path) if cache and not os.environ.get("ZHNLP_NO_CACHE") else None
        if cached is not None:
            try:
                segmenter = cls(())
                segmenter.lattice = kernels.WordLattice.from_bytes(cached.read_bytes())
                return segmenter
            except (OSError, ValueError):
                pass
        with open(path, encoding="utf-8") as f:
            text = f.read()
        segmenter = cls(())
        if segmenter.lattice.load_dictionary(text) == 0:  # the whole file in the kernel, at once
            if cached is not None:
                _write_cache(cached, segmenter.lattice.to_bytes())
            return segmenter

        def entries():
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    parts = line.strip().split(" ")
                    if not parts[0]:
                        continue
                    try:
                        yield parts[0], int(parts[1])
                    except (IndexError, ValueError):
                        raise InputError(f"{path}, line {number}: expected 'word freq', got {line.strip()[:60]!r}",
                                         "fix that line of the dictionary") from None
        return cls(entries())

    @classmethod
    def from_jieba(cls, extra_words: Iterable[tuple[str, float]] = ()) -> "JiebaSegmenter":
        """jieba's own dictionary, plus extra (word, count) pairs as ``jieba.add_word`` would add."""
        segmenter = cls.from_dict_file(jieba_dictionary_path())
        for word, count in extra_words:
            segmenter.add_word(word, count)
        return segmenter

    def cut(self, text: str) -> list[str]:
        """The words of ``text``, as ``jieba.lcut(text, HMM=False)`` gives them."""
        return self.lattice.cut_jieba(text)

    def __call__(self, texts):
        if isinstance(texts, str):
            return self.cut(texts)
        return [self.cut(t) for t in texts]
