"""What every command shares: error handling, the common options, output checks, text input."""
from __future__ import annotations

import functools
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer


def fail(message: str, hint: str | None = None, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    if hint:
        typer.echo(f"  fix: {hint}", err=True)
    raise typer.Exit(code)


def handle_errors(command):
    """Turn ZhnlpError, OSError and Ctrl-C into a message on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from zhnlp.errors import ZhnlpError

        try:
            return command(*args, **kwargs)
        except ZhnlpError as exc:
            fail(exc.message, exc.hint, exc.exit_code)
        except KeyboardInterrupt as exc:  # zhnlp.errors.Interrupted when the job saved its state
            fail("interrupted", getattr(exc, "hint", "nothing was written; run the command again"))
        except BrokenPipeError:
            sys.stderr.close()  # the reader went away (e.g. `| head`): not an error
            raise typer.Exit(0)
        except MemoryError as exc:
            fail(f"out of memory{': ' + str(exc) if str(exc) else ''}",
                 "lower --max-ngrams or --workers, or free memory")
        except OSError as exc:
            fail(f"{exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}",
                 "check the path and its permissions")

    return wrapper


InputsArg = Annotated[list[str], typer.Argument(help="Text files, folders of .txt files, or - for stdin.",
                                                show_default=False)]
OutputOpt = Annotated[Optional[Path], typer.Option("-o", "--output", help="Write here instead of stdout.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite the output if it exists.")]
EncodingOpt = Annotated[str, typer.Option("--encoding", help="Input encoding, e.g. utf-8, gb18030, big5.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summary on stderr.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (CUDA when present), cpu, cuda or cuda:N.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
# what every `zhnlp train ...` command takes
AdversarialOpt = Annotated[Optional[str], typer.Option("--adversarial", help="fgm: adversarial training on the "
                                                       "embeddings.")]
EpsilonOpt = Annotated[Optional[float], typer.Option("--epsilon", help="FGM step size.", show_default="0.5")]
SeedOpt = Annotated[int, typer.Option("--seed")]
PatienceOpt = Annotated[Optional[int], typer.Option("--patience", min=0, help="Stop after this many evaluations "
                                                    "without a better dev score (0: never stop early).")]
RestartOpt = Annotated[bool, typer.Option("--restart", help="Ignore the checkpoint in -o.")]
ModelFolderOpt = Annotated[Path, typer.Option("-o", "--output", help="Model folder (holds the checkpoint to resume "
                                              "from).")]
DevFractionOpt = Annotated[float, typer.Option("--dev-fraction", min=0.01, max=0.9, help="Share of train held out "
                                               "for dev when no dev file is given.")]
SplitSeedOpt = Annotated[int, typer.Option("--split-seed", help="Seed of the dev split.")]
TrainBatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Examples per training step.")]
ReadBatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Examples read together.")]


_NOTICED: set[str] = set()


def notice_pure_python() -> None:
    """Say once per process, on stderr, that a heavy job runs on the pure-Python kernels, and the fix."""
    from zhnlp._native import pure_python_notice

    notice = pure_python_notice()
    if notice is not None and "pure" not in _NOTICED:
        _NOTICED.add("pure")
        typer.echo(f"warning: {notice[0]}", err=True)
        typer.echo(f"  fix: {notice[1]}", err=True)


LARGE_INPUT_BYTES = 1 << 20  # segmenting this much on the pure kernels takes long enough to say so


def format_for(output: Path | None, fmt: Enum | None, choices: type[Enum]) -> str:
    """The --format given, else the output's suffix when it names a format, else tsv."""
    if fmt is not None:
        return fmt.value
    suffix = output.suffix.lower().lstrip(".") if output is not None else ""
    return suffix if suffix in {c.value for c in choices} else "tsv"


def check_output(output: Path | None, force: bool) -> None:
    """Fail before a long job, not after it, when the output cannot be written."""
    from zhnlp.outputs import check_output_file

    check_output_file(output, force)


def text_blocks(text: str, encoding: str, verb: str, on_bytes=None) -> Iterator[list[str]]:
    """TEXT|FILE|-: the lines of a file or of stdin, in blocks (what a pipe had ready, or a part of a
    file: answer a block and flush before reading on), or the argument itself as one line.
    ``on_bytes(n)``: called with the bytes read from a file, for a progress bar."""
    from zhnlp.errors import InputError
    from zhnlp.textio import iter_line_blocks, resolve_sources

    if text == "-" or looks_like_file(text):
        return iter_line_blocks(resolve_sources(text), encoding, on_bytes)
    if text.endswith((".txt", ".tsv")) or "/" in text:
        raise InputError(f"no such file: {text}", f"check the path, or quote a sentence to {verb} it")
    return iter([[text]])


def write_blocks(handle, blocks: Iterator[list[str]]) -> None:
    """Each block of output lines written and flushed as it comes (a blank string: a blank line)."""
    for lines in blocks:
        handle.write("".join(line + "\n" for line in lines))
        handle.flush()


def looks_like_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a long sentence is no file name ("File name too long")
        return False
