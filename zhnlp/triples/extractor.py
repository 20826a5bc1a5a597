"""``TripleExtractor``: (subject, predicate, object) triples from sentences.

    >>> from zhnlp.triples import TripleExtractor
    >>> extract = TripleExtractor.from_pretrained("triples-model")  # doctest: +SKIP
    >>> extract("《平凡的世界》是中国作家路遥创作的一部长篇小说").triples  # doctest: +SKIP
"""
from __future__ import annotations

import os
from typing import Sequence

from ..errors import InputError
from .extract import THRESHOLDS, CharPieces, Extraction, extract_batch


def _choices(config) -> dict:
    """What training chose on dev and config.json keeps: the thresholds, whether to add known triples."""
    return {"thresholds": config.thresholds, "add_known": config.add_known, "known_score": config.known_score}


class TripleExtractor:
    def __init__(self, model, vocab: list[str], predicates: list[str], device, description: str, pieces=None,
                 thresholds=THRESHOLDS * 2, add_known: bool = False, known_score: float = 0.0):
        self.model = model
        self.vocab = vocab
        self.pieces = pieces or CharPieces({ch: i for i, ch in enumerate(vocab)}, model.config.max_positions)
        self.predicates = predicates
        self.thresholds = tuple(thresholds)  # subject start, end; object start, end
        self.device = device
        self.description = description  # what it runs on, in words
        self.add_known, self.known_score = add_known, known_score  # config.json's, chosen on dev

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None, device: str = "auto") -> "TripleExtractor":
        """A triples model folder, a name under $ZHNLP_MODELS or a hub id (default: the one shipped
        with zhnlp, once there is one). ``device``: auto (CUDA when there is a GPU), cpu, cuda. On the
        CPU the model runs in numpy (no torch import)."""
        import json

        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        from ..optional import available, require
        from ..training.device import gpu_may_be_present
        from .folder import PREDICATES_FILE, TRAIN_HINT, WORDS_FILE, TripleConfig, read_lines, resolve_folder
        from .known import KNOWN_TRIPLES_FILE, TripleDictionary
        from .numpy_model import NumpyTripleModel

        folder = resolve_folder(name_or_path)
        try:
            config = TripleConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise InputError(f"{folder}/config.json: not a triples model config ({exc})", TRAIN_HINT) from None
        vocab = read_lines(folder / "vocab.txt", config.vocab_size)
        predicates = read_lines(folder / PREDICATES_FILE, config.num_predicates)
        pieces = None
        if config.word_vocab_size or config.known_triples:
            words = read_lines(folder / WORDS_FILE, config.word_vocab_size) if config.word_vocab_size else None
            known = TripleDictionary.from_file(folder / KNOWN_TRIPLES_FILE) if config.known_triples else None
            pieces = CharPieces({ch: i for i, ch in enumerate(vocab)}, config.max_positions,
                                words and {w: i for i, w in enumerate(words)}, known)
        if config.encoder == "bert":
            return cls._bert(folder, config, vocab, predicates, device)
        try:
            weights = load_file(str(folder / "model.safetensors"))
            numpy_model = NumpyTripleModel(config, weights)
        except (SafetensorError, OSError, KeyError, ValueError) as exc:
            raise InputError(f"{folder}/model.safetensors does not fit config.json ({str(exc)[:160]})",
                             TRAIN_HINT) from None
        if device == "cpu" or (device == "auto" and not (gpu_may_be_present() and available("torch"))):
            return cls(numpy_model, vocab, predicates, "cpu", "cpu (numpy)", pieces, **_choices(config))
        require("torch", "triple extraction on CUDA")
        import torch

        from ..training import resolve_device
        from .model import TripleModel

        setup = resolve_device(device)
        if setup.device.type == "cpu":
            return cls(numpy_model, vocab, predicates, "cpu", "cpu (numpy)", pieces, **_choices(config))
        model = TripleModel(config)
        model.load_state_dict({k: torch.from_numpy(v.astype("float32")) for k, v in weights.items()})
        return cls(model.to(setup.device).eval(), vocab, predicates, setup.device, setup.description, pieces,
                   **_choices(config))

    @classmethod
    def _bert(cls, folder, config, vocab, predicates, device) -> "TripleExtractor":
        from ..optional import require

        require("torch", "a BERT triples model")
        require("transformers", "a BERT triples model")
        from safetensors.torch import load_file
        from transformers import BertConfig, BertModel

        from ..training import resolve_device
        from ..wobert.model import load_tokenizer
        from .bert_model import BertTripleModel
        from .extract import TokenizerPieces
        from .folder import BERT_SUBFOLDER, TRAIN_HINT

        bert_dir = folder / BERT_SUBFOLDER
        if not (bert_dir / "config.json").is_file():
            raise InputError(f"BERT triples folder {folder} lacks {BERT_SUBFOLDER}/config.json", TRAIN_HINT)
        network = BertTripleModel(BertModel(BertConfig.from_pretrained(bert_dir), add_pooling_layer=False),
                                  config.num_predicates)
        try:
            network.load_state_dict({k: v.float() for k, v in load_file(str(folder / "model.safetensors")).items()})
        except (RuntimeError, OSError) as exc:
            raise InputError(f"{folder}/model.safetensors does not fit its config ({str(exc)[:160]})",
                             TRAIN_HINT) from None
        setup = resolve_device(device)
        pieces = TokenizerPieces(load_tokenizer(bert_dir), config.max_positions)
        return cls(network.to(setup.device).eval(), vocab, predicates, setup.device, setup.description, pieces,
                   **_choices(config))

    def extract(self, texts: str | Sequence[str], batch_size: int = 64, thresholds=None,
                object_thresholds=None, add_known: bool | None = None) -> Extraction | list[Extraction]:
        """An Extraction (text and triples with spans and scores) per text; a string gives one.
        ``thresholds``: (start, end) of the subject pointers, and of the object pointers too unless
        ``object_thresholds`` are given; default: the model's (config.json's, chosen on dev).
        ``add_known``: also give the triples of the model's dictionary (distant supervision) that it
        left out, at the precision they had on dev as their score (known.add_known); default: the
        model's choice, made on dev."""
        single = isinstance(texts, str)
        items = [texts] if single else list(texts)
        if batch_size < 1:
            raise InputError(f"batch size {batch_size} is below 1", "use --batch-size 1 or more")
        if thresholds is None:
            thresholds, object_thresholds = self.thresholds[:2], object_thresholds or self.thresholds[2:]
        found = extract_batch(self.model, self.pieces, self.predicates, items, tuple(thresholds),
                              tuple(object_thresholds or thresholds), batch_size, self.device)
        if self.add_known if add_known is None else add_known:
            from .known import add_known as added_to

            known = getattr(self.pieces, "known", None)
            if known is None:
                raise InputError("this triples model has no dictionary of known triples to add",
                                 "train one with --known-triples, or leave out --add-known")
            found = [added_to(extraction, known, self.known_score) for extraction in found]
        return found[0] if single else found

    __call__ = extract
