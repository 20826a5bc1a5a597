"""Benchmark of triple extraction: dev quality against the dictionary of training triples, speed,
a cold `zhnlp triples` call, and training examples/s.

    python benchmarks/bench_triples.py --model DIR    # a trained triples model folder
    python benchmarks/bench_triples.py --quick        # no training row
    python benchmarks/bench_triples.py --quick --model DIR --variants DIR...   # a dev row per other model folder

Quality on the dev split every triples model here is chosen on: 10% of ../shared/data/triples/
train.json drawn with seed 0 (zhnlp.splits.dev_split; 940 sentences), exact-match micro P/R/F1
over (subject, predicate, object) sets per sentence:
- dictionary: every training triple whose subject and object both occur in the sentence;
- the light model (DGCNN) with the original's thresholds (0.6 start, 0.5 end), with its own (chosen on
  this dev split after training, kept in config.json: the shipped figure), and with thresholds chosen
  on the other half of dev (two folds: what choosing them costs in optimism);
- the light model's triples together with the dictionary's (its triples added blindly; a model with
  --known-triples reads the dictionary's marks instead, kg-2019's distant supervision);
- each --variants folder with its own thresholds (what was tried on the way to the shipped model);
- the BERT encoder on a tiny random BERT (not --quick): a sanity row, no pre-trained weights exist here;
- a table per predicate (the light model with its thresholds, the dictionary's F1 beside it).
Speed (best of 3; the machine is shared and noisy): sentences/s over the dev sentences through
``TripleExtractor.extract`` (numpy on the CPU) and as the whole `zhnlp triples dev.txt` command; a
cold `zhnlp triples "..."` beside a bare `zhnlp --version`. Training: examples/s over 40 steps.
Targets (issue 17): dev F1 >= the dictionary's + 0.30; >= 300 sentences/s; a cold call < 2 s.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DATA, best_time, print_table

TRIPLES = DATA / "triples"


def split():
    from zhnlp.splits import dev_split
    from zhnlp.triples import read_schema, read_sentences

    sentences, _ = read_sentences(TRIPLES / "train.json", read_schema(TRIPLES / "schema.json"))
    return dev_split(sentences, 0.1, seed=0)


def _as_sets(found) -> list[set]:
    from zhnlp.triples import Triple

    return [{Triple(t.subject, t.predicate, t.object) for t in f.triples} for f in found]


def _cross_fitted(extractor, dev) -> tuple[list[set], list]:
    """Each half of dev decoded with the thresholds chosen on the other half."""
    from zhnlp.triples.extract import tune_thresholds
    from zhnlp.triples.folder import TripleConfig

    halves = [dev[0::2], dev[1::2]]
    predicted: list[set] = [set()] * len(dev)
    chosen = []
    for fold in (0, 1):
        other = halves[1 - fold]
        added = [extractor.pieces.known(s.text) for s in other] if extractor.add_known else None  # a light model's
        thresholds = tune_thresholds(extractor.model, extractor.pieces, extractor.predicates, other,
                                     start=TripleConfig.thresholds, added=added)["thresholds"]
        chosen.append(thresholds)
        found = _as_sets(extractor([s.text for s in halves[fold]], thresholds=thresholds[:2],
                                   object_thresholds=thresholds[2:]))
        predicted[fold::2] = found
    return predicted, chosen


def _bert_row(train, dev) -> list[str]:
    from _common import tiny_bert
    from zhnlp.training import TrainerConfig
    from zhnlp.triples import TripleExtractor, triple_scores
    from zhnlp.triples.train import train_triples

    steps = 300
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bert = tiny_bert(tmp / "bert", [s.text for s in train + dev])
        summary = train_triples(TRIPLES, tmp / "m", model=str(bert), batch_size=16, show_progress=False,
                                trainer_config=TrainerConfig(max_steps=steps, lr=1e-3, warmup_steps=30, device="cpu",
                                                             save_every=10**9, eval_every=steps, metric="f1"))
        s = triple_scores(_as_sets(TripleExtractor.from_pretrained(tmp / "m", device="cpu")([x.text for x in dev])),
                          [x.triples for x in dev])
    return [f"BERT encoder, tiny random BERT (2 layers, 64), {steps} steps", f"{s['precision']:.3f}",
            f"{s['recall']:.3f}", f"{s['f1']:.3f}", f"sanity row; {summary['examples_per_second']} examples/s"]


def quality(model, train, dev, quick: bool) -> tuple[list[list[str]], list[list[str]]]:
    from zhnlp.triples import TripleDictionary, TripleExtractor, triple_scores

    gold = [s.triples for s in dev]
    rows = []

    def row(name, predicted, notes=""):
        s = triple_scores(predicted, gold)
        rows.append([name, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", notes])
        return s

    dictionary = TripleDictionary(train)
    from_dictionary = [dictionary(s.text) for s in dev]
    base = row("dictionary of train triples", from_dictionary)
    per_predicate = []
    if model is not None:
        extractor = TripleExtractor.from_pretrained(model, device="cpu")
        texts = [s.text for s in dev]
        row("light model (DGCNN), the original's thresholds", _as_sets(extractor(texts, thresholds=(0.6, 0.5))),
            "0.6, 0.5 for both pointers")
        own = _as_sets(extractor(texts))
        light = row("light model (DGCNN), its thresholds (shipped)", own,
                    "chosen on this dev split: " + ", ".join(f"{t:g}" for t in extractor.thresholds))
        if extractor.add_known:
            row("light model, --no-add-known", _as_sets(extractor(texts, add_known=False)),
                "its thresholds; without the dictionary's triples it left out")
        crossed, chosen = _cross_fitted(extractor, dev)
        row("light model, thresholds from the other half of dev", crossed,
            "; ".join(", ".join(f"{t:g}" for t in c) for c in chosen))
        row("light model together with the dictionary", [a | b for a, b in zip(own, from_dictionary)],
            "the dictionary's triples added blindly")
        if not quick:
            rows.append(_bert_row(train, dev))
        rows.append(["light minus dictionary", "", "", f"{light['f1'] - base['f1']:+.3f}", "target +0.30"])
        mine, theirs = triple_scores(own, gold)["per_predicate"], triple_scores(from_dictionary, gold)["per_predicate"]
        for name, s in sorted(mine.items(), key=lambda kv: -kv[1]["gold"]):
            per_predicate.append([name, str(s["gold"]), f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}",
                                  f"{theirs.get(name, {}).get('f1', 0.0):.3f}"])
    return rows, per_predicate


def variant_rows(folders, dev) -> list[list[str]]:
    """A dev row per model folder: its thresholds, what it reads, how it was trained."""
    import json

    from zhnlp.triples import TripleExtractor, triple_scores

    rows = []
    for folder in folders:
        extractor = TripleExtractor.from_pretrained(folder, device="cpu")
        s = triple_scores(_as_sets(extractor([x.text for x in dev])), [x.triples for x in dev])
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
        reads = ["characters", *(["words"] if config.get("word_vocab_size") else []),
                 *(["known triples"] if config.get("known_triples") else [])]
        trained = config.get("training", {})  # the trainer's config, as the export wrote it
        record = Path(folder) / "training.json"
        swaps = json.loads(record.read_text(encoding="utf-8")).get("entity_swaps", 0) if record.is_file() else 0
        notes = (f"reads {' + '.join(reads)}; lr {trained.get('lr')}"
                 + (f", from {Path(trained['init_from']).name}" if trained.get("init_from") else "")
                 + (f", {swaps} entity swap(s)" if swaps else "") + (", add_known" if config.get("add_known") else ""))
        rows.append([Path(folder).name, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", notes])
    return rows


def speed(model, dev, repeats: int) -> list[list[str]]:
    from zhnlp.triples import TripleExtractor

    extractor = TripleExtractor.from_pretrained(model, device="cpu")
    texts = [s.text for s in dev]
    seconds, _ = best_time(lambda: extractor(texts), repeats)
    rows = [["TripleExtractor.extract", f"{len(texts) / seconds:.0f} sentences/s", f"{seconds:.2f} s for {len(texts)}",
             "target >= 300"]]
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "dev.txt"
        lines.write_text("\n".join(texts) + "\n", encoding="utf-8")
        command = [sys.executable, "-m", "zhnlp.cli.main", "triples", str(lines), "--model", str(model)]
        whole, _ = best_time(lambda: subprocess.run(command, check=True, capture_output=True), repeats)
    rows.append(["zhnlp triples dev.txt (whole command)", f"{len(texts) / whole:.0f} sentences/s", f"{whole:.2f} s", ""])
    cold = [sys.executable, "-m", "zhnlp.cli.main", "triples", texts[0], "--model", str(model)]
    cold_seconds, _ = best_time(lambda: subprocess.run(cold, check=True, capture_output=True), 3)
    bare, _ = best_time(lambda: subprocess.run([sys.executable, "-m", "zhnlp.cli.main", "--version"], check=True,
                                               capture_output=True), 3)
    rows.append(["cold zhnlp triples \"...\"", f"{cold_seconds:.2f} s", f"zhnlp --version: {bare:.2f} s",
                 "target < 2 s"])
    return rows


def training_speed() -> list[str]:
    from zhnlp.training import TrainerConfig
    from zhnlp.triples.train import TRIPLES_TRAINING, train_triples

    with tempfile.TemporaryDirectory() as tmp:
        summary = train_triples(TRIPLES, Path(tmp) / "m", show_progress=False,
                                trainer_config=TrainerConfig(**{**TRIPLES_TRAINING, "max_steps": 40,
                                                                "save_every": 10**9, "eval_every": 10**9,
                                                                "device": "cpu"}))
    return ["train_triples (batch 32)", f"{summary['examples_per_second']} examples/s", summary["device"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="triples model folder")
    parser.add_argument("--quick", action="store_true", help="no training row, one repeat")
    parser.add_argument("--variants", type=Path, nargs="*", default=[], help="more model folders: a dev row each")
    args = parser.parse_args()
    if not TRIPLES.is_dir():
        raise SystemExit(f"no triples data in {TRIPLES}: see ../shared/data/README.md")
    train, dev = split()
    started = time.time()
    rows, per_predicate = quality(args.model, train, dev, args.quick)
    print_table(f"Triples on the dev split ({len(dev)} sentences of train.json, seed 0)",
                ["system", "P", "R", "F1", "notes"], rows)
    if args.variants:
        print_table("Variants on the dev split (each with its own thresholds)", ["folder", "P", "R", "F1", "notes"],
                    variant_rows(args.variants, dev))
    if per_predicate:
        print_table("Per predicate (light model, its thresholds; by gold count)",
                    ["predicate", "gold", "P", "R", "F1", "dictionary F1"], per_predicate)
    if args.model is not None:
        print_table("Speed on this CPU", ["what", "speed", "time", "notes"], speed(args.model, dev, 1 if args.quick else 3))
    if not args.quick:
        print_table("Training", ["what", "speed", "device"], [training_speed()])
    print(f"done in {time.time() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
