"""Benchmark of sentence templates and parsing, next to nlp_zero's Template_Finder and Parser.

    python benchmarks/bench_templates.py           # sidamingzhu.txt and modern_zh.txt (about 15 min)
    python benchmarks/bench_templates.py --quick   # sidamingzhu.txt only (about 2 min)

Both sides read the same corpus: the file minus its lines with a punctuation-free run of more than
150 characters (18 lines of modern_zh.txt, lists such as "广州前卫广州后卫...千户所...千户所"): there
the number of template paths explodes, and nlp_zero, which enumerates every path, never finishes
(zhnlp skips such sentences; see TemplateConfig.max_paths). Both get the same lexicon (zhnlp discover-words on the corpus, defaults; made first and
cached in benchmarks/results) and the same parameters (window 5, min_prob 1e-5, min_pmi 2); nlp_zero
segments with its own Tokenizer over that lexicon. Every run is a fresh child process, so its peak
RSS is its own. Columns:
- wall s, peak MB: the template stage (reading, segmenting, counting, templates);
- templates: templates kept (probability > min_prob), trivial ones included;
- top-100 overlap: share of the 100 most frequent templates with two or more words that both lists hold;
- parse ms: TemplateParser on sentences cut to 10, 20, 40 and 80 words (median of 5), and
  nlp_zero's Parser on 10 and 20 words ('>120000': stopped after 2 minutes; it is not memoised).
Needs `pip install -e .[bench]` (nlp-zero) and ../shared/data.
"""
from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import _common
from _common import DATA, RESULTS

WINDOW, MIN_PROB, MIN_PMI = 5, 1e-5, 2.0
LENGTHS = (10, 20, 40, 80)
NLP_ZERO_LENGTHS = (10, 20)
NLP_ZERO_PARSE_TIMEOUT = 120  # seconds per sentence


def run_child(*args: str, timeout: float | None = None):
    return _common.run_child(__file__, *args, timeout=timeout)


def _nlp_zero_tokenizer(nlp_zero, lexicon_path: str):
    from zhnlp import Lexicon

    trie = nlp_zero.Trie()
    for entry in Lexicon.load(lexicon_path):
        trie[entry.word] = entry.count
    return nlp_zero.Tokenizer(trie)


# ------------------------------------------------------------------------------------ child runs
def child_zhnlp(corpus: str, lexicon: str, out: str) -> dict:
    from zhnlp import find_templates

    start = time.perf_counter()
    templates = find_templates(corpus, lexicon, window=WINDOW, min_prob=MIN_PROB, min_pmi=MIN_PMI)
    wall = time.perf_counter() - start
    templates.save(out, "json")
    return {"wall": wall, "kept": len(templates), "stats": templates.stats}


def child_nlp_zero(corpus: str, lexicon: str, out: str) -> dict:
    nlp_zero = _common.import_nlp_zero()
    tokenizer = _nlp_zero_tokenizer(nlp_zero, lexicon)

    lines = _common.CorpusLines(corpus)
    start = time.perf_counter()
    finder = nlp_zero.Template_Finder(tokenizer.tokenize, window=WINDOW, min_proba=MIN_PROB, min_pmi=MIN_PMI)
    finder.train(lines)
    finder.find(lines)
    wall = time.perf_counter() - start
    rows = [{"words": list(t.words), "count": c} for t, c in finder.templates.items()]
    with open(out, "w", encoding="utf-8") as f:
        json.dump(rows, f, ensure_ascii=False)
    return {"wall": wall, "kept": len(rows)}


def child_nlp_zero_parse(templates_path: str, lexicon: str, sentences_path: str, length: str) -> dict:
    nlp_zero = _common.import_nlp_zero()
    trie = nlp_zero.XTrie()
    for row in json.load(open(templates_path, encoding="utf-8"))["templates"]:
        trie[tuple(row["words"])] = row["count"]
    words = json.load(open(sentences_path, encoding="utf-8"))[length]
    parser = nlp_zero.Parser(trie, lambda s: words)
    start = time.perf_counter()
    parser.parse("".join(words))
    return {"ms": (time.perf_counter() - start) * 1000}


# ------------------------------------------------------------------------------------ helpers
LONG_RUN = 150


def without_long_runs(corpus, folder) -> tuple[str, int]:
    """A copy of corpus without the lines holding a punctuation-free run over LONG_RUN chars."""
    from zhnlp.templates.finder import _SENTENCE

    path = folder / corpus.name
    dropped = 0
    with open(corpus, encoding="utf-8") as src, open(path, "w", encoding="utf-8") as dst:
        for line in src:
            if any(len(run) > LONG_RUN for run in _SENTENCE.findall(line)):
                dropped += 1
            else:
                dst.write(line)
    return str(path), dropped


def ensure_lexicon(corpus) -> str:
    """The lexicon discover-words finds with its defaults, cached under a name that changes with them."""
    import hashlib
    from dataclasses import asdict

    from zhnlp.discovery import DiscoveryConfig

    defaults = hashlib.sha1(json.dumps(asdict(DiscoveryConfig()), sort_keys=True).encode()).hexdigest()[:8]
    path = RESULTS / f"lexicon_{corpus.stem}_{defaults}.tsv"
    if not path.is_file():
        from zhnlp import discover_words

        discover_words(corpus).save(path, "tsv")
    return str(path)


def top_multiword(rows, n=100) -> list[tuple]:
    """The n most frequent templates with two or more words, as word tuples (ties by text)."""
    multi = [(tuple(r["words"]), r["count"]) for r in rows if sum(w is not None for w in r["words"]) >= 2]
    multi.sort(key=lambda x: (-x[1], " ".join(w or "X" for w in x[0])))
    return [t for t, _ in multi[:n]]


def sentences_by_length(corpus, segmenter) -> dict[str, list[str]]:
    """For each length, the words of the first prose line (mostly Chinese words) that has at least
    that many, cut there."""
    import re

    chinese = re.compile(r"[\u4e00-\u9fff]")
    found: dict[str, list[str]] = {}
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            words = segmenter.cut(line.strip())
            if sum(1 for w in words if chinese.match(w)) < 0.8 * len(words):
                continue
            for length in LENGTHS:
                if str(length) not in found and len(words) >= length:
                    found[str(length)] = words[:length]
            if len(found) == len(LENGTHS):
                break
    return found


def parse_times(templates_path, lexicon, sentences) -> dict[int, float]:
    from zhnlp import TemplateParser, TemplateSet

    parser = TemplateParser(TemplateSet.load(templates_path), lexicon)
    times = {}
    for length in LENGTHS:
        words = sentences[str(length)]
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            parser.parse_words(words)
            runs.append((time.perf_counter() - start) * 1000)
        times[length] = statistics.median(runs)
    return times


# ------------------------------------------------------------------------------------ main
def main() -> None:
    _common.benchmark_main(__doc__, {"zhnlp": child_zhnlp, "nlp_zero": child_nlp_zero,
                                     "nlp_zero_parse": child_nlp_zero_parse}, run_all)


def run_all(args) -> None:
    from rich.console import Console
    from rich.table import Table

    from zhnlp import Segmenter

    corpora = ["sidamingzhu.txt"] if args.quick else ["sidamingzhu.txt", "modern_zh.txt"]
    table = Table(title="sentence templates (2-core machine; ratios against nlp_zero in the same run)")
    for column in ("corpus", "method", "wall s", "peak MB", "speed ×", "templates", "top-100 overlap",
                   *(f"parse {n} ms" for n in LENGTHS)):
        table.add_column(column, justify="left" if column in ("corpus", "method") else "right")
    scratch = tempfile.TemporaryDirectory(prefix="zhnlp-bench-")
    notes = []
    for name in corpora:
        lexicon = ensure_lexicon(DATA / "corpus" / name)
        corpus, dropped = without_long_runs(DATA / "corpus" / name, Path(scratch.name))
        corpus = Path(corpus)
        notes.append(f"{name}: {dropped} lines with a run over {LONG_RUN} chars left out")
        ours_path = RESULTS / f"templates_zhnlp_{corpus.stem}.json"
        theirs_path = RESULTS / f"templates_nlp_zero_{corpus.stem}.json"
        ours, ours_rss = run_child("zhnlp", str(corpus), lexicon, str(ours_path))
        theirs, theirs_rss = run_child("nlp_zero", str(corpus), lexicon, str(theirs_path))
        ours_rows = json.load(open(ours_path, encoding="utf-8"))["templates"]
        theirs_rows = json.load(open(theirs_path, encoding="utf-8"))
        a, b = top_multiword(ours_rows), top_multiword(theirs_rows)
        overlap = len(set(a) & set(b)) / max(1, min(len(a), len(b)))
        (RESULTS / f"templates_diff_{corpus.stem}.json").write_text(json.dumps(
            {"only_zhnlp": [" ".join(w or "X" for w in t) for t in a if t not in set(b)],
             "only_nlp_zero": [" ".join(w or "X" for w in t) for t in b if t not in set(a)]},
            ensure_ascii=False, indent=1), encoding="utf-8")
        sentences = sentences_by_length(corpus, Segmenter.from_file(lexicon))
        sentences_path = RESULTS / f"parse_sentences_{corpus.stem}.json"
        sentences_path.write_text(json.dumps(sentences, ensure_ascii=False), encoding="utf-8")
        ours_parse = parse_times(ours_path, lexicon, sentences)
        theirs_parse = {}
        for n in NLP_ZERO_LENGTHS:
            result, _ = run_child("nlp_zero_parse", str(ours_path), lexicon, str(sentences_path), str(n),
                                  timeout=NLP_ZERO_PARSE_TIMEOUT)
            theirs_parse[n] = f"{result['ms']:.1f}" if result else f">{NLP_ZERO_PARSE_TIMEOUT * 1000}"
        table.add_row(name, "zhnlp", f"{ours['wall']:.1f}", f"{ours_rss:.0f}", f"{theirs['wall'] / ours['wall']:.1f}",
                      str(ours["kept"]), f"{overlap:.0%}", *(f"{ours_parse[n]:.2f}" for n in LENGTHS))
        theirs_cells = [theirs_parse.get(n, "-") for n in LENGTHS]
        table.add_row("", "nlp_zero 0.1.6", f"{theirs['wall']:.1f}", f"{theirs_rss:.0f}", "1.0",
                      str(theirs["kept"]), "", *theirs_cells)
        stage = ours["stats"]["seconds"]
        table.add_row("", "  zhnlp stages (s)", "", "", "", "",
                      " ".join(f"{k} {v:.1f}" for k, v in stage.items()), "", "", "", "")
    Console(width=200).print(table)
    print("speed ×: nlp_zero wall / zhnlp wall. parse: nlp_zero's Parser on the same templates; '-' not run.")
    print("; ".join(notes))
    scratch.cleanup()


if __name__ == "__main__":
    main()
