"""`zhnlp title`, `zhnlp train title`, `zhnlp evaluate title`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import AdversarialOpt, DeviceOpt, EncodingOpt, EpsilonOpt, ForceOpt, JsonOpt, OutputOpt, QuietOpt, \
    RestartOpt, SeedOpt, check_output, handle_errors, looks_like_file

TitleModelOpt = Annotated[Optional[str], typer.Option("--model", "-m", help="A title model: a folder, a name under "
                                                      "$ZHNLP_MODELS, or a hub id (default: the one shipped with "
                                                      "zhnlp).")]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Articles decoded together.")]
BeamOpt = Annotated[int, typer.Option("--beam", min=1, max=64, help="Beam width (1: greedy).")]


def _read_article(article: str, encoding: str) -> tuple[str, str | None]:
    """(the article, its file name or None): a file (all of it), - (all of stdin) or the text itself."""
    from zhnlp.errors import InputError
    from zhnlp.textio import iter_text_blocks, resolve_sources

    if article == "-" or looks_like_file(article):
        text = "".join(iter_text_blocks(resolve_sources(article), encoding))
        return text, "<stdin>" if article == "-" else article
    from zhnlp.chars import has_han

    if article.endswith((".txt", ".tsv")) or ("/" in article and not has_han(article) and " " not in article.strip()):
        raise InputError(f"no such file: {article}", "check the path, or quote the article's text to title it")
    return article, None


@handle_errors
def title(
    article: Annotated[str, typer.Argument(help="A file (the whole file is one article; with --lines one article "
                                           "per line), - for stdin, or the article's text.", show_default=False)],
    lines: Annotated[bool, typer.Option("--lines", help="Each line is an article: one title per line, same order "
                                        "and count, a blank line for a blank line.")] = False,
    n: Annotated[int, typer.Option("-n", min=1, max=64, help="Titles per article, best first, with scores.")] = 1,
    beam: BeamOpt = 4,
    sample: Annotated[bool, typer.Option("--sample", help="Sample instead of beam search (consistent top-k/top-p: "
                                         "the end token is always a candidate).")] = False,
    top_k: Annotated[int, typer.Option("--top-k", min=0, help="Sampling: the k most likely tokens (0: all).")] = 0,
    top_p: Annotated[float, typer.Option("--top-p", min=0.0, max=1.0, help="Sampling: the smallest set of tokens "
                                         "with this much probability.")] = 1.0,
    temperature: Annotated[float, typer.Option("--temperature", min=0.01, help="Sampling temperature.")] = 1.0,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Sampling seed (default: random).")] = None,
    max_length: Annotated[Optional[int], typer.Option("--max-length", min=1, max=512, help="Most title units; a "
                                                      "title cut there is flagged.", show_default="the model's")
                          ] = None,
    no_repeat: Annotated[int, typer.Option("--no-repeat-ngram", min=0, help="No n-gram of this size twice in a "
                                           "title (0: off).")] = 3,
    json_output: Annotated[bool, typer.Option("--json", help='One JSON object per article: {"title", '
                                              '"candidates": [{"title", "score"}], "truncated"}.')] = False,
    model: TitleModelOpt = None,
    device: DeviceOpt = "auto",
    batch_size: BatchOpt = 32,
    encoding: EncodingOpt = "utf-8",
    output: OutputOpt = None,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write a title for an article (seq2seq with copying; 玩转Keras之seq2seq自动生成标题). Every decode
    ends: at the end token, or at --max-length, flagged "truncated". An article longer than the model
    reads is cut to its head, with a note on stderr.

    Example:

        zhnlp title abstract.txt
        zhnlp title abstracts.txt --lines -o titles.txt
        zhnlp title abstract.txt -n 3 --json
    """
    from zhnlp.outputs import atomic_output
    from zhnlp.title import TitleGenerator

    check_output(output, force)
    options = dict(num_beams=beam, num_return=n, do_sample=sample, top_k=top_k, top_p=top_p,
                   temperature=temperature, seed=seed, max_length=max_length, batch_size=batch_size,
                   no_repeat_ngram_size=no_repeat)
    if not sample and n > beam:
        from zhnlp.errors import InputError

        raise InputError(f"-n {n} titles asked from --beam {beam}", f"use --beam {n} or more, or --sample")
    if lines:
        _title_lines(article, options, model, device, encoding, output, force, json_output, n, quiet)
        return
    text, name = _read_article(article, encoding)
    if not text.strip():
        from zhnlp.errors import InputError

        raise InputError(f"empty article{': ' + name if name else ''}", "give the article's text")
    generator = TitleGenerator.from_pretrained(model, device=device)
    [result] = generator.generate([text], **options)
    _notes(generator, [result], quiet, name)
    with atomic_output(output, force=force) as handle:
        handle.write(_format(result, n, json_output) + "\n")


def _title_lines(article, options, model, device, encoding, output, force, json_output, n, quiet) -> None:
    from zhnlp.outputs import atomic_output
    from zhnlp.progress import progress_task
    from zhnlp.textio import iter_line_blocks, resolve_sources
    from zhnlp.title import TitleGenerator

    from .common import text_blocks

    generator = None
    name = "<stdin>" if article == "-" else article
    with progress_task("titles", unit="titles", enabled=not quiet and output is not None) as task, \
            atomic_output(output, force=force) as handle:
        blocks = text_blocks(article, encoding, "title") if article == "-" or looks_like_file(article) else \
            iter_line_blocks(resolve_sources(article))  # the file's absence is reported by text_blocks' reader
        line_number = 0
        for block in blocks:
            articles = [line for line in block if line.strip()]
            if articles and generator is None:
                generator = TitleGenerator.from_pretrained(model, device=device)
            results = iter(generator.generate(articles, on_batch=task.advance, **options) if articles else [])
            out = []
            for line in block:
                line_number += 1
                if not line.strip():
                    out.append("")
                    continue
                result = next(results)
                if result.source_truncated and not quiet:
                    typer.echo(f"note: {name}, line {line_number}: longer than the model reads "
                               f"({generator.max_source_length - 1} characters); its head was used", err=True)
                out.append(_format(result, n, json_output))
            handle.write("".join(line + "\n" for line in out))
            handle.flush()


def _notes(generator, results, quiet: bool, name: str | None) -> None:
    if quiet:
        return
    for result in results:
        if result.source_truncated:
            typer.echo(f"note: {name or 'the article'} is longer than the model reads "
                       f"({generator.max_source_length - 1} characters); its head was used", err=True)
        if result.truncated:
            typer.echo("note: the title was cut at --max-length before the model ended it", err=True)


def _format(result, n: int, json_output: bool) -> str:
    if json_output:
        return json.dumps(result.as_dict(), ensure_ascii=False)
    if n == 1:
        return result.title
    return "\t".join(f"{t}\t{s:.4f}" for t, s in result.candidates)


@handle_errors
def train_title_command(
    data: Annotated[Path, typer.Option("--data", help="Title pairs: abstract<TAB>title lines (or CSL's "
                                       "'to title<TAB>abstract<TAB>title').")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder (holds the checkpoint to resume from).")],
    model: Annotated[Optional[str], typer.Option("--model", help="A BERT/WoBERT folder or hub id: train UniLM on it "
                                                 "instead of the light model.")] = None,
    dev: Annotated[Optional[Path], typer.Option("--dev", help="Dev pairs (default: --dev-fraction of --data, drawn "
                                                "with --split-seed).")] = None,
    dev_fraction: Annotated[float, typer.Option("--dev-fraction", min=0.0, max=0.9, help="Share of --data kept for "
                                                "dev (0: train on all of it, keep the last epoch).")] = 0.2,
    split_seed: Annotated[int, typer.Option("--split-seed")] = 0,
    titles: Annotated[Optional[Path], typer.Option("--titles", help="Other titles (one per line, a TAB may follow) "
                                                   "for the light model's denoising task, e.g. "
                                                   "csl_titles_8k.tsv.")] = None,
    keywords: Annotated[Optional[Path], typer.Option("--keywords", help="Keywords aligned line by line with --data "
                                                     "(_-joined) for the light model's keyword task.")] = None,
    vectors: Annotated[Optional[Path], typer.Option("--vectors", help="A vectors folder (zhnlp vectors train) for "
                                                    "the light model's embedding.")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", min=1, help="Most epochs; early stopping on dev "
                                                  "Rouge-L may end sooner.", show_default="30 light, 10 UniLM")
                      ] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", min=1, help="Examples per step.",
                                                      show_default="32 light, 16 UniLM")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", min=0.0, help="Peak learning rate.",
                                                show_default="1e-3 light, 2e-5 UniLM")] = None,
    hidden_size: Annotated[Optional[int], typer.Option("--hidden-size", min=16, help="Light model: decoder width "
                                                       "(the encoder's two directions are half each).",
                                                       show_default="256")] = None,
    self_terminating: Annotated[Optional[float], typer.Option("--self-terminating", min=0.0, max=0.5,
                                                              help="Light model: the self-terminating output's "
                                                              "epsilon (p(end) at step t >= 1-(1-eps)^t; 0: off).",
                                                              show_default="0")] = None,
    patience: Annotated[Optional[int], typer.Option("--patience", min=0, help="Epochs without a better dev Rouge-L "
                                                    "before stopping (0: never).")] = None,
    ema: Annotated[Optional[float], typer.Option("--ema", min=0.0, max=0.9999, help="EMA decay of the weights "
                                                 "evaluated and exported (0: off).",
                                                 show_default="0.998 light, 0 UniLM")] = None,
    adversarial: AdversarialOpt = None,
    epsilon: EpsilonOpt = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    restart: RestartOpt = False,
    encoding: EncodingOpt = "utf-8",
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train a title model: the light copying seq2seq by default, UniLM with --model. Evaluates greedy
    Rouge-L on dev every epoch and keeps the best; run again to resume.

    Example:

        zhnlp train title --data ../shared/data/title/csl_train.tsv -o title-model \\
            --titles ../shared/data/title/csl_titles_8k.tsv --keywords ../shared/data/title/csl_train_keywords.txt
        zhnlp train title --data pairs.tsv --model bert-base-chinese -o title-unilm --device cuda
    """
    from zhnlp.title.train import LIGHT_TRAINING, UNILM_TRAINING, train_title
    from zhnlp.training import TrainerConfig

    recipe = UNILM_TRAINING if model else LIGHT_TRAINING
    given = dict(lr=lr, device=device, seed=seed, patience=patience, ema_decay=ema, adversarial=adversarial,
                 epsilon=epsilon)
    trainer_config = TrainerConfig(**{**recipe, **{k: v for k, v in given.items() if v is not None}})
    options: dict = dict(dev=dev, dev_fraction=dev_fraction, split_seed=split_seed, trainer_config=trainer_config,
                         batch_size=batch_size or (16 if model else 32), epochs=epochs, restart=restart, force=force,
                         show_progress=not quiet, encoding=encoding)
    if model is None:
        shape = {"hidden_size": hidden_size, "self_terminating_epsilon": self_terminating}
        options.update(titles=titles, keywords=keywords, vectors=vectors,
                       config={k: v for k, v in shape.items() if v is not None}, epochs=epochs or 30)
    summary = train_title(data, output, model=model, **options)
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


@handle_errors
def evaluate_title_command(
    data: Annotated[Path, typer.Option("--data", help="Title pairs to score (a dev or test file; all of it).")],
    model: TitleModelOpt = None,
    beam: BeamOpt = 4,
    lead_k: Annotated[Optional[int], typer.Option("--lead-k", min=1, help="The Lead-k baseline's k.",
                                                  show_default="chosen on the model's training pairs")] = None,
    device: DeviceOpt = "auto",
    batch_size: BatchOpt = 32,
    encoding: EncodingOpt = "utf-8",
    json_output: JsonOpt = False,
) -> None:
    """Rouge-1/2/L and BLEU as the published CSL figures are computed (rouge F on space-joined
    characters, nltk sentence BLEU with method1, averaged over lines, an empty title 0), with Lead-k
    on the same lines.

    Example:

        zhnlp evaluate title --data dev.tsv --model title-model
    """
    from zhnlp.title.train import evaluate_title

    scores = evaluate_title(model, data, device=device, num_beams=beam, batch_size=batch_size, lead_k=lead_k,
                            encoding=encoding)
    if json_output:
        typer.echo(json.dumps(scores, ensure_ascii=False))
        return
    typer.echo(f"{'system':<12}{'rouge-1':>9}{'rouge-2':>9}{'rouge-l':>9}{'bleu':>8}   n={scores['n']}")
    for name in ("model", *(k for k in scores if k.startswith("lead-"))):
        s = scores[name]
        typer.echo(f"{name:<12}{s['rouge-1']:>9.2f}{s['rouge-2']:>9.2f}{s['rouge-l']:>9.2f}{s['bleu']:>8.2f}")
    typer.echo(f"beam {scores['num_beams']}, {scores['titles_per_second']} titles/s on {scores['device']}; "
               f"{scores['empty']} empty, {scores['truncated']} cut at max length", err=True)
