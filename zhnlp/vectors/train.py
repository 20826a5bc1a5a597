"""Training vectors for a vocabulary on a corpus: word2vec (skip-gram with negative sampling, Mikolov
et al. 2013) through gensim, on the corpus streamed from disk once per epoch.

The units are the vocabulary's own: each line is lowercased and cut as WoBERT cuts it (jieba 0.42.1
without HMM, on zhnlp's compiled DP); a word in the vocabulary is one unit, any other word gives its
characters that the vocabulary has. ``unit="both"`` (the default) also reads each line as its
characters, so that characters get vectors from their own contexts too and sit in one space with the
words (Su's DGCNN extraction model adds a character's vector and its word's); ``"words"`` or
``"chars"`` keep one of the two.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import InputError
from .vectors import Vectors

UNITS = ("both", "words", "chars")


class _Sentences:
    """The corpus as lists of units, streamed again for every pass gensim makes."""

    def __init__(self, sources, vocab: set[str], unit: str, encoding: str, on_line=None):
        from ..segmentation import JiebaSegmenter

        self.sources, self.vocab, self.unit, self.encoding = sources, vocab, unit, encoding
        self.segmenter = JiebaSegmenter.from_jieba() if unit != "chars" else None
        self.on_line = on_line
        self.lines = 0

    def __iter__(self) -> Iterator[list[str]]:
        from ..textio import iter_lines

        vocab = self.vocab
        self.lines = 0
        for line in iter_lines(self.sources, self.encoding):
            line = line.strip().lower()
            if not line:
                continue
            self.lines += 1
            if self.on_line is not None:
                self.on_line()
            if self.segmenter is not None:
                units = []
                for word in self.segmenter.cut(line):
                    if word in vocab:
                        units.append(word)
                    elif not word.isspace():
                        units.extend(c for c in word if c in vocab)
                if len(units) > 1:
                    yield units
            if self.unit != "words":
                chars = [c for c in line if c in vocab]
                if len(chars) > 1:
                    yield chars


def train_vectors(inputs: str | os.PathLike | Iterable[str | os.PathLike], vocab: str | os.PathLike | list[str],
                  output_dir: str | os.PathLike | None = None, dim: int = 128, window: int = 5, min_count: int = 2,
                  epochs: int = 5, unit: str = "both", workers: int = 0, seed: int = 0, encoding: str = "utf-8",
                  force: bool = False, show_progress: bool = False) -> Vectors:
    """Vectors for the tokens of ``vocab`` (a vocab.txt, one token a line, or a list) from the
    corpus ``inputs`` (files, folders, '-'; streamed, read ``epochs`` + 1 times); written to
    ``output_dir`` when given (a typed folder: ``Vectors.from_pretrained`` loads it). Tokens seen
    fewer than ``min_count`` times get none. ``workers``: gensim's threads (0: one per core);
    with 1 the result depends on ``seed`` alone."""
    from ..optional import require

    require("gensim", "zhnlp vectors train")
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    from ..outputs import check_output_folder
    from ..progress import progress_task
    from ..textio import resolve_sources, total_bytes

    if unit not in UNITS:
        raise InputError(f"unknown unit: {unit!r}", f"use one of {', '.join(UNITS)}")
    if dim < 1 or window < 1 or epochs < 1 or min_count < 1:
        raise InputError("--dim, --window, --epochs and --min-count must be 1 or more", "e.g. --dim 128 --epochs 5")
    if output_dir is not None:
        check_output_folder(output_dir, force)
    tokens = _read_vocab(vocab)
    sources = resolve_sources(inputs)
    if any(source.path is None for source in sources):
        raise InputError("standard input cannot be read once per epoch", "save the corpus to a file and give its path")
    started = time.perf_counter()
    passes = epochs + 1  # one to build gensim's vocabulary, one per epoch
    with progress_task("training vectors", total=(total_bytes(sources) or 0) * passes or None,
                       enabled=show_progress) as task:
        sentences = _Sentences(sources, set(tokens), unit, encoding)

        class Progress(CallbackAny2Vec):
            def on_epoch_end(self, model):
                task.advance(total_bytes(sources) or 0)

        model = Word2Vec(vector_size=dim, window=window, min_count=min_count, sg=1, negative=5, seed=seed,
                         workers=workers or os.cpu_count() or 1)
        model.build_vocab(sentences)
        task.advance(total_bytes(sources) or 0)
        if not len(model.wv):
            raise InputError(f"no token of the vocabulary occurs {min_count} times in the corpus",
                             "give a larger corpus, the vocabulary of this text, or a lower --min-count")
        model.train(sentences, total_examples=model.corpus_count, epochs=epochs, callbacks=[Progress()])
    known = [token for token in tokens if token in model.wv.key_to_index]
    config = {"unit": unit, "window": window, "min_count": min_count, "epochs": epochs, "method": "word2vec skip-gram "
              "(gensim)", "corpus": [s.name for s in sources], "lines": sentences.lines,
              "vocab_tokens": len(tokens), "seconds": round(time.perf_counter() - started, 1)}
    vectors = Vectors(known, model.wv[known] if known else [], config)
    if output_dir is not None:
        vectors.save_pretrained(output_dir)
    return vectors


def _read_vocab(vocab) -> list[str]:
    if isinstance(vocab, (list, tuple)):
        return [t for t in vocab if t]
    from ..textio import read_small_text

    path = Path(vocab)
    text = read_small_text(path, "utf-8", (f"no such vocabulary: {path}",
                                           "give a vocab.txt (one token a line), e.g. a WoBERT or couplet model's"))
    tokens = [t for t in text.split("\n") if t and not t.isspace()]
    if not tokens:
        raise InputError(f"{path} has no tokens", "give a vocab.txt with one token a line")
    return tokens
