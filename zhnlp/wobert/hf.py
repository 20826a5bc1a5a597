"""The WoBERT tokenizer as Hugging Face users expect it: ``WoBertTokenizerFast``, a
``transformers.PreTrainedTokenizerFast`` over zhnlp's fast core (tokenizer.py).

Importing this module registers the class with ``AutoTokenizer``, so that every folder zhnlp writes
(and any with ``"tokenizer_class": "WoBertTokenizer"`` in its tokenizer_config.json) loads with
``AutoTokenizer.from_pretrained(folder)``; then ``pad``, ``DataCollatorWithPadding``,
``DataCollatorForLanguageModeling``, special tokens written in the text, ``return_special_tokens_mask``,
``return_length``, ``is_split_into_words``, ``word_ids()``, ``padding_side``/``truncation_side`` all
behave as in HF, since HF's own machinery does them.

The backend is a ``tokenizers.Tokenizer`` whose pre-tokenizer is the core's: lowercase and strip
accents, cut with jieba's DP, keep a vocabulary word whole, split any other word as BERT's basic
tokenizer does; WordPiece then spells each piece. So the ids are the core's, id for id (tested).
A custom pre-tokenizer cannot be serialized, so the folder holds ``vocab.txt`` and
``tokenizer_config.json``, not ``tokenizer.json``. Needs transformers (the ``zhnlp[torch]`` extra);
the core does not.
"""
from __future__ import annotations

import os
import unicodedata

from ..optional import require

require("transformers", "WoBertTokenizerFast")

from tokenizers import NormalizedString, PreTokenizedString, Tokenizer, models, pre_tokenizers, processors  # noqa: E402
from transformers import AutoConfig, AutoTokenizer, BertConfig, PreTrainedTokenizerFast  # noqa: E402

from .tokenizer import _KEPT_AS_UNK, _MAYBE_ACCENTED, WORD_MAX_LENGTH, WoBertTokenizer  # noqa: E402
from .vocab import SEGMENTER_WORDS_FILE, is_cjk, is_punctuation, read_segmenter_words  # noqa: E402


class _JiebaPreTokenizer:
    """The core's cut, as a tokenizers pre-tokenizer: the pieces WordPiece then spells."""

    def __init__(self, core: WoBertTokenizer):
        self.core = core

    def pre_tokenize(self, pretok: PreTokenizedString) -> None:
        pretok.split(self._split)

    def _split(self, index: int, normalized: NormalizedString) -> list[NormalizedString]:
        core = self.core
        text = str(normalized)
        if core.do_lower_case:
            normalized.lowercase()
            if _MAYBE_ACCENTED.search(str(normalized)):
                normalized.nfd()
                normalized.filter(lambda ch: unicodedata.category(ch) != "Mn")
            text = str(normalized)
        pieces: list[NormalizedString] = []
        start = 0
        for word in core._segmenter.cut(text):
            end = start + len(word)
            if word in core.vocab:
                pieces.append(normalized[start:end])
            elif core.oov == "subwords" and len(word) > 1 and all(is_cjk(c) for c in word):
                flat = core._fewest_words(word)
                pieces += [normalized[start + flat[j + 1]:start + flat[j + 2]] for j in range(0, len(flat), 3)]
            else:
                pieces += self._basic(normalized, word, start)
            start = end
        return pieces

    @staticmethod
    def _basic(normalized: NormalizedString, word: str, start: int) -> list[NormalizedString]:
        """BERT's basic tokenizer on one word: CJK characters and punctuation apart, whitespace a
        break, NUL, U+FFFD and Cc/Cf dropped; a private-use character stays (WordPiece: [UNK])."""
        pieces, run = [], None
        for i, ch in enumerate(word):
            category = unicodedata.category(ch)
            alone = is_cjk(ch) or is_punctuation(ch) or (category in _KEPT_AS_UNK)
            gap = ch.isspace() or ord(ch) in (0, 0xFFFD) or category in ("Cc", "Cf")
            if (alone or gap) and run is not None:
                pieces.append(normalized[start + run:start + i])
                run = None
            if alone:
                pieces.append(normalized[start + i:start + i + 1])
            elif not gap and run is None:
                run = i
        if run is not None:
            pieces.append(normalized[start + run:start + len(word)])
        return pieces


def _backend(core: WoBertTokenizer) -> Tokenizer:
    backend = Tokenizer(models.WordPiece(vocab=core.vocab, unk_token="[UNK]",
                                         max_input_chars_per_word=WORD_MAX_LENGTH))
    backend.pre_tokenizer = pre_tokenizers.PreTokenizer.custom(_JiebaPreTokenizer(core))
    backend.post_processor = processors.BertProcessing(("[SEP]", core.sep_token_id), ("[CLS]", core.cls_token_id))
    return backend


class WoBertTokenizerFast(PreTrainedTokenizerFast):
    """WoBERT's tokenizer behind transformers' API (see the module docstring).

    >>> from transformers import AutoTokenizer; import zhnlp.wobert.hf  # doctest: +SKIP
    >>> tok = AutoTokenizer.from_pretrained("wobert-folder")  # doctest: +SKIP
    >>> tok("今天[MASK]很好").tokens()  # doctest: +SKIP
    ['[CLS]', '今天', '[MASK]', '很', '好', '[SEP]']
    """

    vocab_files_names = {"vocab_file": "vocab.txt"}
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    slow_tokenizer_class = None

    def __init__(self, vocab_file: str | os.PathLike | None = None, do_lower_case: bool = True, oov: str = "chars",
                 segmenter_words: str | None = None, unk_token: str = "[UNK]", sep_token: str = "[SEP]",
                 pad_token: str = "[PAD]", cls_token: str = "[CLS]", mask_token: str = "[MASK]", **kwargs):
        if vocab_file is None:
            raise ValueError("WoBertTokenizerFast needs vocab_file (a WoBERT vocab.txt)")
        words = []
        if segmenter_words:
            path = segmenter_words if os.path.isabs(segmenter_words) else \
                os.path.join(os.path.dirname(str(vocab_file)), segmenter_words)
            if os.path.isfile(path):
                words = read_segmenter_words(path)
        for key in ("tokenizer_object", "tokenizer_file"):
            kwargs.pop(key, None)
        self.core = WoBertTokenizer(vocab_file, do_lower_case=do_lower_case, oov=oov, segmenter_words=words,
                                    model_max_length=kwargs.get("model_max_length", 512))
        self._tokenizer = _backend(self.core)
        super().__init__(vocab_file=str(vocab_file), do_lower_case=do_lower_case, oov=oov,
                         segmenter_words=segmenter_words, unk_token=unk_token, sep_token=sep_token,
                         pad_token=pad_token, cls_token=cls_token, mask_token=mask_token, **kwargs)

    def __deepcopy__(self, memo):  # the backend's custom pre-tokenizer cannot be pickled: build anew
        return self.__class__(**{**self.init_kwargs, "vocab_file": self.vocab_file})

    def _save_pretrained(self, save_directory, file_names, legacy_format=None, filename_prefix=None):
        written = self.core.save_pretrained(save_directory)
        return tuple(file_names) + tuple(str(path) for path in written
                                         if not str(path).endswith("tokenizer_config.json"))

    def save_pretrained(self, save_directory, *args, **kwargs):
        """vocab.txt, segmenter_words.txt (when there are words) and HF's tokenizer_config.json."""
        if self.core.segmenter_words:
            self.init_kwargs["segmenter_words"] = SEGMENTER_WORDS_FILE
        return super().save_pretrained(save_directory, *args, **kwargs)

    def decode(self, token_ids, skip_special_tokens: bool = False, **kwargs) -> str:
        """The core's decode: no spaces between Chinese words."""
        if hasattr(token_ids, "tolist"):
            token_ids = token_ids.tolist()
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        return self.core.decode(token_ids, skip_special_tokens=skip_special_tokens)


class WoBertConfig(BertConfig):
    """A BERT config whose only purpose is to register WoBertTokenizerFast with AutoTokenizer
    (folders keep ``model_type: bert``, which every transformers model class reads)."""

    model_type = "wobert"


AutoConfig.register("wobert", WoBertConfig, exist_ok=True)
AutoTokenizer.register(WoBertConfig, fast_tokenizer_class=WoBertTokenizerFast, exist_ok=True)
