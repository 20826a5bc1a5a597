"""Shared by the benchmark scripts: paths, and child runs whose peak RSS is their own."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"


def run_child(script: str, *args: str, timeout: float | None = None) -> tuple[dict | None, float]:
    """Run `script --child ARGS` in a fresh process; return its JSON result (None on timeout)
    and its peak RSS in MB."""
    proc = subprocess.Popen([sys.executable, script, "--child", *args], stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    timer = threading.Timer(timeout, proc.kill) if timeout else None
    if timer:
        timer.start()
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # reaped here, so that its rusage is its own
    proc.returncode = os.waitstatus_to_exitcode(status)
    timed_out = timer is not None and not timer.is_alive() and proc.returncode != 0
    if timer:
        timer.cancel()
    if timed_out:
        return None, usage.ru_maxrss / 1024
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed with status {proc.returncode}")
    return json.loads(output), usage.ru_maxrss / 1024


def best_time(run, repeats: int = 3) -> tuple[float, object]:
    """The best wall time of ``repeats`` runs (the machine is shared and noisy), and the last result."""
    import time

    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def benchmark_main(doc: str, children: dict, run, extra_flags: dict[str, str] | None = None) -> None:
    """Parse the common options; run one child job (``--child KIND ARGS``) and print its JSON, or
    check the shared data and call ``run(args)`` for the whole benchmark."""
    import argparse

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="sidamingzhu.txt only")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    for flag, help_text in (extra_flags or {}).items():
        parser.add_argument(flag, action="store_true", help=help_text)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        print(json.dumps(children[kind](*rest)))
        return
    if not (DATA / "corpus").is_dir():
        raise SystemExit(f"needs the shared data at {DATA}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    run(args)


def import_nlp_zero():
    """nlp_zero 0.1.6, made importable on Python 3.10+ and silenced."""
    import collections
    import collections.abc
    import logging

    collections.Iterable = collections.abc.Iterable  # nlp_zero 0.1.6 predates Python 3.10
    logging.disable(logging.CRITICAL)
    import nlp_zero

    return nlp_zero


class CorpusLines:
    """The stripped lines of a corpus file, re-readable (nlp_zero reads its input twice)."""

    def __init__(self, path):
        self.path = path

    def __iter__(self):
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                yield line.strip()


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)


def tiny_bert(folder: Path, texts: list[str], hidden: int = 64, layers: int = 2, heads: int = 2) -> Path:
    """A random BERT whose vocabulary is the char-BERT vocabulary's tokens seen in ``texts``."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    seen = set("".join(texts).lower())
    base = (DATA / "wobert" / "bert_chinese_char" / "vocab.txt").read_text(encoding="utf-8").split("\n")
    vocab = [t for t in base[:106] if t] + [t for t in base[106:] if t in seen]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(str(folder / "vocab.txt"))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=4 * hidden, max_position_embeddings=512)
    BertForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
