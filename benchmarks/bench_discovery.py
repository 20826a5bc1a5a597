"""Benchmark of word discovery: speed, memory and lexicon quality, next to nlp_zero's Word_Finder.

    python benchmarks/bench_discovery.py            # sidamingzhu.txt and modern_zh.txt (about 4 min)
    python benchmarks/bench_discovery.py --quick    # sidamingzhu.txt only, no nlp_zero on modern_zh
    python benchmarks/bench_discovery.py --big      # the 1 GB input: modern_zh.txt x10 (about 2 min)
    python benchmarks/bench_discovery.py --dask     # one process against a LocalCluster of 2 workers,
                                                    # on modern_zh and on it x10 (about 15 min; with
                                                    # --quick, modern_zh only: 1 min)

Every run happens in a fresh child process, so peak RSS is that run's own. Columns:
- wall, peak RSS: the whole discovery, reading the file included;
- counter Mch/s: the n-gram counter alone on one core (encoded corpus; for the pure-Python twin on
  the first 2 M chars; for nlp_zero its `train` counting pass);
- P@1000: share of the 1000 most frequent multi-char words found in jieba's dict.txt;
- R@32: share of the jieba-dictionary words that jieba (HMM off) emits >= 32 times in the corpus
  that the lexicon contains (jieba's cut is computed with zhnlp's DP loaded with jieba's dictionary,
  which tests/test_segmentation.py proves identical to jieba.lcut(HMM=False));
- MSR F1: msr_test.utf8 segmented with the lexicon by the same unigram DP, against the gold.
Needs `pip install -e .[bench]` (jieba, nlp-zero) and ../shared/data.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import _common
from _common import DATA, RESULTS


# ------------------------------------------------------------------------------------ child runs
def child_zhnlp(corpus: str, out: str) -> dict:
    from zhnlp import discover_words

    start = time.perf_counter()
    lexicon = discover_words(corpus)
    wall = time.perf_counter() - start
    lexicon.save(out, "tsv")
    return {"wall": wall, "stats": lexicon.stats}


def child_dask(corpus: str, out: str, workers: str) -> dict:
    """discover-words --scheduler local:N as the CLI runs it, the cluster's start included, with
    what the projection needs: each task kind's compute seconds, bytes moved, workers' peak RSS."""
    import distributed

    from zhnlp.discovery import DiscoveryConfig
    from zhnlp.discovery.distributed import connect, discover_words_on_dask

    start = time.perf_counter()
    client, cluster = connect(f"local:{workers}")  # as --scheduler local:N starts it
    started = time.perf_counter()
    with distributed.get_task_stream(client) as stream:
        lexicon = discover_words_on_dask(corpus, DiscoveryConfig(), client)
    job = time.perf_counter() - started
    lexicon.save(out, "tsv")
    compute: dict[str, float] = {}
    for record in stream.data:
        kind = str(record["key"]).split("-")[1:-2]
        seconds = sum(s["stop"] - s["start"] for s in record["startstops"] if s["action"] == "compute")
        compute["-".join(kind)] = compute.get("-".join(kind), 0.0) + seconds

    def peak_rss_mb() -> float:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024

    peaks = list(client.run(peak_rss_mb).values())
    moved = sum(client.run(lambda dask_worker: dask_worker.transfer_outgoing_bytes_total).values())
    client.close()
    cluster.close()
    return {"wall": time.perf_counter() - start, "job": job, "startup": started - start, "stats": lexicon.stats,
            "compute": compute, "worker_peak_mb": peaks, "moved_bytes": moved}


def child_counter(corpus: str, implementation: str, max_chars: int) -> dict:
    if implementation == "pure":
        from zhnlp._native import pure as kernels
    else:
        from zhnlp._native import _kernels as kernels
    with open(corpus, encoding="utf-8") as f:
        text = f.read(max_chars) if max_chars else f.read()
    vocab = kernels.CharVocab()
    ids = vocab.encode(text)
    counter = kernels.NgramCounter(order=4, nparts=1, expected_entries=int(len(text) * 0.65))
    start = time.perf_counter()
    counter.count(ids, 0)
    seconds = time.perf_counter() - start
    return {"chars": len(text), "seconds": seconds, "chars_per_s": len(text) / seconds}


def child_nlp_zero(corpus: str, out: str) -> dict:
    Word_Finder = _common.import_nlp_zero().Word_Finder
    lines = _common.CorpusLines(corpus)

    start = time.perf_counter()
    finder = Word_Finder(min_proba=1e-7, min_pmi=1)
    finder.train(lines)
    counted = time.perf_counter()
    finder.find(lines)
    wall = time.perf_counter() - start
    chars = sum(finder.chars.values())
    with open(out, "w", encoding="utf-8") as f:
        for word, count in sorted(finder.words.items(), key=lambda x: -x[1]):
            f.write(f"{word}\t{count}\n")
    return {"wall": wall, "counter_chars_per_s": chars / (counted - start)}


def run_child(*args: str) -> tuple[dict, float]:
    return _common.run_child(__file__, *args)


# ------------------------------------------------------------------------------------ quality
def jieba_dictionary() -> dict[str, int]:
    import jieba

    counts = {}
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
        for line in f:
            word, freq = line.split(" ")[:2]
            counts[word] = int(freq)
    return counts


def jieba_reference_counts(corpus: Path, dictionary: dict[str, int]) -> dict[str, int]:
    """How often jieba (HMM off) emits each dictionary word in corpus; cached in benchmarks/results."""
    cache = RESULTS / f"jieba_counts_{corpus.stem}.json"
    if cache.is_file():
        return json.loads(cache.read_text(encoding="utf-8"))
    from zhnlp import Segmenter

    segmenter = Segmenter(dictionary)
    counts: dict[str, int] = {}
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            for word in segmenter.cut(line):
                if word in dictionary:
                    counts[word] = counts.get(word, 0) + 1
    cache.write_text(json.dumps(counts, ensure_ascii=False), encoding="utf-8")
    return counts


def quality(lexicon_path: Path, dictionary: dict[str, int], reference: dict[str, int], msr: bool) -> dict:
    from zhnlp import Lexicon, Segmenter
    from zhnlp.discovery.scoring import precision_at_k, recall_of_frequent, segmentation_prf

    lexicon = Lexicon.load(lexicon_path)
    result = {"words": len(lexicon), "p_at_1000": precision_at_k(lexicon, set(dictionary), 1000),
              "r_at_32": recall_of_frequent(lexicon, reference, 32)}
    if msr:
        segmenter = Segmenter(lexicon)
        seg_dir = DATA / "segmentation"
        raw = [line for line in open(seg_dir / "msr_test.utf8", encoding="utf-8")]
        gold = [line.split() for line in open(seg_dir / "msr_test_gold.utf8", encoding="utf-8")]
        pairs = [(segmenter.cut("".join(r.split())), g) for r, g in zip(raw, gold) if g]
        p, r, f1, skipped = segmentation_prf([a for a, _ in pairs], [b for _, b in pairs])
        result.update(msr_f1=f1, msr_skipped=skipped)
    return result


# ------------------------------------------------------------------------------------ main
def main() -> None:
    _common.benchmark_main(__doc__, {"zhnlp": child_zhnlp, "nlp_zero": child_nlp_zero, "dask": child_dask,
                                     "counter": lambda corpus, kind, limit: child_counter(corpus, kind, int(limit))},
                           run_all, {"--big": "only the 1 GB run: modern_zh.txt ten times over (about 2 min)",
                                     "--dask": "one process against a LocalCluster of 2 workers (about 10 min)"})


def run_big() -> None:
    """Wall time and peak RSS of discovery on a 1 GB corpus (target: within 2 GB)."""
    import tempfile

    source = DATA / "corpus" / "modern_zh.txt"
    with tempfile.TemporaryDirectory(prefix="zhnlp-bench-") as scratch:
        big = Path(scratch) / "modern_zh_x10.txt"
        with open(big, "wb") as out:
            for _ in range(10):
                out.write(source.read_bytes())
        result, rss = run_child("zhnlp", str(big), str(Path(scratch) / "words.tsv"))
        size = big.stat().st_size
    print(f"1 GB input ({size / 1e6:.0f} MB, modern_zh.txt x10): wall {result['wall']:.1f} s, "
          f"peak RSS {rss:.0f} MB, {result['stats']['words']} words, "
          f"n-grams pruned below {result['stats']['pruned_below']}")


def projection(runs: list[tuple[str, dict, dict]]) -> None:
    """Wall on N machines of 2 cores from the 1 GB run's measured parts, as a model (printed)."""
    name, single, dask = runs[-1]
    compute = dask["compute"]
    maps = sum(v for k, v in compute.items() if k in ("counting-n-grams", "cutting-sentences", "re-segmenting"))
    sums = sum(v for k, v in compute.items() if k.endswith("-sum"))
    small = sum(v for k, v in compute.items() if k in ("part", "meta", "frequent", "candidates"))
    job = dask["job"]
    # what neither the tasks nor their spread explain: the driver's own steps (cohesion, redundancy,
    # building the global vocabulary) and the waits between stages
    driver = max(0.0, job - (maps + sums + small) / 2)
    bandwidth = 1e9 / 8 * 10  # 10 Gbit/s between machines
    print(f"\nprojection from the {name} run (2 local workers, job {job:.1f} s): the range tasks' compute "
          f"{maps:.1f} s, the partition sums' {sums:.1f} s, small tasks {small:.1f} s, the driver and waits "
          f"{driver:.1f} s, {dask['moved_bytes'] / 1e6:.0f} MB moved")
    print("model: wall(N machines x 2 cores) = driver + (range tasks + small tasks) / 2N + sums / min(2N, "
          "partitions) + bytes moved / (10 Gbit/s); assumes ranges spread evenly, a fixed driver share, and "
          "partitions = 2 x workers (so the sums spread too); a corpus k times larger multiplies the range "
          "tasks and the bytes by k, the sums by at most k (only new n-grams add to them)")
    from _common import print_table

    rows = []
    for machines in (1, 2, 4, 8, 16, 64):
        cores = 2 * machines
        for scale in (1, 10):
            wall = (driver + (maps + small) * scale / cores + sums * scale / cores
                    + dask["moved_bytes"] * scale / bandwidth * (0 if machines == 1 else 1))
            rows.append([str(machines), f"{scale} GB", f"{wall:.0f} s", f"{single['wall'] * scale / wall:.1f}x"])
    print_table("projected wall of discover-words --scheduler on N machines", ["machines", "corpus", "wall",
                                                                              "vs one process"], rows)


def run_dask(quick: bool) -> None:
    """One process against a LocalCluster of 2 workers, the whole command each, on modern_zh and on it
    x10 (--quick: modern_zh only, no projection)."""
    import tempfile

    from rich.console import Console
    from rich.table import Table

    source = DATA / "corpus" / "modern_zh.txt"
    table = Table(title="discover-words on one process and on Dask (2-core machine, the same run)")
    for column in ("corpus", "run", "wall s", "of which", "peak RSS MB", "moved MB", "lexicon", "ratio"):
        table.add_column(column, justify="left" if column in ("corpus", "run", "of which", "lexicon") else "right")
    runs = []
    with tempfile.TemporaryDirectory(prefix="zhnlp-bench-") as scratch:
        big = Path(scratch) / "modern_zh_x10.txt"
        with open(big, "wb") as out:
            for _ in range(0 if quick else 10):
                out.write(source.read_bytes())
        for name, corpus in (("modern_zh.txt", source), ("modern_zh x10", big))[:1 if quick else 2]:
            one_out, many_out = Path(scratch) / "one.tsv", Path(scratch) / "many.tsv"
            single, single_rss = run_child("zhnlp", str(corpus), str(one_out))
            dask, driver_rss = run_child("dask", str(corpus), str(many_out), "2")
            same = "identical" if one_out.read_bytes() == many_out.read_bytes() else "DIFFERS"
            stage = dask["stats"]["seconds"]
            table.add_row(name, "one process", f"{single['wall']:.1f}", "", f"{single_rss:.0f}", "", "", "1.00")
            table.add_row("", "2 local workers", f"{dask['wall']:.1f}",
                          f"start {dask['startup']:.1f}, count {stage['count']:.1f}, cut {stage['cut']:.1f}, "
                          f"redund. {stage['redundancy']:.1f}",
                          " / ".join(f"{p:.0f}" for p in dask["worker_peak_mb"]) + f" (any process: {driver_rss:.0f})",
                          f"{dask['moved_bytes'] / 1e6:.0f}", same, f"{dask['wall'] / single['wall']:.2f}")
            runs.append((name, single, dask))
    Console(width=200).print(table)
    print("ratio: wall over the one-process run's in the same benchmark (target <= 1.5); peak RSS of each "
          "worker (target <= 1200 MB on the 1 GB input) and the largest of all the job's processes")
    if not quick:
        projection(runs)


def run_all(args) -> None:
    if args.big:
        run_big()
        return
    if args.dask:
        run_dask(args.quick)
        return
    from rich.console import Console
    from rich.table import Table

    dictionary = jieba_dictionary()
    corpora = ["sidamingzhu.txt"] if args.quick else ["sidamingzhu.txt", "modern_zh.txt"]
    table = Table(title="word discovery (2-core machine; ratios against nlp_zero in the same run)")
    for column in ("corpus", "method", "wall s", "peak MB", "counter Mch/s", "speed ×", "words",
                   "P@1000", "R@32", "MSR F1"):
        table.add_column(column, justify="left" if column in ("corpus", "method") else "right")
    for name in corpora:
        corpus = DATA / "corpus" / name
        is_modern = name == "modern_zh.txt"
        reference = jieba_reference_counts(corpus, dictionary)
        ours_path = RESULTS / f"zhnlp_{corpus.stem}.tsv"
        ours, ours_rss = run_child("zhnlp", str(corpus), str(ours_path))
        compiled, _ = run_child("counter", str(corpus), "compiled", "0")
        twin, _ = run_child("counter", str(corpus), "pure", "2000000")
        ours_q = quality(ours_path, dictionary, reference, msr=is_modern)
        theirs = None
        if not (args.quick and is_modern):
            theirs_path = RESULTS / f"nlp_zero_{corpus.stem}.tsv"
            theirs, theirs_rss = run_child("nlp_zero", str(corpus), str(theirs_path))
            theirs_q = quality(theirs_path, dictionary, reference, msr=is_modern)
        fmt = lambda q, k: f"{q[k]:.3f}" if k in q else "-"  # noqa: E731
        speedup = f"{theirs['wall'] / ours['wall']:.1f}" if theirs else "-"
        table.add_row(name, "zhnlp", f"{ours['wall']:.1f}", f"{ours_rss:.0f}", f"{compiled['chars_per_s'] / 1e6:.1f}",
                      speedup, str(ours_q["words"]), fmt(ours_q, "p_at_1000"), fmt(ours_q, "r_at_32"),
                      fmt(ours_q, "msr_f1"))
        table.add_row("", "zhnlp pure-Python counter", "-", "-", f"{twin['chars_per_s'] / 1e6:.2f}",
                      f"{twin['chars_per_s'] / compiled['chars_per_s']:.3f}", "-", "-", "-", "-")
        if theirs:
            table.add_row("", "nlp_zero 0.1.6", f"{theirs['wall']:.1f}", f"{theirs_rss:.0f}",
                          f"{theirs['counter_chars_per_s'] / 1e6:.2f}", "1.0", str(theirs_q["words"]),
                          fmt(theirs_q, "p_at_1000"), fmt(theirs_q, "r_at_32"), fmt(theirs_q, "msr_f1"))
        stage = ours["stats"]["seconds"]
        table.add_row("", "  zhnlp stages (s)", "", "", "", "",
                      f"count {stage['count']:.1f}", f"cut {stage['cut']:.1f}", f"redund. {stage['redundancy']:.1f}", "")
    Console(width=200).print(table)
    print("speed ×: nlp_zero wall / zhnlp wall; for the pure-Python counter, its chars/s over the compiled one's.")


if __name__ == "__main__":
    main()
