"""Benchmark of the WoBERT tokenizer: sequence length against char-level BERT, identity and speed
against the reference path, speed against char-level BertTokenizerFast.

    python benchmarks/bench_wobert.py           # TNEWS, sentiment, 100k lines of modern_zh.txt, both vocabularies (about 5 min)
    python benchmarks/bench_wobert.py --quick   # TNEWS, WoBERT base vocabulary only (about 1 min)

Texts: the 51,150 TNEWS sentences, the 16,883 reviews of the sentiment set (the kind of data the
published 0.753 length ratio was measured on), and the first 100,000 lines of modern_zh.txt. Sides, each timed
on the whole list (best of the runs; the machine is shared and noisy):
- zhnlp: ``WoBertTokenizer(vocab)(texts)`` (ids with [CLS]/[SEP]); 'cold' is a fresh tokenizer
  whose word cache starts empty (the figure the ratios use), 'warm' a second pass;
- reference: ``jieba.lcut(text.lower(), HMM=False)``, in-vocabulary words as tokens, the rest
  through transformers' Python BertTokenizer, text by text, as the PyTorch port does it;
- char BERT: transformers' ``BertTokenizerFast`` with the char-level Chinese BERT vocabulary, on
  the whole list (batch call).
Columns: tokens per text (with [CLS]/[SEP]) and its ratio to char BERT (target <= 0.76; published
0.753); the same with oov='subwords'; texts whose ids differ from the reference (bert4keras' rules,
reference.py; target 0); speed-ups over the port's path (target >= 5) and over BertTokenizerFast
(target >= 0.5).

Then the whole process, as a user runs it: `zhnlp tokenize TNEWS.txt --json -o OUT` (start-up,
jieba's dictionary, tokens, ids, offsets, JSON) against the port's path as a process of its own over
the same file (benchmarks/_port_tokenize.py: tokens and ids only), alternating, best of the runs;
target >= 5x. Needs transformers and ../shared/data.
"""
from __future__ import annotations

import argparse
import itertools
import json
import time

from _common import DATA, RESULTS, best_time

VOCABS = {"WoBERT": "wobert_chinese_base", "WoBERT Plus": "wobert_chinese_plus_base"}
MODERN_ZH_LINES = 100_000


def load_texts(quick: bool) -> dict[str, list[str]]:
    with open(DATA / "classification" / "tnews" / "train.json", encoding="utf-8") as f:
        texts = {"TNEWS": [json.loads(line)["sentence"] for line in f]}
    if not quick:
        with open(DATA / "classification" / "sentiment" / "train.tsv", encoding="utf-8") as f:
            texts["sentiment"] = [line.rsplit("\t", 1)[0] for line in f if "\t" in line]
        with open(DATA / "corpus" / "modern_zh.txt", encoding="utf-8") as f:
            texts["modern_zh 100k"] = [line.rstrip("\n") for line in itertools.islice(f, MODERN_ZH_LINES)]
    return texts


def measure(name: str, vocab_dir: str, texts: list[str], char_bert, repeats: int) -> dict:
    from zhnlp.wobert import WoBertTokenizer
    from zhnlp.wobert.reference import PortWoBertTokenizer, ReferenceWoBertTokenizer

    vocab = DATA / "wobert" / vocab_dir / "vocab.txt"
    start = time.perf_counter()
    WoBertTokenizer(vocab)
    load_seconds = time.perf_counter() - start

    fresh = iter([WoBertTokenizer(vocab) for _ in range(repeats)])

    def cold():
        return next(fresh)(texts)["input_ids"]  # a tokenizer whose word cache is empty

    ours_cold, ours_ids = best_time(cold, repeats)
    warm_tokenizer = WoBertTokenizer(vocab)
    warm_tokenizer(texts)
    ours_warm, _ = best_time(lambda: warm_tokenizer(texts), repeats)
    subword_ids = WoBertTokenizer(vocab, oov="subwords")(texts)["input_ids"]

    reference = ReferenceWoBertTokenizer(vocab)
    reference.encode("预热")  # jieba loads its dictionary on first use
    ref_ids = [reference.encode(t) for t in texts]
    port = PortWoBertTokenizer(vocab)
    ref_time, _ = best_time(lambda: [port.encode(t) for t in texts], max(1, repeats - 1))
    char_time, char_ids = best_time(lambda: char_bert(texts)["input_ids"], repeats)

    n = len(texts)
    ours_len = sum(map(len, ours_ids)) / n
    char_len = sum(map(len, char_ids)) / n
    subword_len = sum(map(len, subword_ids)) / n
    mismatches = sum(a != b for a, b in zip(ours_ids, ref_ids))
    return {"vocab": name, "texts": n, "chars_per_text": sum(map(len, texts)) / n,
            "tokens_per_text": ours_len, "char_bert_tokens_per_text": char_len, "length_ratio": ours_len / char_len,
            "subword_tokens_per_text": subword_len, "subword_length_ratio": subword_len / char_len,
            "mismatches": mismatches, "zhnlp_cold_s": ours_cold, "zhnlp_warm_s": ours_warm,
            "reference_s": ref_time, "char_bert_fast_s": char_time, "load_s": load_seconds,
            "speedup_vs_reference": ref_time / ours_cold, "speed_vs_char_bert_fast": char_time / ours_cold}


def whole_process(texts: list[str], repeats: int) -> dict:
    """`zhnlp tokenize FILE --json` and the port's path, each a fresh process over the same file."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    vocab = DATA / "wobert" / "wobert_chinese_base" / "vocab.txt"
    folder = Path(tempfile.mkdtemp())
    source = folder / "texts.txt"
    source.write_text("".join(t.replace("\n", " ") + "\n" for t in texts), encoding="utf-8")
    script = Path(sys.executable).with_name("zhnlp")
    ours = [str(script)] if script.exists() else [sys.executable, "-m", "zhnlp.cli.main"]
    ours += ["tokenize", str(source), "--vocab", str(vocab), "--json", "-o", str(folder / "ours.jsonl"), "--force"]
    port = [sys.executable, str(Path(__file__).with_name("_port_tokenize.py")), str(vocab), str(source),
            str(folder / "port.jsonl")]
    times: dict[str, list[float]] = {"zhnlp": [], "port": []}
    for _ in range(repeats):
        for name, command in (("zhnlp", ours), ("port", port)):
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    with open(folder / "ours.jsonl", encoding="utf-8") as a, open(folder / "port.jsonl", encoding="utf-8") as b:
        same = sum(json.loads(x)["input_ids"] == json.loads(y)["input_ids"] for x, y in zip(a, b))
    return {"texts": len(texts), "zhnlp_s": min(times["zhnlp"]), "port_s": min(times["port"]),
            "speedup": min(times["port"]) / min(times["zhnlp"]), "same_ids": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="TNEWS and the WoBERT base vocabulary only")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (best is kept)")
    args = parser.parse_args()
    if not (DATA / "wobert").is_dir():
        raise SystemExit(f"needs the shared data at {DATA}")
    from transformers import BertTokenizerFast
    from transformers.utils import logging

    logging.set_verbosity_error()
    char_bert = BertTokenizerFast(str(DATA / "wobert" / "bert_chinese_char" / "vocab.txt"))
    vocabs = dict(itertools.islice(VOCABS.items(), 1 if args.quick else None))
    rows = []
    for corpus, texts in load_texts(args.quick).items():
        for name, folder in vocabs.items():
            row = measure(name, folder, texts, char_bert, args.repeats)
            rows.append({"corpus": corpus, **row})
            print(f"{corpus} / {name}: done", flush=True)

    from rich.console import Console
    from rich.table import Table

    table = Table(title="WoBERT tokenizer (zhnlp) vs reference path and char-level BertTokenizerFast")
    for column in ("corpus", "vocab", "texts", "tokens/text", "vs char BERT", "subwords: tok/text (ratio)",
                   "id mismatches", "zhnlp cold s", "zhnlp warm s", "reference s", "BertTokenizerFast s",
                   "× reference", "× BertTokenizerFast"):
        table.add_column(column, justify="left" if column in ("corpus", "vocab") else "right")
    for r in rows:
        table.add_row(r["corpus"], r["vocab"], f"{r['texts']:,}", f"{r['tokens_per_text']:.2f}",
                      f"{r['length_ratio']:.3f}", f"{r['subword_tokens_per_text']:.2f} ({r['subword_length_ratio']:.3f})",
                      str(r["mismatches"]), f"{r['zhnlp_cold_s']:.2f}", f"{r['zhnlp_warm_s']:.2f}",
                      f"{r['reference_s']:.2f}", f"{r['char_bert_fast_s']:.2f}", f"{r['speedup_vs_reference']:.1f}",
                      f"{r['speed_vs_char_bert_fast']:.2f}")
    Console(width=220).print(table)
    print("targets: tokens/text <= 0.76x char BERT; 0 mismatches; >= 5x the reference; >= 0.5x BertTokenizerFast")
    process = whole_process(load_texts(True)["TNEWS"], args.repeats)
    table = Table(title="zhnlp tokenize TNEWS --json (a whole process) vs the port's path as a process")
    for column in ("texts", "zhnlp s", "port s", "× port (target >= 5)", "texts with the port's ids"):
        table.add_column(column, justify="right")
    table.add_row(f"{process['texts']:,}", f"{process['zhnlp_s']:.2f}", f"{process['port_s']:.2f}",
                  f"{process['speedup']:.1f}", f"{process['same_ids']:,}")
    Console(width=220).print(table)
    rows.append({"whole_process": process})
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "wobert_tokenizer.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
