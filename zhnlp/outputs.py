"""Everything zhnlp writes appears whole or not at all: files are written under a temporary name in
their folder and renamed into place, folders are staged beside their target and renamed.

A new file gets the mode any program's file gets (0666 less the umask); a file replaced with
``--force`` keeps its mode. An existing output is never replaced without ``force``. The checks that
a command makes before a long job (``check_output_file``, ``check_output_folder``) are the ones the
writers make, so the messages are the same everywhere.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import OutputError

STDOUT = "-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def new_file_mode(target: Path) -> int:
    """The mode the file at ``target`` gets: an existing file's own, else 0666 less the umask."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def check_output_file(path: str | os.PathLike | None, force: bool = False) -> None:
    """That ``path`` can be written: not a folder, its folder exists, and it is new unless ``force``."""
    if path is None or str(path) == STDOUT:
        return
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"output {target} is a folder", "give a file name with -o")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"output folder does not exist: {parent}", f"create it first: mkdir -p {parent}")
    if target.exists() and not force:
        raise OutputError(f"output exists: {target}", "add --force to overwrite it")


def check_output_folder(path: str | os.PathLike, force: bool = False, training: bool = False) -> None:
    """That a folder can be written at ``path``: absent or empty, or anything with ``force``; its
    parent must exist. ``training``: the message says that the folder holds no checkpoint to resume
    (a training job that finds one resumes instead of calling this)."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise OutputError(f"output folder {target} is a file", "give a folder name with -o")
    if target.is_dir() and any(target.iterdir()) and not force:
        why = " and holds no checkpoint to resume" if training else ""
        raise OutputError(f"output folder {target} is not empty{why}",
                          "choose a new -o folder, or add --force to write into it")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"the folder above {target} does not exist: {parent}", f"create it first: mkdir -p {parent}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, force: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that takes a file name (safetensors'
    ``save_file``); renamed to ``path`` with the right mode when the block completes, removed on error."""
    target = Path(path)
    check_output_file(target, force)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, new_file_mode(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike | None, force: bool = False, encoding: str = "utf-8"):
    """A text handle for ``path`` that appears only when the block completes; stdout for None or '-'.

    Refuses to overwrite an existing file unless ``force``; on any error or Ctrl-C the partial
    temporary file is removed and the old file, if any, is left untouched.
    """
    if path is None or str(path) == STDOUT:
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_path(path, force) as tmp:
        with open(tmp, "w", encoding=encoding, newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def write_text(path: str | os.PathLike, text: str, force: bool = True) -> Path:
    """``text`` (UTF-8) into ``path``, atomically."""
    with atomic_output(path, force=force) as handle:
        handle.write(text)
    return Path(path)


@contextlib.contextmanager
def staged_folder(path: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """A folder to fill that replaces ``path`` (absent, empty, or any with ``force``) only when the
    block completes; on error or Ctrl-C it is removed and ``path`` is left as it was."""
    target = Path(path)
    check_output_folder(target, force)
    staging = target.parent / f".{target.name}.{os.getpid()}.tmp"  # mkdir, unlike mkdtemp, follows the umask
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
