"""A triple-extraction model folder, read and written without torch: config.json (``model_type:
triples``), model.safetensors, vocab.txt (characters) and predicates.txt (the schema's predicates,
one per line, in the order of the object head's channels); with word features also words.txt (the
words whose vectors each character adds, kg-2019's mixed embedding); with distant supervision also
known_triples.tsv (the training triples whose marks the model reads, known.py)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

MODEL_TYPE = "triples"
PREDICATES_FILE = "predicates.txt"
WORDS_FILE = "words.txt"
TRAIN_HINT = "train one: zhnlp train triples --data ../shared/data/triples -o DIR"
PAD, UNK = "[PAD]", "[UNK]"


@dataclass
class TripleConfig:
    """The light model: kg-2019's DGCNN (Su Jianlin's 2019 system) on characters, half-pointer,
    half-tagging heads (kexue.fm/archives/7161)."""
    vocab_size: int = 0
    num_predicates: int = 0
    embedding_dim: int = 128  # characters, positions and the gated convolutions' channels
    dilations: tuple[int, ...] = (1, 2, 5, 1, 2, 5, 1, 2, 5, 1, 1, 1)  # kg-2019's: 1, 2, 5 three times, then 1, 1, 1
    kernel_size: int = 3
    attention_heads: int = 8  # the self-attention before the subject pointer, as kg-2019
    dropout: float = 0.25
    max_positions: int = 512  # position embeddings; longer sentences are read in overlapping windows
    word_vocab_size: int = 0  # words of words.txt: each character adds its word's frozen vector (0: characters only)
    word_dim: int = 128  # the word vectors' size (zhnlp vectors train --dim), projected to embedding_dim
    # kg-2019's distant supervision: the marks of the training triples found in the sentence (known.py)
    # as inputs, the triples kept in known_triples.tsv
    known_triples: bool = False
    # add the dictionary's triples the model left out (known.add_known), at known_score (their precision
    # on dev): chosen on dev after training
    add_known: bool = False
    known_score: float = 0.0
    # subject start, end; object start, end: the original's until training chooses them on dev (tune_thresholds)
    thresholds: tuple[float, ...] = (0.6, 0.5, 0.6, 0.5)
    encoder: str = "dgcnn"  # or "bert": a BERT encoder, its config and tokenizer in bert/ (bert_model.py)
    model_type: str = field(default=MODEL_TYPE)

    @classmethod
    def from_dict(cls, data: dict) -> "TripleConfig":
        from ..hub import config_from_dict

        return config_from_dict(cls, data, MODEL_TYPE)


def resolve_folder(name_or_path: str | os.PathLike | None) -> Path:
    """The triples model folder for ``--model`` (None: the shipped one)."""
    from ..hub import resolve_model_or_shipped

    return resolve_model_or_shipped(name_or_path, MODEL_TYPE, ("config.json", "model.safetensors", PREDICATES_FILE),
                                    "triples model", TRAIN_HINT)


def read_lines(path: Path, size: int | None = None) -> list[str]:
    if not path.is_file():
        raise InputError(f"model folder {path.parent} lacks {path.name}", TRAIN_HINT)
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    if size is not None and len(lines) != size:
        raise InputError(f"{path} has {len(lines)} entries; config.json says {size}", TRAIN_HINT)
    return lines


BERT_SUBFOLDER = "bert"


def write_triples_folder(model, directory: str | os.PathLike, vocab: list[str], predicates: list[str],
                         training: dict | None = None, config: TripleConfig | None = None, tokenizer=None,
                         words: list[str] | None = None, known=None) -> Path:
    """The model's folder: config.json, model.safetensors (half precision), vocab.txt, predicates.txt,
    words.txt when the model has word features, known_triples.tsv with ``known`` (a
    TripleDictionary); for a BERT encoder also bert/ (its config.json and
    tokenizer; the weights are in model.safetensors)."""
    import torch

    from ..hub import write_model_folder
    from ..outputs import write_text

    weights = {k: v.detach().to("cpu", torch.float16).contiguous().numpy() for k, v in model.state_dict().items()}
    directory = write_model_folder(directory, config or model.config, vocab, weights, training)
    write_text(Path(directory) / PREDICATES_FILE, "\n".join(predicates) + "\n")
    if words:
        write_text(Path(directory) / WORDS_FILE, "\n".join(words) + "\n")
    if known is not None:
        from .known import KNOWN_TRIPLES_FILE

        known.save(Path(directory) / KNOWN_TRIPLES_FILE)
    if tokenizer is not None:
        bert_dir = Path(directory) / BERT_SUBFOLDER
        bert_dir.mkdir(exist_ok=True)
        model.bert.config.save_pretrained(bert_dir)
        tokenizer.save_pretrained(bert_dir)
        write_text(bert_dir / "vocab.txt", "\n".join(vocab) + "\n")
    return Path(directory)
