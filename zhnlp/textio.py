"""Text in and out, shared by every command: streaming reads with clear errors, atomic writes.

Inputs are files, folders (every ``*.txt`` below them, sorted) or ``-`` for stdin. Reading is
streamed in blocks, so a multi-gigabyte corpus or a 50 MB line costs one block of memory.
Decoding errors name the file and line and suggest the encoding that usually fixes them.
Outputs are written by outputs.py (a temporary file in the target folder, renamed when complete).
"""
from __future__ import annotations

import codecs
import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

from .errors import InputError

BLOCK_BYTES = 4 << 20  # a read block: large enough to amortise Python overhead, small in memory
STDIN = "-"


@dataclass(frozen=True)
class Source:
    """One input: a path, or stdin when ``path`` is None."""

    path: Path | None
    explicit: bool = True  # named by the user (an empty one is an error) rather than found in a folder

    @property
    def name(self) -> str:
        return "<stdin>" if self.path is None else str(self.path)

    def size(self) -> int | None:
        return None if self.path is None else self.path.stat().st_size

    def lines_before_start(self) -> int:
        """Lines of the file before where this source starts reading (a byte range's error names
        the file's line, not the range's)."""
        return 0

    @contextlib.contextmanager
    def open(self) -> Iterator[BinaryIO]:
        if self.path is None:
            yield sys.stdin.buffer
        else:
            with open(self.path, "rb") as handle:
                yield handle


def resolve_sources(inputs: Iterable[str | os.PathLike | Source] | str | os.PathLike | Source) -> list[Source]:
    """Files, folders (every *.txt inside, recursively, sorted) and '-' for stdin, checked."""
    if isinstance(inputs, (str, os.PathLike, Source)):
        inputs = [inputs]
    sources: list[Source] = []
    for item in inputs:
        if isinstance(item, Source):  # already resolved
            sources.append(item)
            continue
        if str(item) == STDIN:
            sources.append(Source(None))
            continue
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.txt") if p.is_file())
            if not found:
                raise InputError(f"no .txt files in folder {path}",
                                 "put the corpus in UTF-8 .txt files, or name the files directly")
            sources.extend(Source(p, explicit=False) for p in found)
        elif path.is_file():
            sources.append(Source(path))
        elif path.exists():
            raise InputError(f"{path} is not a regular file", "give a text file, a folder or '-'")
        else:
            raise InputError(f"no such file: {path}", "check the path; use '-' to read standard input")
    if not sources:
        raise InputError("no input given", "name one or more text files, a folder, or '-'")
    return sources


def total_bytes(sources: list[Source]) -> int | None:
    """Bytes of all inputs together, or None when one is stdin."""
    sizes = [s.size() for s in sources]
    return None if any(s is None for s in sizes) else sum(sizes)


def _decode_error(source: Source, encoding: str, lines_before: int, raw: bytes, exc: UnicodeDecodeError):
    line = source.lines_before_start() + lines_before + raw.count(b"\n", 0, max(exc.start, 0)) + 1
    hint = ("try --encoding gb18030 (GBK and GB2312 files read fine with it)"
            if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
            else "give the file's real encoding with --encoding")
    return InputError(f"{source.name}, line {line}: cannot decode as {encoding} "
                      f"(byte 0x{raw[exc.start]:02x})", hint)


def _check_binary(source: Source, block: bytes, lines_before: int) -> None:
    nul = block.find(b"\x00")
    if nul >= 0:
        line = source.lines_before_start() + lines_before + block.count(b"\n", 0, nul) + 1
        raise InputError(f"{source.name}, line {line}: binary data (NUL byte); this is not a text file",
                         "give a plain-text file (UTF-16 files: convert to UTF-8 with iconv)")


def iter_text_blocks(sources: list[Source], encoding: str = "utf-8",
                     on_bytes: Callable[[int], None] | None = None,
                     block_bytes: int | None = None, interactive: bool = False) -> Iterator[str]:
    """Decoded text of all sources, in blocks that end at a line break where the line allows.

    A UTF-8 byte-order mark is dropped; CRLF stays as is (callers treat '\\r' as a break). An empty
    stdin gives nothing; an empty file named by the user is an InputError. ``interactive``: standard
    input is read as it arrives (a block is what the pipe holds, up to ``block_bytes``), so that a
    filter answers each block before the next is typed or written.
    """
    block_bytes = block_bytes or BLOCK_BYTES
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"unknown encoding: {encoding}", "use utf-8, gb18030, gbk, big5, utf-16 ...",
                         exit_code=2) from None
    is_utf8 = codecs.lookup(encoding).name == "utf-8"
    for source in sources:
        decoder = codecs.getincrementaldecoder("utf-8-sig" if is_utf8 else encoding)()
        lines_before = 0
        seen_text = False
        carry = ""
        with source.open() as handle:
            read = handle.read1 if interactive and source.path is None and hasattr(handle, "read1") else handle.read
            while True:
                raw = read(block_bytes)
                final = not raw
                if raw and encoding.lower().replace("-", "") not in ("utf16", "utf32", "utf16le", "utf16be"):
                    _check_binary(source, raw, lines_before)
                try:
                    text = decoder.decode(raw, final=final)
                except UnicodeDecodeError as exc:
                    raise _decode_error(source, encoding, lines_before, raw, exc) from None
                lines_before += raw.count(b"\n")
                if on_bytes is not None and raw:
                    on_bytes(len(raw))
                if text:
                    seen_text = seen_text or not text.isspace()
                    text = carry + text
                    cut = text.rfind("\n") + 1
                    if cut == 0 and len(text) < block_bytes:  # a long line: wait for its end
                        carry = text
                    else:
                        if cut == 0:  # one huge line: hand it on in block-sized parts
                            cut = len(text)
                        carry = text[cut:]
                        yield text[:cut]
                if final:
                    break
        if carry:
            yield carry
        if not seen_text and source.explicit and source.path is not None:
            raise InputError(f"{source.name} is empty", "give a file with text in it")


def parse_json(text: str, path: str | os.PathLike, hint: str, line: int | None = None):
    """``json.loads``, with a malformed document reported as an InputError naming the file and the
    line (``line``: where ``text`` starts in the file, for files of one JSON object per line)."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line {line if line is not None else exc.lineno}: malformed JSON ({exc.msg})",
                         hint) from None


def read_small_text(path: str | os.PathLike, encoding: str, missing: tuple[str, str]) -> str:
    """The whole text of a small input file (a lexicon, a templates file). ``missing`` is the
    (message, hint) when there is no such file; a decoding error names the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(*missing)
    raw = path.read_bytes()
    _check_binary(Source(path), raw, 0)
    is_utf8 = codecs.lookup(encoding).name == "utf-8"
    try:
        return raw.decode("utf-8-sig" if is_utf8 else encoding)
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        start = raw.rfind(b"\n", 0, exc.start) + 1
        end = raw.find(b"\n", exc.start)
        try:
            raw[start:end if end >= 0 else len(raw)].decode("gb18030")  # the bad line, in the usual other encoding
            hint = f"it reads as GBK/GB18030: convert it to UTF-8 with iconv -f gb18030 -t utf-8 {path}"
        except UnicodeDecodeError:
            hint = "this is not a text file in any usual encoding; give a UTF-8 text file"
        raise InputError(f"{path}, line {line}: cannot decode as {encoding} (byte 0x{raw[exc.start]:02x})",
                         hint) from None


def iter_line_blocks(sources: list[Source], encoding: str = "utf-8",
                     on_bytes: Callable[[int], None] | None = None) -> Iterator[list[str]]:
    """The lines of every source, without their line breaks (\\n or \\r\\n), in lists: one per block
    read (what stdin had ready, or up to BLOCK_BYTES of a file), so that a filter can answer and
    flush a block's lines before it waits for more."""
    pending = ""
    for block in iter_text_blocks(sources, encoding, on_bytes, interactive=True):
        lines = (pending + block).split("\n")
        pending = lines.pop()
        if lines:
            yield [line[:-1] if line.endswith("\r") else line for line in lines]
    if pending:
        yield [pending[:-1] if pending.endswith("\r") else pending]


def iter_lines(sources: list[Source], encoding: str = "utf-8",
               on_bytes: Callable[[int], None] | None = None) -> Iterator[str]:
    """Every line of every source, without its line break (\\n or \\r\\n)."""
    for lines in iter_line_blocks(sources, encoding, on_bytes):
        yield from lines
