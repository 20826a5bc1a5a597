"""`zhnlp tokenize` and `zhnlp wobert ...`: the WoBERT tokenizer, vocabulary, init and pre-training.

`tokenize` and `build-vocab` need no neural model and never import torch or transformers.
"""
from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from zhnlp.training.config import TrainerConfig  # the options' defaults; imports nothing heavy
from zhnlp.wobert.config import PretrainConfig

from .common import (DeviceOpt, EncodingOpt, ForceOpt, InputsArg, JsonOpt, OutputOpt, QuietOpt, check_output,
                     handle_errors, text_blocks, write_blocks)

wobert_app = typer.Typer(help="WoBERT: word-level Chinese BERT. Build a vocabulary, initialise from a char-level "
                              "BERT, pre-train, evaluate.", no_args_is_help=True)


class OovMode(str, Enum):
    chars = "chars"
    subwords = "subwords"


class ModelSizeChoice(str, Enum):
    tiny = "tiny"
    small = "small"
    base = "base"


EXAMPLE_VOCAB = "../shared/data/wobert/wobert_chinese_base/vocab.txt"


@handle_errors
def tokenize(
    text: Annotated[str, typer.Argument(help="A text, a text file (one text per line), or - for stdin.",
                                        show_default=False)],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="A WoBERT folder (vocab.txt inside) or "
                                                 "hub id.")] = None,
    vocab: Annotated[Optional[Path], typer.Option("--vocab", help="A vocab.txt (instead of --model).")] = None,
    oov: Annotated[Optional[OovMode], typer.Option("--oov", help="chars: unknown words fall back to "
                                                   "characters (as WoBERT was trained); subwords: to the "
                                                   "fewest vocabulary words. Default: the model's setting.",
                                                   show_default=False)] = None,
    max_length: Annotated[Optional[int], typer.Option("--max-length", min=2, help="Truncate to this many "
                                                      "tokens, [CLS] and [SEP] included.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per line: tokens, input_ids, "
                                              "offsets (character spans; [0, 0] for [CLS]/[SEP]).")] = False,
    encoding: EncodingOpt = "utf-8",
    output: OutputOpt = None,
    force: ForceOpt = False,
) -> None:
    """Tokenize text with WoBERT's word-level tokenizer: tokens and ids, with [CLS] and [SEP].

    One output line per input line: tokens, a tab, ids. Example:

        zhnlp tokenize "今天天气不错" --vocab ../shared/data/wobert/wobert_chinese_base/vocab.txt
    """
    from zhnlp.errors import InputError
    from zhnlp.outputs import atomic_output
    from zhnlp.wobert import WoBertTokenizer

    check_output(output, force)
    if (model is None) == (vocab is None):
        raise InputError("give the tokenizer with --model DIR or --vocab FILE (one of them)",
                         f"e.g. zhnlp tokenize \"今天天气不错\" --vocab {EXAMPLE_VOCAB}")
    import gc

    overrides = {"oov": oov.value} if oov is not None else {}
    tokenizer = WoBertTokenizer.from_pretrained(model if model is not None else vocab, **overrides)
    keep = max(max_length - 2, 0) if max_length is not None else None  # room for the words between [CLS] and [SEP]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    # each token as text and as a JSON string, once: the lines are then joined, not serialised one by one
    shown = tokenizer.ids_to_tokens
    quoted = [json.dumps(token, ensure_ascii=False) for token in shown] if json_output else []

    def formatted(line: str) -> str:
        if not line.strip():
            return ""  # a blank line in, a blank line out
        ids, spans, _ = tokenizer.encode_words_flat(line, offsets=json_output, word_ids=False)  # spans: s, e, s, ...
        if keep is not None:
            ids, spans = ids[:keep], spans[:2 * keep] if spans is not None else None
        ids = [cls, *ids, sep]
        if json_output:
            return ('{"tokens": [' + ", ".join(map(quoted.__getitem__, ids)) +
                    '], "input_ids": [' + ", ".join(map(str, ids)) +
                    '], "offsets": [[0, 0], ' + "[%d, %d], " * (len(ids) - 2) % tuple(spans) + "[0, 0]]}")
        return " ".join(map(shown.__getitem__, ids)) + "\t" + " ".join(map(str, ids))

    gc.freeze()  # the vocabulary and jieba's dictionary: long-lived, never cyclic garbage
    with atomic_output(output, force=force) as handle:
        write_blocks(handle, ([formatted(line) for line in lines] for lines in text_blocks(text, encoding, "tokenize")))


@wobert_app.command("build-vocab")
@handle_errors
def build_vocab_command(
    inputs: InputsArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="The vocab.txt to write, or a folder for it "
                                         "(created if needed); tokenizer_config.json and segmenter_words.txt go "
                                         "beside it.")],
    words: Annotated[int, typer.Option("--words", min=0, help="How many words to add.")] = 20000,
    base_vocab: Annotated[Optional[Path], typer.Option("--base-vocab", help="A char-level BERT vocab.txt to "
                                                       "start from (default: the corpus' characters).")] = None,
    lexicon: Annotated[Optional[Path], typer.Option("--lexicon", "-l", help="Words found by zhnlp "
                                                    "discover-words, added to jieba's for a new domain.")] = None,
    simplify: Annotated[bool, typer.Option("--simplify/--no-simplify", help="Drop base tokens the tokenizer "
                                           "can never produce (## + CJK, [unused]), as WoBERT did.")] = True,
    char_min_count: Annotated[int, typer.Option("--char-min-count", min=1, help="Without --base-vocab: keep the "
                                                "characters seen this many times (rarer ones read as [UNK]).")] = 1,
    force: ForceOpt = False,
    encoding: EncodingOpt = "utf-8",
    quiet: QuietOpt = False,
) -> None:
    """Build a WoBERT vocabulary: char-level BERT tokens plus the most frequent words of a corpus.

    Words are cut as the tokenizer cuts them (jieba without HMM), plus a discovered lexicon's
    words when --lexicon is given. Example:

        zhnlp wobert build-vocab corpus.txt --words 20000 --base-vocab bert/vocab.txt -o wobert/vocab.txt
    """
    from zhnlp.outputs import check_output_file
    from zhnlp.wobert import build_vocab

    target = output / "vocab.txt" if output.is_dir() else output
    if target.parent.is_dir():
        check_output_file(target, force)  # before the corpus is read; a missing folder is made
    built = build_vocab(inputs, words=words, base_vocab=base_vocab, lexicon=lexicon, simplify=simplify,
                        encoding=encoding, show_progress=not quiet, char_min_count=char_min_count)
    written = built.save(target, force=force)
    if not quiet:
        stats = built.stats
        typer.echo(f"{len(built.tokens):,} tokens: {stats['base_tokens']:,} base + {stats['words_added']:,} words "
                   f"({stats['lexicon_words_added']:,} from the lexicon) from {stats['lines']:,} lines; written "
                   f"{', '.join(str(p) for p in written)}", err=True)


@wobert_app.command("init")
@handle_errors
def init_command(
    char_bert: Annotated[str, typer.Option("--from", help="A char-level BERT folder (transformers format) or "
                                           "hub id, e.g. bert-base-chinese.")],
    vocab: Annotated[Path, typer.Option("--vocab", help="The WoBERT vocab.txt (from build-vocab).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The WoBERT folder to write.")],
    force: ForceOpt = False,
) -> None:
    """Make a WoBERT from a char-level BERT (a new word starts as the mean of its characters).

    Kept tokens keep their rows; a new word's embedding and MLM output bias are the mean of its
    characters'. Example:

        zhnlp wobert init --from bert-base-chinese --vocab wobert/vocab.txt -o wobert-init
    """
    from zhnlp.wobert.model import init_from_char_bert

    stats = init_from_char_bert(char_bert, vocab, output, force=force)
    typer.echo(f"{stats['vocab_size']:,} tokens: {stats['kept']:,} kept, {stats['averaged']:,} averaged from "
               f"their characters, {stats['unk_rows']:,} from [UNK]; written to {stats['output']}", err=True)


@wobert_app.command("pretrain")
@handle_errors
def pretrain_command(
    inputs: InputsArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder; holds the checkpoint to resume "
                                         "from.")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Start from this WoBERT folder.")] = None,
    size: Annotated[Optional[ModelSizeChoice], typer.Option("--config", help="Start from scratch at this size "
                                                            "(needs --vocab).", show_default=False)] = None,
    vocab: Annotated[Optional[Path], typer.Option("--vocab", help="vocab.txt for --config.")] = None,
    max_steps: Annotated[int, typer.Option("--max-steps", min=1, help="Optimiser steps in all.")
                         ] = TrainerConfig.max_steps,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Sequences per step.")
                          ] = PretrainConfig.batch_size,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="Peak learning rate.")] = TrainerConfig.lr,
    warmup_steps: Annotated[int, typer.Option("--warmup-steps", min=0)] = TrainerConfig.warmup_steps,
    seq_len: Annotated[int, typer.Option("--seq-len", min=8, help="Tokens per packed sequence.")
                       ] = PretrainConfig.seq_len,
    save_every: Annotated[int, typer.Option("--save-every", min=1, help="Steps between checkpoints.")
                          ] = TrainerConfig.save_every,
    heldout_every: Annotated[int, typer.Option("--heldout-every", min=0, help="Hold out every N-th line for "
                                               "evaluation (0: none).")] = PretrainConfig.heldout_every,
    eval_lines: Annotated[int, typer.Option("--eval-lines", min=0, help="Held-out lines scored at the end.")
                          ] = PretrainConfig.eval_lines,
    device: DeviceOpt = "auto",
    precision: Annotated[str, typer.Option("--precision", help="auto (bf16/fp16 on CUDA, fp32 on CPU), fp32, "
                                           "bf16, fp16.")] = "auto",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    restart: Annotated[bool, typer.Option("--restart", help="Ignore the checkpoint in -o and start over.")] = False,
    force: ForceOpt = False,
    encoding: EncodingOpt = "utf-8",
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Pre-train WoBERT with whole-word masked language modelling; run again to resume.

    Example (from scratch, small):

        zhnlp wobert pretrain corpus/ --config small --vocab vocab.txt -o wobert-small --max-steps 20000
    """
    from zhnlp.wobert.pretrain import pretrain

    config = PretrainConfig(seq_len=seq_len, batch_size=batch_size, heldout_every=heldout_every,
                            eval_lines=eval_lines if heldout_every else 0, encoding=encoding)
    trainer_config = TrainerConfig(max_steps=max_steps, lr=lr, warmup_steps=warmup_steps, device=device,
                                   precision=precision, seed=seed, save_every=save_every)
    summary = pretrain(inputs, output, model=model, size=size.value if size else None, vocab=vocab,
                       config=config, trainer_config=trainer_config, restart=restart, force=force,
                       show_progress=not quiet)
    if json_output:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))
    elif not quiet:
        held = summary["heldout"]
        score = (f"; held-out MLM accuracy {held['mlm_accuracy']:.4f}, loss {held['mlm_loss']:.4f} "
                 f"({held['masked_tokens']:,} masked tokens)") if held else ""
        typer.echo(f"trained to step {summary['steps']} in {summary['seconds']} s on {summary['device']}{score}; "
                   f"model in {summary['output']}", err=True)


@wobert_app.command("evaluate")
@handle_errors
def evaluate_command(
    inputs: InputsArg,
    model: Annotated[str, typer.Option("--model", "-m", help="The WoBERT folder to score.")],
    heldout_every: Annotated[Optional[int], typer.Option("--heldout-every", min=1, help="Default: what pretrain "
                                                         "used (its training.json in the folder).",
                                                         show_default=False)] = None,
    eval_lines: Annotated[Optional[int], typer.Option("--eval-lines", min=1, help="Held-out lines to score (default: "
                                                      "pretrain's).", show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", min=1, show_default=False)] = None,
    seq_len: Annotated[Optional[int], typer.Option("--seq-len", min=8, show_default=False)] = None,
    device: DeviceOpt = "auto",
    encoding: EncodingOpt = "utf-8",
    json_output: JsonOpt = False,
) -> None:
    """Masked-token accuracy of a WoBERT on the held-out lines of a corpus (those pretrain skipped).

    Example:

        zhnlp wobert evaluate corpus/ --model wobert-small
    """
    from dataclasses import asdict

    from zhnlp.wobert.pretrain import evaluate_mlm, pretraining_record

    given = {"seq_len": seq_len, "batch_size": batch_size, "heldout_every": heldout_every, "eval_lines": eval_lines}
    recorded = pretraining_record(model).get("pretrain", {})  # what pretrain used, so that the figure is its own
    config = PretrainConfig(**{**asdict(PretrainConfig()), **recorded, "encoding": encoding,
                               **{k: v for k, v in given.items() if v is not None}})
    scores = evaluate_mlm(model, inputs, config, device=device)
    if json_output:
        typer.echo(json.dumps(scores, ensure_ascii=False))
    else:
        typer.echo(f"mlm_accuracy\t{scores['mlm_accuracy']:.4f}\nmlm_loss\t{scores['mlm_loss']:.4f}\n"
                   f"masked_tokens\t{scores['masked_tokens']}")
