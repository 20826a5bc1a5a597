"""`zhnlp classify`, `zhnlp train classifier`, `zhnlp evaluate classifier`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import AdversarialOpt, DevFractionOpt, DeviceOpt, EncodingOpt, EpsilonOpt, ForceOpt, JsonOpt, \
    ModelFolderOpt, OutputOpt, PatienceOpt, QuietOpt, ReadBatchOpt, RestartOpt, SeedOpt, SplitSeedOpt, TrainBatchOpt, check_output, \
    handle_errors, text_blocks

ClassifierOpt = Annotated[Optional[str], typer.Option("--model", "-m", help="A classifier: a folder, a name under "
                                                      "$ZHNLP_MODELS, or a hub id.")]


@handle_errors
def classify(
    text: Annotated[str, typer.Argument(help="A sentence, a file of sentences (one per line), or - for stdin.",
                                        show_default=False)],
    model: ClassifierOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help='One object per input line: {"label", "label_desc", '
                                              '"score"}.')] = False,
    device: DeviceOpt = "auto",
    batch_size: ReadBatchOpt = 64,
    encoding: EncodingOpt = "utf-8",
    output: OutputOpt = None,
    force: ForceOpt = False,
) -> None:
    """One label per input line, same order and count (a blank line gives a blank line; --json: an
    object per line, label being the training file's value).

    Example:

        zhnlp classify titles.txt --model tnews-model --json
    """
    from zhnlp.classification import Classifier
    from zhnlp.outputs import atomic_output

    check_output(output, force)
    classifier = None
    with atomic_output(output, force=force) as handle:
        for block in text_blocks(text, encoding, "classify"):
            if classifier is None:
                classifier = Classifier.from_pretrained(model, device=device)
            found = iter(classifier([line for line in block if line.strip()], batch_size=batch_size))
            out = []
            for line in block:
                if not line.strip():
                    out.append("")
                    continue
                label = next(found)
                out.append(json.dumps({**label, "score": round(label["score"], 4)}, ensure_ascii=False)
                           if json_output else label["label"])
            handle.write("".join(line + "\n" for line in out))
            handle.flush()


@handle_errors
def train_classifier_command(
    data: Annotated[Path, typer.Option("--data", help="A CLUE task folder (train.json, optional dev.json and "
                                       "labels.json), a JSON-lines file or a TSV file (text<TAB>label).")],
    output: ModelFolderOpt,
    model: Annotated[Optional[str], typer.Option("--model", help="A BERT/WoBERT folder or hub id to fine-tune "
                                                 "(default: a small BERT from scratch on the data's characters).")] = None,
    dev: Annotated[Optional[Path], typer.Option("--dev", help="Dev examples (default: the folder's dev.json, else "
                                                "--dev-fraction of train drawn with --split-seed).")] = None,
    labels: Annotated[Optional[Path], typer.Option("--labels", help="A labels.json giving the classes and their "
                                                   "order (default: the folder's, else the labels of train).")] = None,
    dev_fraction: DevFractionOpt = 0.1,
    split_seed: SplitSeedOpt = 0,
    epochs: Annotated[Optional[int], typer.Option("--epochs", min=1, help="Most epochs (default: 3 fine-tuning, 5 "
                                                  "from scratch); early stopping on dev accuracy may end sooner.")] = None,
    batch_size: TrainBatchOpt = 32,
    max_length: Annotated[int, typer.Option("--max-length", min=8, help="Tokens read of each text.")] = 128,
    lr: Annotated[Optional[float], typer.Option("--lr", min=0.0, show_default="2e-5 fine-tuning, 5e-4 scratch")] = None,
    ema: Annotated[Optional[float], typer.Option("--ema", min=0.0, max=0.9999, show_default="off")] = None,
    adversarial: AdversarialOpt = None,
    epsilon: EpsilonOpt = None,
    patience: PatienceOpt = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    restart: RestartOpt = False,
    encoding: EncodingOpt = "utf-8",
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train a sentence classifier (BertForSequenceClassification); evaluates dev accuracy every
    epoch and keeps the best. Run again to resume.

    Example:

        zhnlp train classifier --data ../shared/data/classification/tnews -o tnews-model
    """
    from zhnlp.classification.train import FINE_TUNING, FROM_SCRATCH, train_classifier
    from zhnlp.training import TrainerConfig

    given = dict(lr=lr, ema_decay=ema, adversarial=adversarial, epsilon=epsilon, device=device, seed=seed,
                 patience=patience)
    defaults = FINE_TUNING if model else FROM_SCRATCH
    trainer_config = TrainerConfig(**{**defaults, **{k: v for k, v in given.items() if v is not None}})
    summary = train_classifier(data, output, model=model, dev=dev, labels=labels, dev_fraction=dev_fraction,
                               split_seed=split_seed, trainer_config=trainer_config, batch_size=batch_size,
                               epochs=epochs, max_length=max_length, restart=restart, force=force,
                               show_progress=not quiet, encoding=encoding)
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


@handle_errors
def evaluate_classifier_command(
    data: Annotated[Path, typer.Option("--data", help="Labelled examples: a file, or a task folder (its dev.json).")],
    model: ClassifierOpt = None,
    device: DeviceOpt = "auto",
    batch_size: ReadBatchOpt = 64,
    encoding: EncodingOpt = "utf-8",
    json_output: JsonOpt = False,
) -> None:
    """Accuracy and macro-F1 of a classifier.

    Example:

        zhnlp evaluate classifier --data ../shared/data/classification/iflytek --model iflytek-model
    """
    from zhnlp.classification import evaluate_classifier

    scores = evaluate_classifier(model, data, device=device, batch_size=batch_size, encoding=encoding)
    if json_output:
        typer.echo(json.dumps(scores, ensure_ascii=False))
        return
    typer.echo(f"accuracy {scores['accuracy']:.4f}  macro-F1 {scores['macro_f1']:.4f}  ({scores['examples']} examples "
               f"of {scores['data']})")


@handle_errors
def compress_command(
    model: Annotated[str, typer.Argument(help="The classifier to compress (the predecessor): a folder or hub id.",
                                         show_default=False)],
    data: Annotated[Path, typer.Option("--data", help="Its task's training data (as train classifier reads it).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder of the compressed classifier (holds both "
                                         "stages' checkpoints to resume from).")],
    layers: Annotated[Optional[int], typer.Option("--layers", min=1, help="The successor's layers (default: half the "
                                                  "predecessor's).")] = None,
    schedule: Annotated[str, typer.Option("--schedule", help="Replacement probability: constant (bojone) or linear "
                                          "(JetRunner: min(1, k·t + rate)).")] = "constant",
    replace_rate: Annotated[float, typer.Option("--replace-rate", help="p, or the linear schedule's start.")] = 0.5,
    init: Annotated[str, typer.Option("--init", help="Successor modules start as the first K layers (first) or "
                                      "the first layer of each group (spread).")] = "first",
    dev: Annotated[Optional[Path], typer.Option("--dev", help="Dev examples (default: as train classifier).")] = None,
    dev_fraction: DevFractionOpt = 0.1,
    split_seed: SplitSeedOpt = 0,
    replacing_epochs: Annotated[int, typer.Option("--replacing-epochs", min=1)] = 2,
    successor_epochs: Annotated[int, typer.Option("--successor-epochs", min=1)] = 1,
    batch_size: TrainBatchOpt = 32,
    lr: Annotated[Optional[float], typer.Option("--lr", min=0.0, show_default="2e-5")] = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    restart: RestartOpt = False,
    encoding: EncodingOpt = "utf-8",
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Compress a classifier by BERT-of-Theseus module replacement: predecessor layer groups replaced
    by successor modules with probability p while the predecessor stays frozen, then the successor
    fine-tuned alone. Run again to resume.

    Example:

        zhnlp compress tnews-model --data ../shared/data/classification/tnews -o tnews-small
    """
    from zhnlp.classification.theseus import compress
    from zhnlp.classification.train import FINE_TUNING
    from zhnlp.training import TrainerConfig

    given = dict(lr=lr, device=device, seed=seed)
    trainer_config = TrainerConfig(**{**FINE_TUNING, **{k: v for k, v in given.items() if v is not None}})
    summary = compress(model, data, output, layers=layers, init=init, schedule=schedule, replace_rate=replace_rate,
                       dev=dev, dev_fraction=dev_fraction, split_seed=split_seed, replacing_epochs=replacing_epochs,
                       successor_epochs=successor_epochs, batch_size=batch_size, trainer_config=trainer_config,
                       restart=restart, force=force, show_progress=not quiet, encoding=encoding)
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))
