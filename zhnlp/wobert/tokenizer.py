"""WoBERT's word-level tokenizer: jieba words first, BERT's WordPiece for the rest.

The rules, and which reference each follows (``reference.py`` writes them out plainly, and the tests
check this class against it id for id):

- bert4keras 0.8.8, the tokenizer WoBERT was trained with (提速不掉点:基于词颗粒度的中文WoBERT,
  kexue.fm/archives/7758): the text is lowercased and its accents stripped (NFD, combining marks
  dropped: ``Héllo`` -> ``hello``) *before* jieba; it is cut as ``jieba.cut(text, HMM=False)`` with
  jieba 0.42.1's dictionary; a word in the vocabulary is one token; any other word goes through
  BERT's basic tokenizer and WordPiece, so an unknown Chinese word falls back to its characters; a
  private-use (or unassigned) character is kept, as bert4keras keeps it, and so is one [UNK] (the
  PyTorch port drops it); a word of over 200 characters is one [UNK] (bert4keras' limit; HF's is 100).
- Hugging Face and the published PyTorch port (JunnYu/WoBERT_pytorch): a special token written in
  the text (``今天[MASK]很好``) is one token, so that fill-mask works; bert4keras would spell it out.

This class gives those ids fast: the cut runs on the compiled unigram DP that ``zhnlp segment``
uses (:class:`~zhnlp.segmentation.JiebaSegmenter`), WordPiece runs in HF ``tokenizers``, and each
distinct word's pieces are computed once and cached. ``hf.WoBertTokenizerFast`` puts it behind
transformers' tokenizer API. Neither torch nor transformers is imported unless tensors are asked for.
"""
from __future__ import annotations

import json
import os
import re
import unicodedata
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import InputError
from ..textio import parse_json
from .vocab import (SEGMENTER_WORDS_FILE, SPECIAL_TOKENS, is_cjk, read_segmenter_words, read_vocab,
                    write_segmenter_words, write_vocab)

CONFIG_FILE = "tokenizer_config.json"
VOCAB_FILE = "vocab.txt"
OOV_MODES = ("chars", "subwords")
MAX_CACHED_WORDS = 1 << 20  # distinct words whose pieces are kept; the cache is cleared beyond this
_UNIFIED_HAN = re.compile("[\u4e00-\u9fff]+")
# characters that lowercasing + NFD + dropping combining marks might change: anything but ASCII, the
# CJK ideographs (the compatibility ones F900-FAFF do decompose), CJK and general punctuation
# (less the ideographic tone marks U+302A-302F) and the full-width forms; text without them is
# checked no further
_MAYBE_ACCENTED = re.compile("[^\x00-\x7f\u2000-\u206f\u3000-\u3029\u3030-\u303f\u3400-\u4dbf\u4e00-\u9fff"
                             "\uff00-\uffef]")
_KEPT_AS_UNK = ("Co", "Cn", "Cs")  # private-use, unassigned: bert4keras keeps them (-> [UNK]), HF drops them
WORD_MAX_LENGTH = 200  # bert4keras' _word_maxlen: a longer word is one [UNK]


def _strip_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")


class BatchEncoding(dict):
    """``input_ids``, ``token_type_ids``, ``attention_mask`` (and ``offset_mapping``, ``word_ids``
    when asked for): lists, or tensors after ``return_tensors``. ``model(**encoding)`` works once
    the non-model keys are popped, as with Hugging Face tokenizers."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to(self, device) -> "BatchEncoding":
        """Move every tensor to ``device`` (torch tensors only)."""
        return BatchEncoding({k: v.to(device) if hasattr(v, "to") else v for k, v in self.items()})


class WoBertTokenizer:
    """Word-level tokenizer of WoBERT, id-for-id identical to the reference path.

    >>> tok = WoBertTokenizer.from_pretrained("path/to/wobert")  # doctest: +SKIP
    >>> tok.tokenize("今天天气不错")  # doctest: +SKIP
    ['今天', '天气', '不错']
    >>> batch = tok(["今天天气不错", "你好"], padding=True, return_tensors="pt")  # doctest: +SKIP
    >>> model(**batch)  # doctest: +SKIP

    ``oov="subwords"`` (off by default, since the published models were trained without it) cuts
    an out-of-vocabulary Chinese word into the fewest vocabulary words (今天天气 -> 今天 天气)
    instead of single characters.
    """

    def __init__(self, vocab: str | os.PathLike | Sequence[str], *, do_lower_case: bool = True,
                 oov: str = "chars", segmenter_words: Iterable[tuple[str, float]] = (),
                 model_max_length: int = 512, padding_side: str = "right", truncation_side: str = "right"):
        if oov not in OOV_MODES:
            raise InputError(f"unknown oov mode: {oov!r}", f"use one of {', '.join(OOV_MODES)}")
        tokens = read_vocab(vocab) if isinstance(vocab, (str, os.PathLike)) else list(vocab)
        self.ids_to_tokens: list[str] = tokens
        self.vocab: dict[str, int] = {}
        for index, token in enumerate(tokens):
            self.vocab[token] = index  # a repeated token keeps its last id, as BERT's load_vocab does
        for special in ("[UNK]", "[CLS]", "[SEP]", "[PAD]"):
            if special not in self.vocab:
                raise InputError(f"the vocabulary has no {special} token",
                                 "give a BERT or WoBERT vocab.txt (it has [PAD] [UNK] [CLS] [SEP] [MASK])")
        for name, side in (("padding_side", padding_side), ("truncation_side", truncation_side)):
            if side not in ("right", "left"):
                raise InputError(f"{name} must be 'right' or 'left', not {side!r}", f"pass {name}='left' or 'right'")
        self.padding_side = padding_side  # where [PAD] goes, as in HF
        self.truncation_side = truncation_side  # which end truncation cuts, as in HF
        self.do_lower_case = do_lower_case
        self.oov = oov
        self.model_max_length = model_max_length
        self.segmenter_words = list(segmenter_words)
        self.unk_token_id = self.vocab["[UNK]"]
        self.cls_token_id = self.vocab["[CLS]"]
        self.sep_token_id = self.vocab["[SEP]"]
        self.pad_token_id = self.vocab["[PAD]"]
        self.mask_token_id = self.vocab.get("[MASK]")
        self.all_special_ids = {self.vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
                                if t in self.vocab}
        self._segmenter = _jieba_segmenter(tuple(self.segmenter_words))
        self._wordpiece = _wordpiece_tokenizer(self.vocab, do_lower_case)
        self._pieces: dict[str, tuple[int, ...]] = {}  # word -> (id, start, end, id, start, end, ...)
        self._longest_word = min(16, max((len(t) for t in self.vocab), default=1))
        specials = [t for t in SPECIAL_TOKENS if t in self.vocab]
        self._specials = re.compile("|".join(map(re.escape, specials)))

    # ------------------------------------------------------------------ the core
    def __len__(self) -> int:
        return len(self.ids_to_tokens)

    @property
    def vocab_size(self) -> int:
        return len(self.ids_to_tokens)

    def cut(self, text: str) -> list[str]:
        """The words of ``text`` (lowercased first), as ``jieba.lcut(text, HMM=False)`` gives them."""
        return self._segmenter.cut(text.lower() if self.do_lower_case else text)

    def encode_words(self, text: str, offsets: bool = True,
                     word_ids: bool = True) -> tuple[list[int], list[tuple[int, int]] | None, list[int] | None]:
        ids, flat, words = self.encode_words_flat(text, offsets, word_ids)
        return ids, (list(zip(flat[0::2], flat[1::2])) if offsets else None), words

    def encode_words_flat(self, text: str, offsets: bool = True,
                          word_ids: bool = True) -> tuple[list[int], list[int] | None, list[int] | None]:
        """Token ids of one text without special tokens; with ``offsets``, each token's character
        span in ``text``; with ``word_ids``, the index of the jieba word each token came from
        (for whole-word masking). What is not asked for is None. A special token written in the text
        is one token (and one word). ``encode_words_flat`` gives the spans flat: [start, end, start, ...]."""
        if "[" not in text or self._specials.search(text) is None:
            return self._encode_plain(text, offsets, word_ids)
        ids: list[int] = []
        spans: list[int] | None = [] if offsets else None
        words: list[int] | None = [] if word_ids else None
        start = next_word = 0

        def add(part_ids, part_spans, part_words, shift):
            nonlocal next_word
            ids.extend(part_ids)
            if offsets:
                spans.extend(x + shift for x in part_spans)
            if word_ids:
                words.extend(w + next_word for w in part_words)
                next_word = words[-1] + 1 if words else next_word

        for match in self._specials.finditer(text):
            if match.start() > start:
                add(*self._encode_plain(text[start:match.start()], offsets, word_ids), start)
            add([self.vocab[match.group()]], [match.start(), match.end()], [0], 0)
            start = match.end()
        if start < len(text):
            add(*self._encode_plain(text[start:], offsets, word_ids), start)
        return ids, spans, words

    def _encode_plain(self, text: str, offsets: bool, word_ids: bool):
        char_map = None
        if self.do_lower_case:
            lowered = text.lower()
            if len(lowered) != len(text) or _MAYBE_ACCENTED.search(lowered):
                # per character: 'İ' lowercases to two, 'é' strips to 'e', a lone combining mark to nothing
                pieces = ([_strip_accents(c.lower()) for c in text] if len(lowered) != len(text)
                          else [_strip_accents(c) for c in lowered])
                lowered = "".join(pieces)
                if len(lowered) != len(text):
                    char_map = [i for i, p in enumerate(pieces) for _ in p] + [len(text)]
        else:
            lowered = text
        ids, flat_spans, indices, _ = self._segmenter.lattice.encode_jieba(lowered, self._pieces, offsets,
                                                                           word_ids, self._word_pieces)
        if offsets and char_map is not None:  # back to the input's characters
            flat_spans = [x for s, e in zip(flat_spans[0::2], flat_spans[1::2])
                          for x in (char_map[s], char_map[e - 1] + 1 if e > s else char_map[s])]
        return ids, flat_spans if offsets else None, indices

    def _word_pieces(self, word: str) -> tuple[int, ...]:
        """The pieces of a word not seen before, ``(id, start, end, ...)``, now cached."""
        cache = self._pieces
        if len(cache) > MAX_CACHED_WORDS:
            cache.clear()
        token_id = self.vocab.get(word)
        if token_id is not None:
            pieces = (token_id, 0, len(word))
        elif self.oov == "subwords" and len(word) > 1 and all(is_cjk(c) for c in word):
            pieces = self._fewest_words(word)
        elif len(word) == 1 and unicodedata.category(word) in _KEPT_AS_UNK:
            pieces = (self.unk_token_id, 0, 1)
        elif _UNIFIED_HAN.fullmatch(word):
            # what BERT's basic tokenizer + WordPiece give, without the call: one token per
            # character, [UNK] when absent (these characters are unchanged by NFD and lowercasing)
            pieces = tuple(x for i, c in enumerate(word) for x in (self.vocab.get(c, self.unk_token_id), i, i + 1))
        else:
            encoding = self._wordpiece.encode([word], is_pretokenized=True)
            pieces = tuple(x for i, (s, e) in zip(encoding.ids, encoding.offsets) for x in (i, s, e))
        cache[word] = pieces
        return pieces

    def _fewest_words(self, word: str) -> tuple[int, ...]:
        """Cut a Chinese word into the fewest vocabulary entries (ties: the longer piece first)."""
        n = len(word)
        fewest = [0] + [n + 1] * n
        cut_at = [0] * (n + 1)
        for end in range(1, n + 1):
            for start in range(max(0, end - self._longest_word), end):
                if end - start > 1 and word[start:end] not in self.vocab:
                    continue
                if fewest[start] + 1 < fewest[end]:
                    fewest[end] = fewest[start] + 1
                    cut_at[end] = start
        spans = []
        end = n
        while end > 0:
            spans.append((cut_at[end], end))
            end = cut_at[end]
        spans.reverse()
        return tuple(x for s, e in spans for x in (self.vocab.get(word[s:e], self.unk_token_id), s, e))

    # ------------------------------------------------------------------ the Hugging Face face
    def tokenize(self, text: str) -> list[str]:
        return self.convert_ids_to_tokens(self.encode_words(text, offsets=False, word_ids=False)[0])

    def encode(self, text: str, text_pair: str | None = None, add_special_tokens: bool = True,
               max_length: int | None = None, truncation: bool | str = False) -> list[int]:
        return self(text, text_pair, add_special_tokens=add_special_tokens, max_length=max_length,
                    truncation=truncation)["input_ids"]

    def convert_ids_to_tokens(self, ids: Iterable[int] | int):
        if isinstance(ids, int):
            return self.ids_to_tokens[ids]
        return [self.ids_to_tokens[i] for i in ids]

    def convert_tokens_to_ids(self, tokens: Iterable[str] | str):
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_token_id)
        return [self.vocab.get(t, self.unk_token_id) for t in tokens]

    def __call__(self, text: str | Sequence[str], text_pair: str | Sequence[str] | None = None, *,
                 add_special_tokens: bool = True, max_length: int | None = None,
                 truncation: bool | str = False, padding: bool | str = False,
                 return_tensors: str | None = None, return_offsets_mapping: bool = False,
                 return_word_ids: bool = False) -> BatchEncoding:
        """Encode one text, a text pair, or a batch of either.

        truncation: True/'longest_first' (drop from the longer text), 'only_first', 'only_second';
        max_length defaults to ``model_max_length`` when truncating. padding: True/'longest' or
        'max_length', on the right with [PAD]. return_tensors: 'pt' (torch) or 'np' (numpy).
        Offsets are character spans in the input text, (0, 0) for special tokens.
        """
        batched = not isinstance(text, str)
        texts = list(text) if batched else [text]
        if text_pair is None:
            pairs = [None] * len(texts)
        else:
            pairs = list(text_pair) if batched else [text_pair]
            if isinstance(text_pair, str) == batched or len(pairs) != len(texts):
                raise InputError("text and text_pair must both be one string or lists of the same length",
                                 "pass tokenizer(texts, pairs) with len(texts) == len(pairs)")
        strategy = _truncation_strategy(truncation)
        if strategy and max_length is None:
            max_length = self.model_max_length
        rows = [self._encode_row(a, b, add_special_tokens, max_length, strategy, return_offsets_mapping,
                                 return_word_ids) for a, b in zip(texts, pairs)]
        keys = ["input_ids", "token_type_ids", "attention_mask"]
        if return_offsets_mapping:
            keys.append("offset_mapping")
        if return_word_ids:
            keys.append("word_ids")
        columns = {k: [row[k] for row in rows] for k in keys}
        if padding:
            if padding is True or padding == "longest":
                width = max((len(r) for r in columns["input_ids"]), default=0)
            elif padding == "max_length":
                if max_length is None:
                    raise InputError("padding='max_length' needs max_length", "pass max_length=N")
                width = max_length
            else:
                raise InputError(f"unknown padding: {padding!r}", "use True, 'longest' or 'max_length'")
            fill = {"input_ids": self.pad_token_id, "token_type_ids": 0, "attention_mask": 0,
                    "offset_mapping": (0, 0), "word_ids": None}
            left = self.padding_side == "left"
            for key in keys:
                columns[key] = [[fill[key]] * (width - len(r)) + r if left else r + [fill[key]] * (width - len(r))
                                for r in columns[key]]
        if return_tensors is not None:
            if not padding and len({len(r) for r in columns["input_ids"]}) > 1:
                raise InputError("texts of different lengths cannot be stacked into one tensor",
                                 "pass padding=True with return_tensors")
            return BatchEncoding({k: _to_tensor(v, return_tensors) for k, v in columns.items() if k != "word_ids"}
                                 | ({"word_ids": columns["word_ids"]} if return_word_ids else {}))
        if not batched:
            columns = {k: v[0] for k, v in columns.items()}
        return BatchEncoding(columns)

    def _encode_row(self, text, pair, add_special_tokens, max_length, strategy, offsets, word_ids) -> dict:
        first = self.encode_words(text, offsets, word_ids)
        second = self.encode_words(pair, offsets, word_ids) if pair is not None else None
        if strategy and max_length is not None:
            room = max_length - ((3 if second is not None else 2) if add_special_tokens else 0)
            first, second = _truncate(first, second, max(room, 0), strategy, self.truncation_side)
        if second is None and add_special_tokens and not offsets and not word_ids:  # the common case, fast
            ids = [self.cls_token_id, *first[0], self.sep_token_id]
            return {"input_ids": ids, "token_type_ids": [0] * len(ids), "attention_mask": [1] * len(ids)}
        parts = [first] if second is None else [first, second]
        row = {"input_ids": [], "token_type_ids": [], "offset_mapping": [], "word_ids": []}
        for type_id, (part_ids, part_spans, part_words) in enumerate(parts):
            opening = add_special_tokens and type_id == 0
            closing = add_special_tokens
            row["input_ids"] += [self.cls_token_id] * opening + part_ids + [self.sep_token_id] * closing
            n = opening + len(part_ids) + closing
            row["token_type_ids"] += [type_id] * n
            if offsets:
                row["offset_mapping"] += [(0, 0)] * opening + part_spans + [(0, 0)] * closing
            if word_ids:
                row["word_ids"] += [None] * opening + part_words + [None] * closing
        row["attention_mask"] = [1] * len(row["input_ids"])
        return row

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        """Join tokens back into text: ``##`` pieces glue to the previous token, and a space goes
        only between two Latin letters or digits, never next to Chinese."""
        out: list[str] = []
        for token_id in ids:
            token_id = int(token_id)
            if skip_special_tokens and token_id in self.all_special_ids:
                continue
            token = self.ids_to_tokens[token_id]
            if token.startswith("##") and out:
                out.append(token[2:])
                continue
            if out and out[-1] and token and _latin(out[-1][-1]) and _latin(token[0]):
                out.append(" ")
            out.append(token)
        return "".join(out)

    def batch_decode(self, sequences, skip_special_tokens: bool = True) -> list[str]:
        return [self.decode(ids, skip_special_tokens) for ids in sequences]

    # ------------------------------------------------------------------ folders
    def save_pretrained(self, directory: str | os.PathLike, vocab: bool = True) -> list[Path]:
        """Write ``vocab.txt`` (unless ``vocab`` is False: the caller wrote it), ``tokenizer_config.json``
        and, when the segmenter has extra words, ``segmenter_words.txt`` into ``directory`` (created
        if needed). Returns the files written."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if vocab:
            write_vocab(self.ids_to_tokens, directory / VOCAB_FILE, force=True)
        config = {"tokenizer_class": "WoBertTokenizer", "do_lower_case": self.do_lower_case, "oov": self.oov,
                  "model_max_length": self.model_max_length,
                  "segmenter": "jieba 0.42.1 dictionary, HMM off (zhnlp JiebaSegmenter)"}
        written = [directory / VOCAB_FILE] * vocab + [directory / CONFIG_FILE]
        if self.segmenter_words:
            write_segmenter_words(self.segmenter_words, directory / SEGMENTER_WORDS_FILE, force=True)
            config["segmenter_words"] = SEGMENTER_WORDS_FILE
            written.append(directory / SEGMENTER_WORDS_FILE)
        from ..outputs import atomic_output

        with atomic_output(directory / CONFIG_FILE, force=True) as handle:
            json.dump(config, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
        return written

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **overrides) -> "WoBertTokenizer":
        """Load from a folder (or a ``vocab.txt`` path) holding ``vocab.txt`` and optionally
        ``tokenizer_config.json`` and ``segmenter_words.txt``, or from a Hugging Face hub id
        (the local cache first; downloads only when online). ``overrides`` replace config values."""
        from ..hub import resolve_model

        path = Path(name_or_path)
        if path.is_file():
            vocab_path, folder = path, path.parent
        else:
            folder = resolve_model(name_or_path, required=(VOCAB_FILE,), what="tokenizer")
            vocab_path = folder / VOCAB_FILE
        config: dict = {}
        if (folder / CONFIG_FILE).is_file():
            config = parse_json((folder / CONFIG_FILE).read_text(encoding="utf-8"), folder / CONFIG_FILE,
                                "fix the file or delete it to use the defaults")
        kwargs = {"do_lower_case": config.get("do_lower_case", True), "oov": config.get("oov", "chars"),
                  "model_max_length": int(config.get("model_max_length", 512))}
        words_file = folder / config.get("segmenter_words", SEGMENTER_WORDS_FILE)
        if words_file.is_file():
            kwargs["segmenter_words"] = read_segmenter_words(words_file)
        kwargs.update(overrides)
        return cls(vocab_path, **kwargs)


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _truncation_strategy(truncation) -> str | None:
    if truncation is False or truncation is None or truncation == "do_not_truncate":
        return None
    if truncation is True:
        return "longest_first"
    if truncation in ("longest_first", "only_first", "only_second"):
        return truncation
    raise InputError(f"unknown truncation: {truncation!r}", "use True, 'longest_first', 'only_first' or 'only_second'")


def _truncate(first, second, room: int, strategy: str, side: str = "right"):
    """Cut (ids, offsets, word_ids) triples so that together they hold at most ``room`` tokens, from
    the end (``side`` right) or from the start (left), as HF's truncation_side."""
    def cut(part, keep):
        if side == "left":
            return tuple(None if column is None else column[len(column) - keep:] for column in part)
        return tuple(None if column is None else column[:keep] for column in part)

    len1, len2 = len(first[0]), len(second[0]) if second is not None else 0
    excess = len1 + len2 - room
    if excess <= 0:
        return first, second
    if strategy == "only_first" or second is None:
        return cut(first, max(len1 - excess, 0)), second
    if strategy == "only_second":
        return first, cut(second, max(len2 - excess, 0))
    # longest_first: take one token at a time from the longer one (the first on a tie)
    while excess > 0:
        if len1 >= len2:
            len1 -= 1
        else:
            len2 -= 1
        excess -= 1
    return cut(first, len1), cut(second, len2)


def _to_tensor(rows, kind: str):
    if kind == "pt":
        from ..optional import require

        torch = require("torch", "return_tensors='pt'")

        return torch.tensor(rows, dtype=torch.long)
    if kind == "np":
        import numpy as np

        return np.asarray(rows, dtype=np.int64)
    raise InputError(f"unknown return_tensors: {kind!r}", "use 'pt' or 'np'")


_SEGMENTERS: dict = {}


def _jieba_segmenter(extra_words: tuple):
    """jieba's dictionary on the compiled DP, loaded once per process for each set of extra words."""
    segmenter = _SEGMENTERS.get(extra_words)
    if segmenter is None:
        from ..segmentation import JiebaSegmenter

        segmenter = _SEGMENTERS[extra_words] = JiebaSegmenter.from_jieba(extra_words)
    return segmenter


def _wordpiece_tokenizer(vocab: dict[str, int], lowercase: bool):
    """BERT's basic tokenizer and WordPiece, in HF ``tokenizers`` (one word at a time)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    tokenizer = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=WORD_MAX_LENGTH))
    tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                      strip_accents=None, lowercase=lowercase)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer
