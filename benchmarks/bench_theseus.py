"""Benchmark of classification, FGM and BERT-of-Theseus on TNEWS and IFLYTEK (issue 18).

    python benchmarks/bench_theseus.py --models bench-models          # hours on this CPU; resumable
    python benchmarks/bench_theseus.py --models bench-models --quick  # 2,000 examples, 1 epoch: the code path

Dev splits: TNEWS, 10% of train.json drawn with seed 0 (CLUE's dev is kept back from the project);
IFLYTEK, its dev.json. Rows per task, dev accuracy and macro-F1:
- char TF-IDF + logistic regression (scikit-learn: characters 1-3-grams, sublinear tf, C=4);
- the classifier from scratch (zhnlp train classifier, no --model), with and without FGM (eps 0.5),
  the same seed and steps;
- the classifier from the small WoBERT (--wobert DIR), when given;
- Theseus: the predecessor (the classifier from scratch: what `zhnlp train classifier` makes by
  default), its successor (zhnlp compress, half the layers), and the same K-layer model fine-tuned
  directly from the predecessor's first K layers.
Speed: latency per sentence (batch 1) and sentences/s (batch 64) on the CPU, parameters and size.
Every model is trained under --models/TASK/NAME and resumes there, so a killed run goes on.
Targets: the successor keeps >= 98% of the predecessor's accuracy, runs >= 1.9x faster, and beats
the directly fine-tuned K-layer model.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _common import DATA, print_table

TASKS = {"tnews": DATA / "classification" / "tnews", "iflytek": DATA / "classification" / "iflytek"}


def tfidf_row(dataset) -> list[str]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from zhnlp.classification.train import accuracy_and_macro_f1

    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    features = vectorizer.fit_transform([e.text for e in dataset.train])
    classifier = LogisticRegression(C=4.0, max_iter=2000).fit(features, [e.label for e in dataset.train])
    predicted = classifier.predict(vectorizer.transform([e.text for e in dataset.dev]))
    s = accuracy_and_macro_f1(list(predicted), [e.label for e in dataset.dev])
    return ["char TF-IDF + LR", f"{100 * s['accuracy']:.2f}", f"{100 * s['macro_f1']:.2f}", "", ""]


def cached(path: Path, compute):
    """compute(), kept in ``path`` (JSON) so that a resumed run does not redo it."""
    import json

    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    value = compute()
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    return value


def subset(folder: Path, out: Path, n: int) -> Path:
    """The first ``n`` lines of train.json (and dev.json, labels.json as they are), for --quick."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("train.json", "dev.json", "labels.json"):
        if (folder / name).is_file():
            lines = (folder / name).read_text(encoding="utf-8").splitlines(keepends=True)
            (out / name).write_text("".join(lines[:n] if name != "labels.json" else lines), encoding="utf-8")
    return out


def speed(folder: Path, texts: list[str]) -> tuple[float, float, int]:
    from zhnlp.classification import Classifier

    classifier = Classifier.from_pretrained(folder, device="cpu")
    started = time.perf_counter()
    for text in texts[:200]:
        classifier(text)
    latency = (time.perf_counter() - started) / min(len(texts), 200)
    rate = 0.0
    for _ in range(3):  # the best of three: this machine is shared
        started = time.perf_counter()
        classifier(texts, batch_size=64)
        rate = max(rate, len(texts) / (time.perf_counter() - started))
    return latency, rate, sum(p.numel() for p in classifier.network.parameters())


def run_task(name: str, data: Path, models: Path, quick: bool, wobert: str | None,
             skip_fgm: bool = False) -> list[list[str]]:
    from zhnlp.classification import evaluate_classifier, load_dataset
    from zhnlp.classification.theseus import compress, first_layers
    from zhnlp.classification.train import FINE_TUNING, FROM_SCRATCH, train_classifier
    from zhnlp.training import TrainerConfig

    models = models / name
    models.mkdir(parents=True, exist_ok=True)
    if quick:
        data = subset(data, models / "data", 2000)
    dataset = load_dataset(data)
    dev_file = models / "dev.tsv"
    dev_file.write_text("".join(f"{e.text}\t{e.label}\n" for e in dataset.dev), encoding="utf-8")
    epochs = 1 if quick else None
    rows = [cached(models / "tfidf.json", lambda: tfidf_row(dataset))]
    texts = [e.text for e in dataset.dev]

    rates: dict[str, float] = {}

    def scored(label: str, folder: Path, notes: str = "") -> float:
        s = evaluate_classifier(folder, dev_file, device="auto")
        latency, rates[folder.name], parameters = speed(folder, texts)
        rows.append([label, f"{100 * s['accuracy']:.2f}", f"{100 * s['macro_f1']:.2f}",
                     f"{1000 * latency:.1f} ms, {rates[folder.name]:.0f}/s", f"{parameters / 1e6:.1f} M; {notes}"])
        return s["accuracy"]

    def trained(sub: str, **options) -> Path:
        recipe = FINE_TUNING if options.get("model") else FROM_SCRATCH
        extra = options.pop("trainer", {})
        train_classifier(data, models / sub, epochs=epochs, show_progress=not quick,
                         trainer_config=TrainerConfig(**{**recipe, **extra}), **options)
        return models / sub

    # the predecessor is what `zhnlp train classifier` makes by default; Theseus first, as it is the
    # issue's target, then FGM (twice the cost of a step) and the WoBERT rows
    predecessor = trained("scratch")
    accuracy = scored("from scratch (small BERT, 4 layers): the predecessor", predecessor)
    compress(predecessor, data, models / "successor", replacing_epochs=1 if quick else 2, successor_epochs=1,
             show_progress=not quick)
    successor = scored("Theseus successor (half the layers)", models / "successor", "zhnlp compress defaults")
    direct, start = models / "first-layers", models / "first-layers-init"
    if not (start / "model.safetensors").is_file():
        first_layers(predecessor, _layers(predecessor) // 2, start, force=True)
    train_classifier(data, direct, model=start, epochs=1 if quick else 3, show_progress=not quick)
    plain = scored("first K layers fine-tuned directly", direct, "3 epochs, as train classifier --model")
    rows.append(["successor / predecessor", f"{successor / accuracy:.3f}", "", "", "target >= 0.98"])
    rows.append(["successor minus direct", f"{100 * (successor - plain):+.2f}", "", "", "target > 0"])
    rows.append(["successor speed-up, batch 64", f"{rates['successor'] / rates[predecessor.name]:.2f}x", "", "",
                 "target >= 1.9x"])
    if not skip_fgm:
        # no early stop, so that both rows train the same steps (a stalled first epoch stopped one)
        scored("from scratch, FGM eps 0.5", trained("scratch-fgm", trainer={"adversarial": "fgm", "patience": 0}),
               "same seed and steps as the predecessor")
    if wobert:
        scored("from the small WoBERT", trained("wobert", model=wobert))
        if not skip_fgm:
            scored("from the small WoBERT, FGM", trained("wobert-fgm", model=wobert,
                                                        trainer={"adversarial": "fgm", "patience": 0}))
    return rows


def _layers(folder: Path) -> int:
    import json

    return json.loads((folder / "config.json").read_text(encoding="utf-8"))["num_hidden_layers"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, required=True, help="where the benchmark's models are trained")
    parser.add_argument("--tasks", default="tnews,iflytek")
    parser.add_argument("--wobert", help="the small WoBERT folder to fine-tune from")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-fgm", action="store_true", help="leave out the FGM rows (each costs 2.3x its plain run)")
    args = parser.parse_args()
    started = time.time()
    for name in args.tasks.split(","):
        if name not in TASKS or not TASKS[name].is_dir():
            raise SystemExit(f"no {name} data in {TASKS.get(name)}: see ../shared/data/README.md")
        print_table(f"{name}: dev accuracy and macro-F1 (%), CPU speed", ["model", "accuracy", "macro-F1",
                    "latency, batch 64", "parameters; notes"], run_task(name, TASKS[name], args.models, args.quick,
                                                                      args.wobert, args.no_fgm))
    print(f"done in {time.time() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
