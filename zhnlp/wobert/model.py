"""The WoBERT model: a Hugging Face ``BertForMaskedLM`` over a word-level vocabulary.

WoBERT changes BERT's vocabulary, not its architecture (kexue.fm/archives/7758), so the model is
transformers' own BERT and loads the public ports (``junnyu/wobert_chinese_base``,
``junnyu/wobert_chinese_plus_base``: config.json, model.safetensors or pytorch_model.bin,
vocab.txt) as they are. This module adds the sizes zhnlp trains, loading with clear errors, and
WoBERT's initialisation from a char-level BERT: kept tokens keep their rows, and a new word's
embedding and MLM output bias are the mean of its characters'.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import InputError
from .tokenizer import WoBertTokenizer
from .vocab import read_vocab


@dataclass(frozen=True)
class ModelSize:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int


SIZES = {
    # tests and smoke runs: trains in minutes on a CPU
    "tiny": ModelSize(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512),
    # the default for later tasks (titles, triples, classification): fast to fine-tune on a CPU
    "small": ModelSize(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
    # the published WoBERT's size
    "base": ModelSize(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}


def new_config(vocab_size: int, size: str = "small", max_position_embeddings: int = 512, pad_token_id: int = 0):
    """A BertConfig of one of SIZES for a vocabulary of ``vocab_size``."""
    from transformers import BertConfig

    if size not in SIZES:
        raise InputError(f"unknown model size: {size!r}", f"use one of {', '.join(SIZES)}")
    return BertConfig(vocab_size=vocab_size, max_position_embeddings=max_position_embeddings,
                      pad_token_id=pad_token_id, **asdict(SIZES[size]))


def _quiet_transformers() -> None:
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def load_masked_lm(name_or_path: str | os.PathLike, what: str = "WoBERT model",
                   example: str = "junnyu/wobert_chinese_plus_base"):
    """``BertForMaskedLM`` from a transformers folder or hub id (offline first); ``what`` and
    ``example`` name the kind of model in the message when it is not found."""
    from ..hub import resolve_model
    from ..optional import require

    require("torch", "loading a BERT/WoBERT model")
    require("transformers", "loading a BERT/WoBERT model")
    folder = resolve_model(name_or_path, required=("config.json",), weights=True, what=what,
                           expected=("bert", "wobert"), example=example)
    _quiet_transformers()
    from transformers import BertForMaskedLM

    try:
        return BertForMaskedLM.from_pretrained(folder)
    except (OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"cannot load the model in {folder}: {str(exc).splitlines()[0][:200]}",
                         "check that it is a BERT checkpoint (config.json with model_type bert)") from None


def load_tokenizer(folder: str | os.PathLike):
    """The WoBERT tokenizer for a WoBERT folder, else the folder's BERT WordPiece tokenizer."""
    from ..hub import model_type_of

    if model_type_of(folder) == "wobert":
        return WoBertTokenizer.from_pretrained(folder)
    from transformers import BertTokenizerFast

    try:
        return BertTokenizerFast.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise InputError(f"{folder}: no BERT tokenizer ({str(exc).splitlines()[0][:160]})",
                         "give a folder with its vocab.txt (a BERT or WoBERT folder)") from None


def token_list(tokenizer) -> list[str]:
    """A tokenizer's tokens in id order (one per id: a vocab.txt)."""
    if getattr(tokenizer, "ids_to_tokens", None) is not None:
        return list(tokenizer.ids_to_tokens)
    return [token for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])]


def load_wobert(name_or_path: str | os.PathLike):
    """(model, tokenizer) of a WoBERT folder or hub id: the MLM model and its WoBertTokenizer."""
    model = load_masked_lm(name_or_path)
    from ..hub import resolve_model

    tokenizer = WoBertTokenizer.from_pretrained(resolve_model(name_or_path, required=("vocab.txt",), what="tokenizer"))
    if tokenizer.vocab_size != model.config.vocab_size:
        raise InputError(f"{name_or_path}: vocab.txt has {tokenizer.vocab_size} tokens but the model has "
                         f"{model.config.vocab_size}", "use the vocab.txt the model was trained with")
    return model, tokenizer


def save_wobert(model, tokenizer: WoBertTokenizer, directory: str | os.PathLike) -> Path:
    """One folder: config.json, model.safetensors, vocab.txt, tokenizer_config.json, each file
    written beside the folder first and renamed into it (a kill never leaves half a file). Any
    transformers model and tokenizer go the same way; vocab.txt is written when the tokenizer's
    own saving leaves it out (fast tokenizers keep tokenizer.json alone)."""
    import shutil

    _quiet_transformers()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f".save.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if not (staging / "vocab.txt").is_file():
            (staging / "vocab.txt").write_text("".join(t + "\n" for t in token_list(tokenizer)), encoding="utf-8")
        for item in staging.iterdir():
            os.replace(item, directory / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def mean_of_characters(token: str, old_vocab: dict[str, int]) -> list[int]:
    """The old rows a new token is initialised from: its own row when the old vocabulary has it,
    else the rows of its characters (``##`` stripped) that it has; empty when none."""
    if token in old_vocab:
        return [old_vocab[token]]
    stem = token[2:] if token.startswith("##") and len(token) > 2 else token
    return [old_vocab[c] for c in stem if c in old_vocab]


def init_from_char_bert(char_bert: str | os.PathLike, vocab, output_dir: str | os.PathLike,
                        force: bool = False) -> dict:
    """A WoBERT folder from a char-level BERT folder and a WoBERT vocabulary.

    Every weight is copied; the word embeddings and the MLM output bias are rebuilt for the new
    vocabulary: a token the old vocabulary has keeps its row, a new word gets the mean of its
    characters' rows, and a token with no known character gets [UNK]'s row.
    """
    from ..optional import require

    torch = require("torch", "zhnlp wobert init")
    require("transformers", "zhnlp wobert init")

    from ..outputs import check_output_folder

    output_dir = Path(output_dir)
    check_output_folder(output_dir, force)
    tokenizer = vocab if isinstance(vocab, WoBertTokenizer) else WoBertTokenizer.from_pretrained(vocab)
    from ..hub import resolve_model

    old = load_masked_lm(char_bert, what="char-level BERT", example="google-bert/bert-base-chinese")
    old_list = read_vocab(resolve_model(char_bert, required=("vocab.txt",), what="tokenizer") / "vocab.txt")
    if len(old_list) != old.config.vocab_size:
        raise InputError(f"{char_bert}: vocab.txt has {len(old_list)} tokens but the model has "
                         f"{old.config.vocab_size}", "give the char-level BERT folder with its own vocab.txt")
    old_vocab = {token: index for index, token in enumerate(old_list)}
    if "[UNK]" not in old_vocab:
        raise InputError(f"{char_bert}: vocab.txt has no [UNK]", "give a BERT vocab.txt")
    old_embeddings = old.get_input_embeddings().weight.detach()  # (V_old, C)
    old_bias = old.cls.predictions.bias.detach()  # (V_old,)
    unk = old_vocab["[UNK]"]

    from transformers import BertForMaskedLM

    config = old.config.__class__.from_dict({**old.config.to_dict(), "vocab_size": tokenizer.vocab_size,
                                             "pad_token_id": tokenizer.pad_token_id})
    new = BertForMaskedLM(config)
    state = {k: v for k, v in old.state_dict().items()
             if not k.endswith(("word_embeddings.weight", "predictions.bias", "decoder.weight", "decoder.bias"))}
    new.load_state_dict(state, strict=False)
    embeddings = torch.empty(tokenizer.vocab_size, old_embeddings.shape[1])  # (V_new, C)
    bias = torch.empty(tokenizer.vocab_size)  # (V_new,)
    kept = averaged = fallback = 0
    for index, token in enumerate(tokenizer.ids_to_tokens):
        rows = mean_of_characters(token, old_vocab)
        if token in old_vocab:
            kept += 1
        elif rows:
            averaged += 1
        else:
            rows, fallback = [unk], fallback + 1
        embeddings[index] = old_embeddings[rows].mean(dim=0)
        bias[index] = old_bias[rows].mean()
    with torch.no_grad():
        new.get_input_embeddings().weight.copy_(embeddings)
        new.cls.predictions.bias.copy_(bias)
        if new.cls.predictions.decoder.bias is not None:
            new.cls.predictions.decoder.bias.copy_(bias)
    new.tie_weights()
    save_wobert(new, tokenizer, output_dir)
    return {"vocab_size": tokenizer.vocab_size, "kept": kept, "averaged": averaged, "unk_rows": fallback,
            "output": str(output_dir)}
