"""`zhnlp vectors train` and `zhnlp vectors similar`: word and character vectors for the light models."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .common import EncodingOpt, ForceOpt, InputsArg, JsonOpt, QuietOpt, handle_errors

vectors_app = typer.Typer(help="Word and character vectors (word2vec) for the light models' embeddings.",
                          no_args_is_help=True)


@vectors_app.command("train")
@handle_errors
def train_command(
    inputs: InputsArg,
    vocab: Annotated[Path, typer.Option("--vocab", help="The tokens to train, one a line (a WoBERT, couplet or "
                                        "any model's vocab.txt).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The vectors folder to write.")],
    dim: Annotated[int, typer.Option("--dim", min=1, help="Dimensions (the embedding width of the model they "
                                     "will fill).")] = 128,
    window: Annotated[int, typer.Option("--window", min=1, help="Context words on each side.")] = 5,
    min_count: Annotated[int, typer.Option("--min-count", min=1, help="Tokens seen fewer times get no vector.")] = 2,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Passes over the corpus.")] = 5,
    unit: Annotated[str, typer.Option("--unit", help="both: the vocabulary's words and characters in one space; "
                                      "words; chars.")] = "both",
    workers: Annotated[int, typer.Option("--workers", min=0, help="Threads (0: one per core; 1: reproducible).")] = 0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    encoding: EncodingOpt = "utf-8",
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train vectors for a vocabulary's tokens on a corpus (word2vec skip-gram, through gensim).

    Example:

        zhnlp vectors train ../shared/data/corpus --vocab model/vocab.txt -o vectors --dim 128
    """
    from zhnlp.vectors import train_vectors

    vectors = train_vectors(inputs, vocab, output, dim=dim, window=window, min_count=min_count, epochs=epochs,
                            unit=unit, workers=workers, seed=seed, encoding=encoding, force=force,
                            show_progress=not quiet)
    if not quiet:
        typer.echo(f"{len(vectors):,} of {vectors.config['vocab_tokens']:,} tokens got vectors of {vectors.dim} "
                   f"dimensions from {vectors.config['lines']:,} lines in {vectors.config['seconds']} s; "
                   f"written to {output}", err=True)


@vectors_app.command("similar")
@handle_errors
def similar_command(
    token: Annotated[str, typer.Argument(help="A word or character of the vectors' vocabulary.", show_default=False)],
    vectors: Annotated[str, typer.Option("--vectors", "-v", help="A vectors folder (zhnlp vectors train).")],
    n: Annotated[int, typer.Option("-n", min=1, help="How many neighbours.")] = 10,
    json_output: JsonOpt = False,
) -> None:
    """The nearest tokens by cosine similarity: a quick look at what the vectors learnt.

    Example:

        zhnlp vectors similar 宝玉 --vectors vectors
    """
    from zhnlp.vectors import Vectors

    found = Vectors.from_pretrained(vectors).most_similar(token, n)
    if json_output:
        typer.echo(json.dumps([{"token": t, "similarity": round(s, 4)} for t, s in found], ensure_ascii=False))
        return
    for other, score in found:
        typer.echo(f"{other}\t{score:.4f}")
