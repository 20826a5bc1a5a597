"""`zhnlp triples`, `zhnlp train triples`, `zhnlp evaluate triples`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import AdversarialOpt, DevFractionOpt, DeviceOpt, EncodingOpt, EpsilonOpt, ForceOpt, JsonOpt, \
    ModelFolderOpt, OutputOpt, PatienceOpt, QuietOpt, ReadBatchOpt, RestartOpt, SeedOpt, SplitSeedOpt, TrainBatchOpt, check_output, \
    handle_errors, text_blocks

TriplesModelOpt = Annotated[Optional[str], typer.Option("--model", "-m", help="A triples model: a folder, a name "
                                                        "under $ZHNLP_MODELS, or a hub id.")]


def _thresholds(text: str | None):
    from zhnlp.errors import InputError

    if text is None:
        return None
    try:
        start, end = (float(x) for x in text.split(","))
    except ValueError:
        raise InputError(f"--threshold {text!r} is not START,END", "e.g. --threshold 0.6,0.5") from None
    return start, end


@handle_errors
def triples(
    text: Annotated[str, typer.Argument(help="A sentence, a file of sentences (one per line), or - for stdin.",
                                        show_default=False)],
    model: TriplesModelOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help='One object per input line: {"text", "spo_list": '
                                              '[{"subject", "predicate", "object", "subject_span", "object_span", '
                                              '"score"}]}.')] = False,
    threshold: Annotated[Optional[str], typer.Option("--threshold", help="Start,end thresholds of all pointers "
                                                     "(default: the model's, chosen on dev when it was trained).",
                                                     show_default=False)] = None,
    add_known: Annotated[Optional[bool], typer.Option("--add-known/--no-add-known", help="Also give the triples "
                                                      "of the model's dictionary (--known-triples models) that "
                                                      "it left out (default: as chosen on dev).",
                                                      show_default=False)] = None,
    device: DeviceOpt = "auto",
    batch_size: ReadBatchOpt = 64,
    encoding: EncodingOpt = "utf-8",
    output: OutputOpt = None,
    force: ForceOpt = False,
) -> None:
    """Extract (subject, predicate, object) triples: `subject<TAB>predicate<TAB>object` lines, a
    blank line after each sentence (--json: one object per input line, same order and count).

    Example:

        zhnlp triples "《平凡的世界》是中国作家路遥创作的一部长篇小说" --model triples-model
    """
    from zhnlp.outputs import atomic_output
    from zhnlp.triples import TripleExtractor

    check_output(output, force)
    thresholds = _thresholds(threshold)
    extractor = None
    with atomic_output(output, force=force) as handle:
        for block in text_blocks(text, encoding, "extract from"):
            if extractor is None:
                extractor = TripleExtractor.from_pretrained(model, device=device)
            found = iter(extractor.extract([line for line in block if line.strip()], batch_size=batch_size,
                                           add_known=add_known, **({"thresholds": thresholds} if thresholds else {})))
            out = []
            for line in block:
                if not line.strip():
                    out.append(json.dumps({"text": line, "spo_list": []}, ensure_ascii=False) if json_output else "")
                    continue
                extraction = next(found)
                if json_output:
                    out.append(json.dumps(extraction.as_dict(), ensure_ascii=False))
                else:
                    out.extend([f"{t.subject}\t{t.predicate}\t{t.object}" for t in extraction.triples] + [""])
            handle.write("".join(line + "\n" for line in out))
            handle.flush()


@handle_errors
def train_triples_command(
    data: Annotated[Path, typer.Option("--data", help="Folder with train.json and schema.json (DuIE).")],
    output: ModelFolderOpt,
    dev: Annotated[Optional[Path], typer.Option("--dev", help="Dev sentences (default: --dev-fraction of train, "
                                                "drawn with --split-seed).")] = None,
    dev_fraction: DevFractionOpt = 0.1,
    split_seed: SplitSeedOpt = 0,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Most epochs; early stopping on dev F1 may end "
                                        "sooner.")] = 20,
    batch_size: TrainBatchOpt = 32,
    lr: Annotated[Optional[float], typer.Option("--lr", min=0.0, show_default="1e-3")] = None,
    ema: Annotated[Optional[float], typer.Option("--ema", min=0.0, max=0.9999, show_default="0.995")] = None,
    vectors: Annotated[Optional[Path], typer.Option("--vectors", help="A vectors folder (zhnlp vectors train --unit "
                                                    "both): characters start the embedding, words become the "
                                                    "frozen word features.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="A BERT/WoBERT folder or hub id: train the BERT "
                                                 "encoder on it instead of the light DGCNN.")] = None,
    known_triples: Annotated[bool, typer.Option("--known-triples", help="kg-2019's distant supervision: the model "
                                                "also reads the marks of the training triples found in each "
                                                "sentence (kept in the folder).")] = False,
    entity_swaps: Annotated[int, typer.Option("--entity-swaps", min=0, help="kg-2019's augmentation: this many "
                                              "copies of each training sentence, one entity swapped for another "
                                              "of its type.")] = 0,
    init: Annotated[Optional[str], typer.Option("--init", help="A light triples folder to start from (its "
                                                "vocabulary, words and weights; a fresh run only).")] = None,
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
    """Train the light triple extractor (DGCNN); evaluates dev F1 every epoch and keeps the best. Run
    again to resume.

    Example:

        zhnlp train triples --data ../shared/data/triples -o triples-model
    """
    from zhnlp.training import TrainerConfig
    from zhnlp.triples.train import TRIPLES_TRAINING, train_triples

    given = dict(lr=lr, ema_decay=ema, adversarial=adversarial, epsilon=epsilon, device=device, seed=seed,
                 patience=patience)
    trainer_config = TrainerConfig(**{**TRIPLES_TRAINING, **{k: v for k, v in given.items() if v is not None}})
    summary = train_triples(data, output, dev=dev, dev_fraction=dev_fraction, split_seed=split_seed,
                            trainer_config=trainer_config, batch_size=batch_size, epochs=epochs, restart=restart,
                            force=force, show_progress=not quiet, encoding=encoding, vectors=vectors, model=model,
                            config={"known_triples": True} if known_triples else None, init_from=init,
                            entity_swaps=entity_swaps)
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


@handle_errors
def evaluate_triples_command(
    data: Annotated[Path, typer.Option("--data", help="Labelled sentences (DuIE JSON lines) to score.")],
    model: TriplesModelOpt = None,
    device: DeviceOpt = "auto",
    batch_size: ReadBatchOpt = 64,
    encoding: EncodingOpt = "utf-8",
    json_output: JsonOpt = False,
) -> None:
    """Exact-match micro precision, recall and F1 over (subject, predicate, object) sets per
    sentence, and a table per predicate.

    Example:

        zhnlp evaluate triples --data dev.json --model triples-model
    """
    from zhnlp.triples import Triple, TripleExtractor, read_sentences, triple_scores

    extractor = TripleExtractor.from_pretrained(model, device=device)
    sentences, report = read_sentences(data, extractor.predicates, encoding)
    found = extractor.extract([s.text for s in sentences], batch_size=batch_size)
    scores = triple_scores([{Triple(t.subject, t.predicate, t.object) for t in f.triples} for f in found],
                           [s.triples for s in sentences])
    scores["sentences"], scores["skipped_gold"] = len(sentences), report.skipped_not_in_text
    if json_output:
        typer.echo(json.dumps(scores, ensure_ascii=False))
        return
    typer.echo(f"{'predicate':<12}{'P':>8}{'R':>8}{'F1':>8}{'gold':>7}")
    for name, s in [("all", scores), *scores["per_predicate"].items()]:
        typer.echo(f"{name:<12}{s['precision']:>8.4f}{s['recall']:>8.4f}{s['f1']:>8.4f}{s['gold']:>7}")
