"""Benchmark of triple extraction: dev quality against the dictionary of training triples, speed,
a cold `zhnlp triples` call, and training examples/s.

    python benchmarks/bench_triples.py --model DIR    # a trained triples model folder
    python benchmarks/bench_triples.py --quick        # no training row

Quality on the dev split every triples model here is chosen on: 10% of ../shared/data/triples/
train.json drawn with seed 0 (zhnlp.splits.dev_split; 940 sentences), exact-match micro P/R/F1
over (subject, predicate, object) sets per sentence:
- dictionary: every training triple whose subject and object both occur in the sentence;
- the light model (DGCNN), its default thresholds (0.6 start, 0.5 end).
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


def quality(model, train, dev) -> list[list[str]]:
    from zhnlp.triples import Triple, TripleDictionary, TripleExtractor, triple_scores

    gold = [s.triples for s in dev]
    rows = []

    def row(name, predicted):
        s = triple_scores(predicted, gold)
        rows.append([name, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}"])
        return s

    dictionary = TripleDictionary(train)
    base = row("dictionary of train triples", [dictionary(s.text) for s in dev])
    if model is not None:
        extractor = TripleExtractor.from_pretrained(model, device="cpu")
        found = extractor([s.text for s in dev])
        light = row("light model (DGCNN)", [{Triple(t.subject, t.predicate, t.object) for t in f.triples}
                                           for f in found])
        rows.append(["light minus dictionary", "", "", f"{light['f1'] - base['f1']:+.3f}  (target +0.30)"])
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
    args = parser.parse_args()
    if not TRIPLES.is_dir():
        raise SystemExit(f"no triples data in {TRIPLES}: see ../shared/data/README.md")
    train, dev = split()
    started = time.time()
    print_table(f"Triples on the dev split ({len(dev)} sentences of train.json, seed 0)",
                ["system", "P", "R", "F1"], quality(args.model, train, dev))
    if args.model is not None:
        print_table("Speed on this CPU", ["what", "speed", "time", "notes"], speed(args.model, dev, 1 if args.quick else 3))
    if not args.quick:
        print_table("Training", ["what", "speed", "device"], [training_speed()])
    print(f"done in {time.time() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
