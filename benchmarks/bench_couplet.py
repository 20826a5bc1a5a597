"""Benchmark of the couplet model: dev quality against the counting table, decoding speed against
the published decoder, a cold `zhnlp couplet` call, and training examples/s.

    python benchmarks/bench_couplet.py                 # the shipped model (data/models/couplet), about 3 min
    python benchmarks/bench_couplet.py --model DIR     # another model folder
    python benchmarks/bench_couplet.py --quick         # 1,000 dev lines, no training run (about 1 min)
    python benchmarks/bench_couplet.py --variants DIR...   # only the table of model variants (below)

Quality, on ../shared/data/couplet/dev (BLEU: sacrebleu, tokenize='zh', 0-100; char accuracy: share of
positions equal to the reference; rule violations: lines breaking a couplet rule):
- argmax: the post's decoder (the upper character at the same position forbidden, even punctuation);
- constrained: zhnlp's decoder under the rules, scoring each position's shortlist (the 128 lower
  characters most often aligned with its upper character in train; zhnlp/couplet/shortlist.py);
- constrained, whole vocabulary: the same decoder scoring every character (--no-shortlist);
- constrained + memory: the same model with a memory of the train pairs (`zhnlp train couplet-memory`,
  zhnlp/couplet/memory.py; built into a temporary copy, never shipped): their counts mixed into the
  CNN's probabilities, the 10 best lines re-ranked;
- counting table: for each upper character with two characters of context on each side, the most
  frequent lower character in train (backing off to one, then none), decoded under the same rules
  (the calibration of issue 5: BLEU 9.35).
The memory's weights were chosen on dev lines 1-1,500; a second table scores lines 1,501-3,917 alone.
Speed (best of 5, whole dev set, the machine is shared and noisy):
- zhnlp batch: ``Couplet(lines)``, the best line under the rules per upper line (numpy on the CPU),
  over the shortlist, then over the whole vocabulary;
- zhnlp scored: ``Couplet.answer(lines)``, the same with normalised log-probabilities;
- zhnlp batch, PyTorch path: the same decoding with the model run by PyTorch on the CPU;
- zhnlp batch with memory: the same with the memory (whole vocabulary, 10 lines re-ranked per line);
- published decoder: the post's way, as reimplemented: batches of 256 lines padded to their longest,
  a full softmax, then per line the argmax with the upper character forbidden (same model);
- cold CLI: a fresh `zhnlp couplet "春回大地千山秀"` process (start, model load, answer), best of 3,
  beside a bare `python -c "import torch"`; then with the memory (its index is built at load).
Shortlist sizes: for 32 to 256 characters per upper character, the share of characters the whole-
vocabulary decoder picks that the shortlist decoder picks too, on every 40th train upper line (no
reference needed), and lines/s on dev.
Training: examples/s of `train_couplet` on this CPU over 300 steps at batch 64 (the default).
Variants (--variants DIR...; issue 20): per model folder, constrained decoding on all of dev (BLEU,
char accuracy, violations), the folder's size (weights and shortlist), lines/s in batch (best of 3),
beside the counting table computed in the same run.
Targets (issue 5): constrained 0% violations, BLEU >= 12, char accuracy clearly above the counting
table; >= 10,000 lines/s in batch; cold call < 1.5 s.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DATA, RESULTS, best_time, print_table

COUPLET = DATA / "couplet"


TUNED_LINES = 1500  # dev lines the memory's weights were chosen on (zhnlp/couplet/memory.py)


def quality(model, remembering, lines: int | None) -> tuple[list[dict], list[dict]]:
    """Rows on all dev lines (the first ``lines``), and on the lines after TUNED_LINES."""
    from zhnlp.couplet import Couplet, score_lines
    from zhnlp.couplet.data import read_pairs
    from _couplet_baseline import counting_baseline

    pairs = read_pairs(COUPLET, "dev")[:lines]
    uppers, references = [u for u, _ in pairs], [w for _, w in pairs]
    bot = Couplet.from_pretrained(model, device="cpu")
    outputs = {"argmax (post)": bot(uppers, constrained=False), "constrained": bot(uppers),
               "constrained, whole vocabulary": Couplet.from_pretrained(model, device="cpu", shortlist=False)(uppers),
               "constrained + memory": Couplet.from_pretrained(remembering, device="cpu")(uppers),
               "counting table": counting_baseline(COUPLET, limit=lines)}
    every = [{"decoder": name, **score_lines(uppers, out, references)} for name, out in outputs.items()]
    held_out = [{"decoder": name, **score_lines(uppers[TUNED_LINES:], outputs[name][TUNED_LINES:],
                                                references[TUNED_LINES:])}
                for name in ("constrained", "constrained + memory", "counting table") if len(uppers) > TUNED_LINES]
    return every, held_out


def published_decoder(model, vocab: list[str], uppers: list[str], batch_size: int = 256) -> list[str]:
    """The post's decoding, reimplemented: padded batches, full softmax, per-line argmax in numpy."""
    import numpy as np
    import torch

    index = {c: i for i, c in enumerate(vocab)}
    out = []
    with torch.inference_mode():
        for start in range(0, len(uppers), batch_size):
            chunk = uppers[start:start + batch_size]
            width = max(map(len, chunk))
            ids = [[index.get(c, 1) for c in u] + [0] * (width - len(u)) for u in chunk]
            probs = torch.softmax(model(torch.tensor(ids)), -1).numpy()  # (B, T, V)
            for row, upper, row_ids in zip(probs, chunk, ids):
                row = row[:len(upper)].copy()
                row[np.arange(len(upper)), row_ids[:len(upper)]] = 0
                out.append("".join(vocab[i] for i in row[:, 2:].argmax(-1) + 2))
    return out


def speed(model_dir, remembering, lines: int | None) -> list[dict]:
    from zhnlp.couplet import Couplet, CoupletModel
    from zhnlp.couplet.data import read_pairs

    bot = Couplet.from_pretrained(model_dir, device="cpu")  # numpy
    whole = Couplet.from_pretrained(model_dir, device="cpu", shortlist=False)
    torch_model = CoupletModel.from_pretrained(model_dir)
    on_torch = Couplet(torch_model, device="cpu", shortlist=bot.shortlist)
    with_memory = Couplet.from_pretrained(remembering, device="cpu")
    uppers = [u for u, _ in read_pairs(COUPLET, "dev")][:lines]
    bot(uppers[:256])  # warm-up
    rows = []
    for name, run in (("zhnlp batch (constrained)", lambda: bot(uppers)),
                      ("zhnlp batch (constrained, whole vocabulary)", lambda: whole(uppers)),
                      ("zhnlp scored (constrained, -n/--json)", lambda: bot.answer(uppers)),
                      ("zhnlp batch (argmax)", lambda: bot(uppers, constrained=False)),
                      ("zhnlp batch, PyTorch path (constrained)", lambda: on_torch(uppers)),
                      ("zhnlp batch with memory (constrained + memory)", lambda: with_memory(uppers)),
                      ("published decoder (argmax)", lambda: published_decoder(torch_model, torch_model.vocab, uppers))):
        seconds, _ = best_time(run, repeats=5)
        rows.append({"side": name, "lines": len(uppers), "seconds": round(seconds, 3),
                     "lines_per_second": round(len(uppers) / seconds)})
    reference = rows[-1]["lines_per_second"]
    for row in rows:
        row["vs_published"] = round(row["lines_per_second"] / reference, 2)
    return rows


def shortlist_sizes(model_dir, sizes=(32, 64, 128, 256)) -> list[dict]:
    from zhnlp.couplet import Couplet
    from zhnlp.couplet.data import read_pairs
    from zhnlp.couplet.shortlist import build_shortlist

    whole = Couplet.from_pretrained(model_dir, device="cpu", shortlist=False)
    train = read_pairs(COUPLET, "train")
    sample = [u for u, _ in train[::40] if len(u) <= whole.max_length]
    reference = whole(sample)
    dev = [u for u, _ in read_pairs(COUPLET, "dev")]
    rows = []
    for size in sizes:
        bot = Couplet(whole.network, whole.vocab, shortlist=build_shortlist(train, whole.vocab, size).astype("int64"))
        same = sum(a == b for x, y in zip(bot(sample), reference) for a, b in zip(x, y))
        seconds, _ = best_time(lambda: bot(dev), repeats=5)
        rows.append({"size": size, "agreement": round(same / sum(map(len, reference)), 4),
                     "lines_per_second": round(len(dev) / seconds)})
    return rows


def cold_start(model, remembering) -> dict:
    command = [sys.executable, "-m", "zhnlp.cli.main", "couplet", "春回大地千山秀", "--device", "cpu"]

    def run(cmd):
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()

    seconds, answer = best_time(lambda: run(command + (["--model", str(model)] if model else [])))
    remembered, memory_answer = best_time(lambda: run(command + ["--model", str(remembering)]))
    bare, _ = best_time(lambda: run([sys.executable, "-c", "import torch"]))
    return {"cold_call_seconds": round(seconds, 3), "import_torch_seconds": round(bare, 3), "answer": answer,
            "cold_call_with_memory_seconds": round(remembered, 3), "answer_with_memory": memory_answer}


def training_speed(steps: int = 300) -> dict:
    from zhnlp.couplet import CoupletConfig, train_couplet
    from zhnlp.training import TrainerConfig

    with tempfile.TemporaryDirectory() as folder:
        config = TrainerConfig(max_steps=steps, lr=2e-3, warmup_steps=50, device="cpu", save_every=10**9)
        summary = train_couplet(COUPLET, Path(folder) / "m", CoupletConfig(), config, batch_size=64,
                                show_progress=False)
    return {"device": summary["device"], "steps": steps, "examples_per_second": summary["examples_per_second"]}


def describe(folder: Path) -> str:
    """A model folder's shape in a few words: width, convolutions, contexts, the step it was kept at."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    record = folder / "training.json"
    step = json.loads(record.read_text(encoding="utf-8"))["step"] if record.is_file() else None
    words = [f"width {config['embedding_dim']}", f"{len(config['dilations'])} convs",
             f"dropout {config['dropout']}"]
    if config.get("context_buckets"):
        words.append(f"contexts {config['context_buckets']:,}x{config['context_dim']}"
                     f"{' in+out' if config.get('context_input') else ' out'}")
    if config.get("training", {}).get("init_from"):
        words.append(f"from {Path(config['training']['init_from']).name}")
    if step is not None:
        words.append(f"step {step:,}")
    return ", ".join(words)


def context_kinds(uppers: list[str]) -> list[list[str]]:
    """Per dev position: "5-gram" when its ±2-character upper context occurs in train, else "trigram"
    when its ±1 context does, else "unseen"; "punctuation" (copied by the rules) first."""
    from zhnlp.couplet.data import read_pairs
    from zhnlp.couplet.decode import is_punctuation

    seen: dict[int, set] = {2: set(), 1: set()}
    for upper, _ in read_pairs(COUPLET, "train"):
        padded = "^^" + upper + "$$"
        for i in range(len(upper)):
            for width in (2, 1):
                seen[width].add(padded[i + 2 - width:i + 3 + width])
    kinds = []
    for upper in uppers:
        padded = "^^" + upper + "$$"
        kinds.append(["punctuation" if is_punctuation(c) else "5-gram" if padded[i:i + 5] in seen[2]
                      else "trigram" if padded[i + 1:i + 4] in seen[1] else "unseen" for i, c in enumerate(upper)])
    return kinds


KINDS = ("5-gram", "trigram", "unseen")


def accuracy_by_kind(answers: list[str], references: list[str], kinds: list[list[str]]) -> dict:
    right, total = {k: 0 for k in KINDS}, {k: 0 for k in KINDS}
    for answer, reference, line_kinds in zip(answers, references, kinds):
        for a, r, kind in zip(answer, reference, line_kinds):
            if kind in total:
                total[kind] += 1
                right[kind] += a == r
    return {f"accuracy_{k}": round(right[k] / max(total[k], 1), 3) for k in KINDS} | {
        f"positions_{k}": total[k] for k in KINDS}


def variants(folders: list[Path]) -> list[dict]:
    """Constrained decoding on all of dev for each folder, and the counting table, in one run; char
    accuracy also by how much of each position's upper context train holds (context_kinds)."""
    from zhnlp.couplet import Couplet, score_lines
    from zhnlp.couplet.data import read_pairs
    from _couplet_baseline import counting_baseline

    pairs = read_pairs(COUPLET, "dev")
    uppers, references = [u for u, _ in pairs], [w for _, w in pairs]
    kinds = context_kinds(uppers)
    started = time.perf_counter()
    table = counting_baseline(COUPLET)
    rows = [{"variant": "counting table (±2, ±1, 0 context)", "folder": "-", "megabytes": None,
             "lines_per_second": round(len(uppers) / (time.perf_counter() - started)),
             **score_lines(uppers, table, references), **accuracy_by_kind(table, references, kinds)}]
    for folder in folders:
        bot = Couplet.from_pretrained(folder, device="cpu")
        answers = bot(uppers)
        seconds, _ = best_time(lambda: bot(uppers), repeats=3)
        size = sum((folder / name).stat().st_size for name in ("model.safetensors", "shortlist.safetensors")
                   if (folder / name).is_file())
        rows.append({"variant": describe(folder), "folder": str(folder), "megabytes": round(size / 2**20, 1),
                     "lines_per_second": round(len(uppers) / seconds), **score_lines(uppers, answers, references),
                     **accuracy_by_kind(answers, references, kinds)})
    return rows


def print_variants(rows: list[dict]) -> None:
    print_table("Couplet variants on dev (all 3,917 lines; constrained decoding)",
                ["variant", "folder", "BLEU", "char accuracy", *(f"at {k}" for k in KINDS), "rule violations",
                 "MB", "lines/s"],
                [[r["variant"], r["folder"], f"{r['bleu']:.2f}", f"{r['char_accuracy']:.4f}",
                  *(f"{r['accuracy_' + k]:.3f}" for k in KINDS), f"{r['rule_violation_rate']:.2%}",
                  "-" if r["megabytes"] is None else f"{r['megabytes']}", f"{r['lines_per_second']:,}"] for r in rows])
    counts = rows[0]
    print("char accuracy by the upper context of a position: 5-gram = its ±2 characters occur in train ("
          f"{counts['positions_5-gram']:,} positions), trigram = only its ±1 ({counts['positions_trigram']:,}), "
          f"unseen = neither ({counts['positions_unseen']:,}); punctuation, copied by the rules, left out")
    print("targets (issue 20): BLEU above the table's and char accuracy above its, 0% violations, "
          ">= 10,000 lines/s, <= 20 MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model folder (default: the shipped one)")
    parser.add_argument("--quick", action="store_true", help="1,000 dev lines, no training run")
    parser.add_argument("--variants", type=Path, nargs="+", metavar="DIR",
                        help="only compare these model folders with the counting table on dev")
    args = parser.parse_args()
    if not COUPLET.is_dir():
        raise SystemExit(f"needs the shared data at {COUPLET}")
    if args.variants:
        rows = variants(args.variants)
        print_variants(rows)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "couplet_variants.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
        return
    import torch

    from zhnlp.couplet import build_memory

    lines = 1000 if args.quick else None
    with tempfile.TemporaryDirectory() as folder:
        remembering = Path(folder) / "with-memory"
        started = time.perf_counter()
        memory = build_memory(COUPLET, args.model, remembering)
        memory["seconds"] = round(time.perf_counter() - started, 2)
        every, held_out = quality(args.model, remembering, lines)
        results = {"threads": torch.get_num_threads(), "memory": memory, "quality": every,
                   "quality_held_out": held_out, "speed": speed(args.model, remembering, lines),
                   "cold": cold_start(args.model, remembering)}
    if not args.quick:
        results["shortlist_sizes"] = shortlist_sizes(args.model)
        results["training"] = training_speed()

    def quality_rows(rows):
        return [[r["decoder"], f"{r['bleu']:.2f}", f"{r['char_accuracy']:.4f}", f"{r['exact_match']:.4f}",
                 f"{r['rule_violation_rate']:.2%}"] for r in rows]

    columns = ["decoder", "BLEU", "char accuracy", "exact match", "rule violations"]
    print_table(f"Couplets on dev ({'1,000 lines' if args.quick else 'all 3,917 lines'})", columns,
                quality_rows(results["quality"]))
    if results["quality_held_out"]:
        print_table(f"dev lines {TUNED_LINES + 1:,}+ (not used to choose the memory's weights)", columns,
                    quality_rows(results["quality_held_out"]))
    memory = results["memory"]
    print(f"memory: {memory['pairs']:,} train pairs, {memory['megabytes']} MB, built in {memory['seconds']} s")
    speed_rows = [[r["side"], f"{r['lines']:,}", f"{r['seconds']:.3f}", f"{r['lines_per_second']:,}",
                   f"{r['vs_published']:.2f}x"] for r in results["speed"]]
    print_table(f"Decoding speed on this CPU ({results['threads']} threads)",
                ["side", "lines", "seconds", "lines/s", "vs published"], speed_rows)
    if "shortlist_sizes" in results:
        print("shortlist sizes: agreement = share of the whole-vocabulary decoder's characters the shortlist "
              "decoder keeps (every 40th train upper line); lines/s on dev")
        print_table("Shortlist sizes", ["size", "agreement", "lines/s"],
                    [[str(r["size"]), f"{r['agreement']:.1%}", f"{r['lines_per_second']:,}"]
                     for r in results["shortlist_sizes"]])
    cold = results["cold"]
    print(f"cold `zhnlp couplet \"春回大地千山秀\"`: {cold['cold_call_seconds']:.2f} s "
          f"(python -c 'import torch' alone: {cold['import_torch_seconds']:.2f} s) -> {cold['answer']}; "
          f"with the memory: {cold['cold_call_with_memory_seconds']:.2f} s -> {cold['answer_with_memory']}")
    if "training" in results:
        t = results["training"]
        print(f"training: {t['examples_per_second']:,.0f} examples/s on {t['device']}, batch 64, {t['steps']} steps")
    print("targets: constrained 0% violations, BLEU >= 12, char accuracy above the counting table; "
          ">= 10,000 lines/s in batch; cold call < 1.5 s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"couplet{'_quick' if args.quick else ''}.json").write_text(json.dumps(results, indent=1,
                                                                                      ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
