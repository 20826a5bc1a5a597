"""`zhnlp couplet`, `zhnlp train couplet`, `zhnlp train couplet-memory`, `zhnlp evaluate couplet`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from zhnlp.couplet import defaults  # the options' defaults; imports nothing

from .common import (AdversarialOpt, DeviceOpt, EncodingOpt, EpsilonOpt, ForceOpt, JsonOpt, OutputOpt, QuietOpt,
                     RestartOpt, SeedOpt, check_output, handle_errors,
                     looks_like_file, text_blocks)

train_app = typer.Typer(help="Train a model: zhnlp train couplet ...", no_args_is_help=True)
evaluate_app = typer.Typer(help="Evaluate a model on held-out data: zhnlp evaluate couplet ...", no_args_is_help=True)

ModelOpt = Annotated[Optional[str], typer.Option("--model", "-m", help="A couplet model: a folder, a name under "
                                                 "$ZHNLP_MODELS, or a hub id (default: the one shipped with zhnlp).")]
DataOpt = Annotated[Path, typer.Option("--data", help="Folder with train/ and dev/ (in.txt, out.txt).")]
ShortlistOpt = Annotated[bool, typer.Option("--shortlist/--no-shortlist", help="Score only the lower characters "
                                            "the model's shortlist gives each upper character (fast); or the whole "
                                            "vocabulary.")]
MemoryOpt = Annotated[bool, typer.Option("--memory/--no-memory", help="Use the model folder's memory of training "
                                         "pairs when it has one (zhnlp train couplet-memory); or the CNN alone.")]


@handle_errors
def couplet(
    upper: Annotated[str, typer.Argument(help="An upper line, a file of upper lines (one per line), or - for "
                                         "stdin.", show_default=False)],
    n: Annotated[int, typer.Option("-n", min=1, max=50, help="Distinct candidates, best first.")] = 1,
    model: ModelOpt = None,
    tone: Annotated[bool, typer.Option("--tone", help="The lower line ends on a level tone (平).")] = False,
    plain: Annotated[bool, typer.Option("--plain", help="The post's argmax decoder, without the rules.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per line: upper, candidates "
                                              "with scores, unknown characters.")] = False,
    device: DeviceOpt = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Lines of one length decoded "
                                            "together.")] = defaults.DECODE_BATCH_SIZE,
    shortlist: ShortlistOpt = True,
    memory: MemoryOpt = True,
    encoding: EncodingOpt = "utf-8",
    output: OutputOpt = None,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write the lower line of a couplet (对联), under the rules: same length, punctuation copied,
    repeats mirrored, never the same character at the same position. A file (or -) of upper lines
    gives one answer per line, in order, a blank line for a blank line; answers are written a block
    at a time as they are ready; with -o the file appears only when every line is answered.

    Example:

        zhnlp couplet "春回大地千山秀" -n 3
        zhnlp couplet uppers.txt -o lowers.txt
    """
    from zhnlp.couplet import Couplet
    from zhnlp.progress import progress_task
    from zhnlp.outputs import atomic_output
    from zhnlp.textio import resolve_sources, total_bytes

    check_output(output, force)
    bot = Couplet.from_pretrained(model, device=device, shortlist=shortlist, memory=memory)
    source = "<stdin>" if upper == "-" else upper if looks_like_file(upper) else None
    size = total_bytes(resolve_sources(upper)) if source and upper != "-" else None
    with progress_task("couplets", total=size, enabled=not quiet and source is not None and output is not None) \
            as task, atomic_output(output, force=force) as handle:
        blocks = text_blocks(upper, encoding, "answer", task.advance)
        for answers in bot.answer_stream(blocks, n=n, constrained=not plain, tone=tone, batch_size=batch_size,
                                         source=source):
            handle.write("".join(_format_answer(answer, n, json_output) + "\n" for answer in answers))
            handle.flush()
            for answer in answers:
                if answer is not None and answer.unknown and not json_output and not quiet:
                    typer.echo(f"warning: unknown to the model (read as [UNK]): {''.join(answer.unknown)}", err=True)


def _format_answer(answer, n: int, json_output: bool) -> str:
    if answer is None:  # a blank upper line
        return ""
    if json_output:
        candidates = [{"lower": text, "score": round(score, 4)} for text, score in answer.candidates]
        return json.dumps({"upper": answer.upper, "candidates": candidates, "unknown": answer.unknown},
                          ensure_ascii=False)
    return answer.best if n == 1 else "\t".join(text for text, _ in answer.candidates)


@train_app.command("couplet")
@handle_errors
def train_couplet_command(
    data: DataOpt,
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder (holds the checkpoint to resume from).")],
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Most epochs; early stopping may end sooner.")
                      ] = defaults.EPOCHS,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Training pairs per step.")
                          ] = defaults.BATCH_SIZE,
    lr: Annotated[Optional[float], typer.Option("--lr", min=0.0, help="Peak learning rate.",
                                                show_default=str(defaults.COUPLET_TRAINING["lr"]))] = None,
    dilations: Annotated[Optional[str], typer.Option("--dilations", help="One dilation per gated convolution, "
                                                     "comma-separated (1,1,1,1,1,1: the post; 1,2,4,1,2,4: "
                                                     "DGCNN-style). Resuming: the checkpoint's.",
                                                     show_default="1,1,1,1,1,1")] = None,
    width: Annotated[Optional[int], typer.Option("--width", min=8, help="Embedding size and channels of every "
                                                 "convolution (128: the post). Resuming: the checkpoint's.",
                                                 show_default="128")] = None,
    dropout: Annotated[Optional[float], typer.Option("--dropout", min=0.0, max=0.9, help="Dropout on the embeddings "
                                                     "(0.25: the post). Resuming: the checkpoint's.",
                                                     show_default="0.25")] = None,
    context_buckets: Annotated[Optional[int], typer.Option("--context-buckets", min=0, help="Rows of the hashed "
                                                           "upper-context table (0: none, the post's model). "
                                                           "Resuming: the checkpoint's.", show_default="0")] = None,
    context_dim: Annotated[Optional[int], typer.Option("--context-dim", min=1, help="Width of the context table's "
                                                       "rows. Resuming: the checkpoint's.", show_default="32")] = None,
    context_input: Annotated[Optional[bool], typer.Option("--context-input/--no-context-input", help="Also add the "
                                                          "context vector to the CNN's input (always: its output). "
                                                          "Resuming: the checkpoint's.", show_default=False)] = None,
    context_dropout: Annotated[Optional[float], typer.Option("--context-dropout", min=0.0, max=0.9, help="Dropout "
                                                             "on the context vector. Resuming: the checkpoint's.",
                                                             show_default="0.25")] = None,
    init: Annotated[Optional[str], typer.Option("--init", help="Start from this couplet model folder (its "
                                                "vocabulary, CNN shape and weights; a fresh run only), e.g. "
                                                "the shipped one's CNN under a new context table.")] = None,
    context_lr_scale: Annotated[float, typer.Option("--context-lr-scale", min=0.0, help="The context table's "
                                                    "learning rate as a multiple of --lr.")
                                ] = defaults.CONTEXT_LR_SCALE,
    patience: Annotated[Optional[int], typer.Option("--patience", min=0, help="Epochs without a better dev "
                                                    "--metric before stopping (0: never).",
                                                    show_default=str(defaults.COUPLET_TRAINING["patience"]))] = None,
    metric: Annotated[Optional[str], typer.Option("--metric", help="The dev figure the kept model is chosen by: "
                                                  "bleu or constrained_char_accuracy (the constrained decoder), "
                                                  "char_accuracy (plain argmax) or loss.",
                                                  show_default=defaults.COUPLET_TRAINING["metric"])] = None,
    adversarial: AdversarialOpt = None,
    epsilon: EpsilonOpt = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    shortlist_size: Annotated[int, typer.Option("--shortlist", min=0, help="Lower characters per upper character "
                                                "the decoder scores, from the training pairs (0: the whole "
                                                "vocabulary).")] = defaults.DEFAULT_SHORTLIST_SIZE,
    both_directions: Annotated[bool, typer.Option("--both-directions", help="Also train on each pair reversed "
                                                  "(lower line in, upper line out): twice the pairs.")] = False,
    restart: RestartOpt = False,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train the couplet CNN; evaluates on dev every epoch and keeps the best. Run again to resume
    (with the checkpoint's model shape; a run that stopped early or finished is not trained further).

    Example:

        zhnlp train couplet --data ../shared/data/couplet -o couplet-model
    """
    from zhnlp.couplet import couplet_trainer_config, train_couplet
    from zhnlp.errors import InputError

    shape: dict = {"embedding_dim": width, "dropout": dropout, "context_buckets": context_buckets,
                   "context_dim": context_dim, "context_input": context_input, "context_dropout": context_dropout}
    if dilations is not None:
        try:
            shape["dilations"] = tuple(int(d) for d in dilations.split(","))
        except ValueError:
            raise InputError(f"--dilations {dilations!r} is not a list of integers",
                             "e.g. --dilations 1,2,4,1,2,4") from None
    trainer_config = couplet_trainer_config(lr=lr, device=device, seed=seed, patience=patience, metric=metric,
                                            metric_mode="min" if metric == "loss" else None,
                                            adversarial=adversarial, epsilon=epsilon)
    summary = train_couplet(data, output, {k: v for k, v in shape.items() if v is not None}, trainer_config,
                            batch_size=batch_size, epochs=epochs, restart=restart, force=force,
                            show_progress=not quiet, both_directions=both_directions, shortlist_size=shortlist_size,
                            context_lr_scale=context_lr_scale, init_from=init)
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


@train_app.command("couplet-memory")
@handle_errors
def train_couplet_memory_command(
    data: DataOpt,
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder to write: a copy of --model with the "
                                         "memory added; or --model itself.")],
    model: ModelOpt = None,
    force: ForceOpt = False,
) -> None:
    """Add a memory of --data's training pairs to a couplet model: their counts join the CNN's
    probabilities and re-rank its lines (dev BLEU 3 -> 12 with the shipped model). The shipped model
    has none, since it would hold the training data; this builds one from data you have.

    Example:

        zhnlp train couplet-memory --data ../shared/data/couplet -o couplet-with-memory
        zhnlp couplet "春回大地千山秀" --model couplet-with-memory
    """
    from zhnlp.couplet import build_memory

    typer.echo(json.dumps(build_memory(data, model, output, force=force), ensure_ascii=False, indent=1))


@evaluate_app.command("couplet")
@handle_errors
def evaluate_couplet_command(
    data: DataOpt,
    model: ModelOpt = None,
    split: Annotated[str, typer.Option("--split", help="Which split of --data to score.")] = "dev",
    tone: Annotated[bool, typer.Option("--tone", help="Constrain the last character to a level tone.")] = False,
    device: DeviceOpt = "auto",
    shortlist: ShortlistOpt = True,
    memory: MemoryOpt = True,
    json_output: JsonOpt = False,
) -> None:
    """BLEU, char accuracy, exact match and rule violations, plain argmax vs the constrained decoder.

    Example:

        zhnlp evaluate couplet --data ../shared/data/couplet
    """
    from zhnlp.couplet import evaluate_couplet

    scores = evaluate_couplet(model, data, split, device=device, tone=tone, shortlist=shortlist, memory=memory)
    if json_output:
        typer.echo(json.dumps(scores, ensure_ascii=False))
        return
    typer.echo(f"{'decoder':<20}{'bleu':>8}{'char_acc':>10}{'exact':>8}{'rule_viol':>11}   n={scores['n']}")
    for name in ("argmax", "constrained"):
        s = scores[name]
        label = "+memory" if name == "constrained" and scores["memory"] else ""
        typer.echo(f"{name + label:<20}{s['bleu']:>8.2f}{s['char_accuracy']:>10.4f}{s['exact_match']:>8.4f}"
                   f"{s['rule_violation_rate']:>11.4f}")
