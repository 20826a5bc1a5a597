"""WoBERT vocabularies: read and write ``vocab.txt`` (one id per line), and build a new one.

A WoBERT vocabulary is a char-level BERT vocabulary, simplified as WoBERT did (bert4keras'
``load_vocab(simplified=True)``: tokens that the tokenizer can never produce, such as ``##`` plus
a CJK character or ``[unused1]``, are dropped), followed by the most frequent multi-character
words of a corpus as cut by jieba (提速不掉点:基于词颗粒度的中文WoBERT, kexue.fm/archives/7758).
Beyond the original, the words may come from a lexicon found by ``zhnlp discover-words``; those
that jieba's dictionary lacks are written to ``segmenter_words.txt`` beside the vocabulary so
that the tokenizer's segmentation actually produces them.
"""
from __future__ import annotations

import os
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import InputError

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
SEGMENTER_WORDS_FILE = "segmenter_words.txt"


def is_cjk(char: str) -> bool:
    """A CJK ideograph, as BERT's basic tokenizer defines it (each is split off as its own token)."""
    cp = ord(char)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def is_punctuation(char: str) -> bool:
    """BERT's punctuation: ASCII symbols and every Unicode P* category."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def read_vocab(path: str | os.PathLike) -> list[str]:
    """The tokens of a ``vocab.txt``, id = line number - 1.

    Lines are split on ``\\n`` only (a token may be U+2028 or another character that
    ``str.splitlines`` would break on), a trailing ``\\r`` is dropped, and an empty line keeps its
    id (line 243 of the published WoBERT vocabulary is empty).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such vocabulary: {path}",
                         "give a vocab.txt, e.g. ../shared/data/wobert/wobert_chinese_base/vocab.txt")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(f"{path}, line {line}: not UTF-8", "a vocab.txt must be UTF-8") from None
    tokens = text.split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    tokens = [t[:-1] if t.endswith("\r") else t for t in tokens]
    if not tokens:
        raise InputError(f"vocabulary {path} is empty", "give a vocab.txt with one token per line")
    return tokens


def write_vocab(tokens: Iterable[str], path: str | os.PathLike, force: bool = False) -> None:
    from ..outputs import atomic_output

    with atomic_output(path, force=force) as handle:
        for token in tokens:
            handle.write(token + "\n")


def simplify_base_vocab(tokens: list[str]) -> list[str]:
    """Drop the tokens a WoBERT tokenizer can never produce, as bert4keras' simplified load does.

    The special tokens come first; a multi-character token is dropped when its stem (without
    ``##``) holds a CJK character or punctuation, since BERT's basic tokenizer splits those off
    one by one. On the char-level Chinese BERT vocabulary this keeps 13,585 tokens: the published
    WoBERT base vocabulary's 13,586 less the U+2028 line that its file lost.
    """
    kept = [t for t in SPECIAL_TOKENS if t in tokens]
    seen = set(kept)
    for token in tokens:
        if token in seen:
            continue
        stem = token[2:] if token.startswith("##") else token
        if len(token) > 1 and any(is_cjk(c) or is_punctuation(c) for c in stem):
            continue
        kept.append(token)
        seen.add(token)
    return kept


def chars_vocab(char_counts: Counter, min_count: int = 1) -> list[str]:
    """A base vocabulary made from a corpus' characters, for when no char-level BERT is given:
    the special tokens, every character seen ``min_count`` times, and ``##`` forms of ASCII
    letters and digits so that WordPiece can spell Latin words."""
    tokens = list(SPECIAL_TOKENS)
    chars = [c for c, n in sorted(char_counts.items(), key=lambda kv: (-kv[1], kv[0]))
             if n >= min_count and not c.isspace() and unicodedata.category(c)[0] != "C"]
    tokens += chars
    tokens += [f"##{c}" for c in "0123456789abcdefghijklmnopqrstuvwxyz"]
    return tokens


@dataclass
class BuiltVocab:
    """A vocabulary and the words the segmenter must learn to produce its new words."""

    tokens: list[str]
    base_size: int
    words: list[tuple[str, int]]  # the words appended after the base, with their corpus counts
    segmenter_words: list[tuple[str, int]] = field(default_factory=list)  # (word, jieba count)
    stats: dict = field(default_factory=dict)

    def save(self, path: str | os.PathLike, force: bool = False) -> list[Path]:
        """Write ``vocab.txt`` at ``path`` (or inside it, when it is a folder or ends in /; the folder
        is created), with ``tokenizer_config.json`` and, when there are segmenter words,
        ``segmenter_words.txt`` beside it: a folder ``WoBertTokenizer.from_pretrained`` loads.
        Returns the files written."""
        from ..outputs import check_output_file
        from .tokenizer import WoBertTokenizer

        path = Path(path)
        target = path / "vocab.txt" if path.is_dir() or str(path).endswith(("/", os.sep)) else path
        target.parent.mkdir(parents=True, exist_ok=True)
        check_output_file(target, force)
        write_vocab(self.tokens, target, force=True)
        tokenizer = WoBertTokenizer(self.tokens, segmenter_words=self.segmenter_words)
        return [target, *tokenizer.save_pretrained(target.parent, vocab=False)]


def write_segmenter_words(words: Iterable[tuple[str, float]], path: str | os.PathLike, force: bool = False) -> None:
    """jieba's user-dictionary format, ``word count`` per line (``jieba.load_userdict`` reads it)."""
    from ..outputs import atomic_output

    with atomic_output(path, force=force) as handle:
        for word, count in words:
            handle.write(f"{word} {int(round(count))}\n")


def read_segmenter_words(path: str | os.PathLike) -> list[tuple[str, float]]:
    words = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                words.append((parts[0], float(parts[1])))
            except (IndexError, ValueError):
                raise InputError(f"{path}, line {number}: expected 'word count', got {line.strip()[:60]!r}",
                                 "fix that line, or build the vocabulary again with zhnlp wobert build-vocab") from None
    return words


def is_vocab_word(word: str) -> bool:
    """A word WoBERT adds to its vocabulary: two or more characters, all CJK."""
    return len(word) > 1 and all(is_cjk(c) for c in word)


def build_vocab(inputs, words: int = 20000, base_vocab: str | os.PathLike | None = None,
                lexicon: str | os.PathLike | None = None, simplify: bool = True, encoding: str = "utf-8",
                show_progress: bool = False, char_min_count: int = 1) -> BuiltVocab:
    """A WoBERT vocabulary: the base tokens plus the ``words`` most frequent words of the corpus.

    The corpus is cut exactly as the tokenizer will cut it: jieba's dictionary without HMM, plus,
    when ``lexicon`` is given, the lexicon's words (a lexicon word gets the jieba count that
    gives it the same probability it has in the lexicon, and at least the count that keeps it
    whole; the ones that make the vocabulary are returned as ``segmenter_words``). Without
    ``base_vocab`` the base is the corpus' characters seen ``char_min_count`` times (a rare
    character costs a row of embeddings and is seldom learnt; it reads as [UNK]).
    """
    from ..progress import progress_task
    from ..segmentation import JiebaSegmenter
    from ..textio import iter_lines, resolve_sources, total_bytes

    if words < 0:
        raise InputError(f"--words must be 0 or more, got {words}", "e.g. --words 20000")
    if base_vocab is not None and char_min_count != 1:
        raise InputError(f"--char-min-count {char_min_count} has no effect with --base-vocab {base_vocab}",
                         "give one of them: the base is either that vocabulary or the corpus' characters")
    segmenter = JiebaSegmenter.from_jieba()
    lexicon_words: dict[str, float] = {}
    if lexicon is not None:
        lexicon_words = lexicon_segmenter_words(segmenter, lexicon)
        for word, count in lexicon_words.items():
            segmenter.add_word(word, count)

    sources = resolve_sources(inputs)
    word_counts: Counter = Counter()
    char_counts: Counter = Counter()
    n_lines = 0
    with progress_task("counting words", total_bytes(sources), enabled=show_progress) as task:
        def on_bytes(n):
            task.advance(n)
        for line in iter_lines(sources, encoding, on_bytes=on_bytes):
            if not line.strip():
                continue
            n_lines += 1
            lowered = line.lower()
            word_counts.update(segmenter.cut(lowered))
            if base_vocab is None:
                char_counts.update(lowered)
    if not n_lines:
        raise InputError("the corpus has no text", "give one or more non-empty text files")

    if base_vocab is not None:
        base = read_vocab(base_vocab)
        if simplify:
            base = simplify_base_vocab(base)
    else:
        base = chars_vocab(char_counts, char_min_count)
    missing = [t for t in ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]") if t not in base]
    if missing:
        raise InputError(f"base vocabulary {base_vocab} lacks {', '.join(missing)}",
                         "give a BERT vocab.txt (it has [PAD] [UNK] [CLS] [SEP] [MASK])")
    in_base = set(base)
    ranked = sorted(((w, c) for w, c in word_counts.items() if is_vocab_word(w) and w not in in_base),
                    key=lambda wc: (-wc[1], wc[0]))[:words]
    segmenter_words = [(w, lexicon_words[w]) for w, _ in ranked if w in lexicon_words]
    stats = {"lines": n_lines, "distinct_words": len(word_counts), "base_tokens": len(base),
             "words_added": len(ranked), "lexicon_words_added": len(segmenter_words)}
    return BuiltVocab(base + [w for w, _ in ranked], len(base), ranked, segmenter_words, stats)


def lexicon_segmenter_words(segmenter, lexicon_path) -> dict[str, float]:
    """jieba counts for a discovered lexicon's multi-character words that jieba lacks or would split.

    A word gets count p_lexicon(w) * total_jieba, its probability in the lexicon's own unigram
    model, raised when needed to one more than what jieba's best split of it scores
    (as ``jieba.suggest_freq(word, tune=True)``), so that the word alone is cut whole.
    """
    from ..lexicon import Lexicon

    entries = Lexicon.load(lexicon_path)
    lexicon_total = sum(e.count for e in entries) or 1
    jieba_total = segmenter.lattice.total
    chosen: dict[str, float] = {}
    for entry in entries:
        word = entry.word.lower()
        if not is_vocab_word(word):
            continue
        pieces = segmenter.cut(word)
        if len(pieces) == 1:
            continue  # jieba already cuts it whole
        split_probability = 1.0
        for piece in pieces:
            split_probability *= max(segmenter.lattice.get_count(piece), 1.0) / jieba_total
        keep_whole = split_probability * jieba_total + 1
        chosen[word] = max(entry.count / lexicon_total * jieba_total, keep_whole)
    return chosen
