"""The `zhnlp` command line: a thin Typer layer over the library.

Each command parses its options, calls one importable library function that returns data, and
formats the result: results on stdout, progress and messages on stderr. A ZhnlpError becomes a
one-line message with its fix and exit code 1 (2 for bad options); Ctrl-C exits 1 and leaves no
partial output. Library modules are imported inside the commands so that `zhnlp --help` and the
commands that need no neural model start fast and never import torch.
"""
from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from zhnlp.discovery.finder import DiscoveryConfig  # its defaults are the options' defaults

from .common import (LARGE_INPUT_BYTES, EncodingOpt, ForceOpt, InputsArg, JsonOpt, OutputOpt, QuietOpt, check_output,
                     format_for, handle_errors, notice_pure_python, text_blocks, write_blocks)
from .couplet import couplet, evaluate_app, train_app
from .title import evaluate_title_command, title, train_title_command
from .triples import evaluate_triples_command, train_triples_command, triples
from .classify import classify, compress_command, evaluate_classifier_command, train_classifier_command
from .vectors import vectors_app
from .wobert import tokenize, wobert_app

app = typer.Typer(
    name="zhnlp",
    help="zhnlp: Chinese NLP from raw text. Word discovery, segmentation and more.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def version_callback(value: bool) -> None:
    if value:
        from zhnlp import __version__

        typer.echo(f"zhnlp {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[Optional[bool], typer.Option("--version", callback=version_callback, is_eager=True,
                                                    help="Print the version and exit.")] = None,
) -> None:
    """zhnlp: Chinese NLP from raw text."""


# --------------------------------------------------------------------------------------------- info
@app.command()
@handle_errors
def info(json_output: JsonOpt = False) -> None:
    """Show the version, whether the compiled kernels are in use, torch and CUDA, model folders and
    the default models shipped with zhnlp."""
    from zhnlp.info import environment_info

    data = environment_info()
    if json_output:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    for key, value in data.items():
        if isinstance(value, dict):
            value = [f"{name}: {folder}" for name, folder in value.items()] or "none"
        if isinstance(value, list):
            value = "\n  ".join([""] + value)
        typer.echo(f"{key}: {value}")


# --------------------------------------------------------------------------------------------- words
class LexiconFormat(str, Enum):
    tsv = "tsv"
    jieba = "jieba"
    json = "json"
    jsonl = "jsonl"


@app.command("discover-words")
@handle_errors
def discover_words_command(
    inputs: InputsArg,
    output: OutputOpt = None,
    fmt: Annotated[Optional[LexiconFormat], typer.Option("--format", "-f", help="tsv: word, count, score; "
                                                         "jieba: a jieba user dictionary; json; jsonl. Default: "
                                                         "from the -o suffix, else tsv.",
                                                         show_default=False)] = None,
    force: ForceOpt = False,
    min_count: Annotated[int, typer.Option("--min-count", min=1, help="Least occurrences of a word.")
                         ] = DiscoveryConfig.min_count,
    max_len: Annotated[int, typer.Option("--max-len", min=1, max=8, help="Longest word, in characters.")
                       ] = DiscoveryConfig.max_len,
    min_pmi: Annotated[float, typer.Option("--min-pmi", min=0.0, help="Cohesion per link, in nats: an "
                                           "n-gram's weakest split needs min_pmi*(n-1).")] = DiscoveryConfig.min_pmi,
    redundancy: Annotated[float, typer.Option("--redundancy", help="Keep a word when ln(p(w)/prod p(parts)) "
                                              "exceeds this (eq. 2.17 gives 1).")] = DiscoveryConfig.redundancy,
    iterations: Annotated[int, typer.Option("--iterations", min=1, help="Re-segment with the lexicon and "
                                            "recount this many times in all.")] = DiscoveryConfig.iterations,
    top: Annotated[Optional[int], typer.Option("--top", min=1, help="Only the N most frequent words.")] = None,
    min_length: Annotated[int, typer.Option("--min-length", min=1, help="Only words of at least this many "
                                            "characters (2 hides single characters).")] = 1,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Counting threads (0: one per core).")] = 0,
    max_ngrams: Annotated[int, typer.Option("--max-ngrams", min=0, help="Distinct n-grams held in memory "
                                            "before the rarest are pruned (about 16 bytes each; 0: no "
                                            "limit).")] = DiscoveryConfig.max_ngrams,
    encoding: EncodingOpt = "utf-8",
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Run on Dask (pip install "
                                                     "'zhnlp[dask]'): local[:N] starts N local worker "
                                                     "processes, tcp://HOST:8786 uses a running cluster. "
                                                     "Inputs may then be fsspec URLs the workers can read. "
                                                     "The lexicon is the same.", show_default=False)] = None,
    quiet: QuietOpt = False,
) -> None:
    """Find the words of a Chinese corpus with no dictionary (minimum-entropy word discovery).

    Prints word<TAB>count<TAB>score, most frequent first. Examples:

        zhnlp discover-words corpus.txt --top 20

        zhnlp discover-words corpus/ --scheduler local:4 -o words.tsv
    """
    import time

    from zhnlp.discovery import discover_words
    from zhnlp.outputs import atomic_output

    config = DiscoveryConfig(min_count=min_count, min_pmi=min_pmi, max_len=max_len, redundancy=redundancy,
                             iterations=iterations, workers=workers, max_ngrams=max_ngrams)
    check_output(output, force)
    notice_pure_python()
    start = time.perf_counter()
    lexicon = discover_words(inputs, config, encoding=encoding, show_progress=not quiet, scheduler=scheduler)
    with atomic_output(output, force=force) as handle:
        lexicon.write(handle, format_for(output, fmt, LexiconFormat), top=top, min_length=min_length)
    shown = len(lexicon.top(top, min_length))
    if not shown:
        chars = lexicon.stats.get("chars", 0)
        change = (f"lower --min-count (now {min_count}; e.g. --min-count 2 for a small corpus)" if not len(lexicon)
                  else f"lower --min-length (now {min_length})")
        typer.echo(f"warning: no words found in {chars:,} characters: {change}", err=True)
    if not quiet:
        stats = lexicon.stats
        pruned = f"; n-grams seen fewer than {stats['pruned_below']} times were pruned" if stats["pruned_below"] else ""
        typer.echo(f"{len(lexicon)} words from {stats['chars']:,} chars in {time.perf_counter() - start:.1f} s"
                   f"{pruned}" + (f"; written to {output}" if output else ""), err=True)


@app.command()
@handle_errors
def segment(
    inputs: InputsArg,
    lexicon: Annotated[Path, typer.Option("--lexicon", "-l", help="Lexicon from discover-words (tsv, jieba, "
                                          "json or jsonl), or any 'word count' file.")],
    output: OutputOpt = None,
    force: ForceOpt = False,
    encoding: EncodingOpt = "utf-8",
    quiet: QuietOpt = False,
) -> None:
    """Segment text into words with a lexicon (unigram model; one output line per input line).

    Example:

        zhnlp segment article.txt --lexicon words.tsv
    """
    from zhnlp.progress import progress_task
    from zhnlp.segmentation import Segmenter
    from zhnlp.outputs import atomic_output
    from zhnlp.textio import iter_line_blocks, resolve_sources, total_bytes

    segmenter = Segmenter.from_file(lexicon)
    sources = resolve_sources(inputs)
    check_output(output, force)
    size = total_bytes(sources)
    if size is None or size > LARGE_INPUT_BYTES:
        notice_pure_python()
    show = not quiet and output is not None
    with progress_task("segmenting", total=size, enabled=show) as task, \
            atomic_output(output, force=force) as handle:
        blocks = iter_line_blocks(sources, encoding, on_bytes=task.advance)
        write_blocks(handle, (list(segmenter.segment_lines(lines)) for lines in blocks))


# --------------------------------------------------------------------------------------------- templates
class TemplateFormat(str, Enum):
    tsv = "tsv"
    json = "json"
    jsonl = "jsonl"


@app.command()
@handle_errors
def templates(
    inputs: InputsArg,
    lexicon: Annotated[Optional[Path], typer.Option("--lexicon", "-l", help="Lexicon to segment with; without "
                                                    "it, words are discovered from the corpus first.")] = None,
    output: OutputOpt = None,
    fmt: Annotated[Optional[TemplateFormat], typer.Option("--format", "-f", help="tsv: template, count; json; "
                                                          "jsonl. Default: from the -o suffix, else tsv.",
                                                          show_default=False)] = None,
    force: ForceOpt = False,
    window: Annotated[int, typer.Option("--window", min=1, max=255, help="Pairs are counted up to this many "
                                        "words apart.")] = 5,
    min_pmi: Annotated[float, typer.Option("--min-pmi", help="Least ln(p_ab/(p_a p_b)) of an edge.")] = 2.0,
    min_prob: Annotated[float, typer.Option("--min-prob", min=0.0, max=1.0, help="Pairs and templates rarer "
                                            "than this are dropped.")] = 1e-5,
    top: Annotated[Optional[int], typer.Option("--top", min=1, help="Only the N most frequent.")] = None,
    include_trivial: Annotated[bool, typer.Option("--all", help="Also list trivial templates (X w X); "
                                                  "give --all when the file is for `zhnlp parse`.")] = False,
    min_words: Annotated[int, typer.Option("--min-words", min=1, help="Only templates with at least this "
                                           "many words.")] = 1,
    save_lexicon: Annotated[Optional[Path], typer.Option("--save-lexicon", help="Also write the discovered "
                                                         "lexicon here (for `zhnlp parse --lexicon`).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Counting threads (0: one per core).")] = 0,
    encoding: EncodingOpt = "utf-8",
    quiet: QuietOpt = False,
) -> None:
    """Find sentence templates: words that co-occur within a window, joined into patterns like X 的 X.

    Prints template<TAB>count, most frequent first; X marks a slot. Example:

        zhnlp templates corpus.txt --lexicon words.tsv --all -o templates.tsv
    """
    import time

    from zhnlp.errors import InputError
    from zhnlp.templates import TemplateConfig, find_templates
    from zhnlp.outputs import atomic_output

    config = TemplateConfig(window=window, min_prob=min_prob, min_pmi=min_pmi, workers=workers)
    check_output(output, force)
    notice_pure_python()
    if save_lexicon is not None:
        if lexicon is not None:
            raise InputError("--save-lexicon writes a discovered lexicon, but --lexicon was given",
                             "drop one of the two options")
        check_output(save_lexicon, force)
    if lexicon is not None and not lexicon.is_file():
        raise InputError(f"lexicon not found: {lexicon}", f"make one: zhnlp discover-words CORPUS -o {lexicon}")
    start = time.perf_counter()
    found = find_templates(inputs, str(lexicon) if lexicon else None, config, encoding=encoding,
                           show_progress=not quiet)
    with atomic_output(output, force=force) as handle:
        found.write(handle, format_for(output, fmt, TemplateFormat), top=top, include_trivial=include_trivial,
                    min_words=min_words)
    if save_lexicon is not None and found.lexicon is not None:
        found.lexicon.save(save_lexicon, force=force)
    if not quiet:
        stats = found.stats
        n_skipped = stats["skipped_sentences"]
        skipped = (f"; {n_skipped} sentence{'s' if n_skipped > 1 else ''} with over {config.max_paths} "
                   f"paths skipped" if n_skipped else "")
        typer.echo(f"{len(found)} templates ({sum(t.is_trivial for t in found)} trivial) from "
                   f"{stats['words']:,} words in {time.perf_counter() - start:.1f} s{skipped}"
                   + (f"; written to {output}" if output else ""), err=True)


@app.command()
@handle_errors
def parse(
    text: Annotated[str, typer.Argument(help="A sentence, a text file (one sentence per line), or - for stdin.",
                                        show_default=False)],
    templates_path: Annotated[Path, typer.Option("--templates", "-t", help="Templates from `zhnlp templates "
                                                 "--all -o FILE`.")],
    lexicon: Annotated[Optional[Path], typer.Option("--lexicon", "-l", help="The lexicon the templates were "
                                                    "found with; without it, sentences are segmented with the "
                                                    "templates' own words.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON tree per line: template, span, "
                                              "text, children.")] = False,
    encoding: EncodingOpt = "utf-8",
    output: OutputOpt = None,
    force: ForceOpt = False,
) -> None:
    """Parse sentences into nested templates: the cover with the highest total log-probability.

    Each line is split into sentences (runs of Chinese characters, Latin letters and digits;
    punctuation ends one) and each sentence gets a tree; --json prints one list of trees per line, a
    blank line for a blank line. Example:

        zhnlp parse "他们都是从北京来的学生" --templates templates.tsv --lexicon words.tsv
    """
    from zhnlp.errors import InputError
    from zhnlp.templates import TemplateParser, TemplateSet
    from zhnlp.outputs import atomic_output

    check_output(output, force)
    if lexicon is not None and not lexicon.is_file():
        raise InputError(f"lexicon not found: {lexicon}", f"make one: zhnlp discover-words CORPUS -o {lexicon}")
    template_set = TemplateSet.load(templates_path)
    if not template_set.has_trivial:
        typer.echo(f"warning: {templates_path} has no trivial templates (X w X), so parses will be coarse; "
                   f"write it with: zhnlp templates CORPUS --all -o {templates_path}", err=True)
    parser = TemplateParser(template_set, str(lexicon) if lexicon else None)
    console = None
    with atomic_output(output, force=force) as handle:
        for lines in text_blocks(text, encoding, "parse"):
            for line in lines:
                trees = parser.parse_line(line)
                if json_output:
                    handle.write((json.dumps([tree.to_dict() for tree in trees], ensure_ascii=False)
                                  if line.strip() else "") + "\n")
                    continue
                if console is None:
                    from rich.console import Console

                    console = Console(highlight=False) if output is None else \
                        Console(file=handle, color_system=None, highlight=False, width=200)
                if not trees:
                    console.print("" if not line.strip() else "(no words)")
                for tree in trees:
                    console.print(_rich_tree(tree))
            handle.flush()


def _rich_tree(node):
    from rich.markup import escape
    from rich.tree import Tree

    def label(n):
        template = "[dim]no template[/dim]" if n.template is None else f"[cyan]{escape(str(n.template))}[/cyan]"
        return f"{escape(n.label())}  {template}"

    def grow(tree, n):
        for child in n.children:
            grow(tree.add(label(child)), child)
        return tree

    return grow(Tree(label(node)), node)


# --------------------------------------------------------------------------------------------- WoBERT
app.command()(tokenize)
app.add_typer(wobert_app, name="wobert")

# --------------------------------------------------------------------------------------------- couplets
app.command()(couplet)
app.command()(title)
train_app.command("title")(train_title_command)
evaluate_app.command("title")(evaluate_title_command)
app.command()(triples)
train_app.command("triples")(train_triples_command)
evaluate_app.command("triples")(evaluate_triples_command)
app.command()(classify)
app.command("compress")(compress_command)
train_app.command("classifier")(train_classifier_command)
evaluate_app.command("classifier")(evaluate_classifier_command)
app.add_typer(train_app, name="train")
app.add_typer(evaluate_app, name="evaluate")

# --------------------------------------------------------------------------------------------- vectors
app.add_typer(vectors_app, name="vectors")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
