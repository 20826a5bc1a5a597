"""Progress bars on stderr (rich), one shape for every long job in zhnlp.

Library functions take ``show_progress``; when it is False nothing is drawn and rich is not
imported. A bar counts bytes (reading a corpus) or items (words, lines) and shows its rate.
"""
from __future__ import annotations

import contextlib
from typing import Iterator


class NullTask:
    """A progress task that draws nothing."""

    def advance(self, amount: float = 1, **fields) -> None:
        pass

    def set_total(self, total: float | None) -> None:
        pass

    def describe(self, description: str) -> None:
        pass


class _RichTask:
    def __init__(self, progress, task_id, chars_field: bool):
        self._progress = progress
        self._task_id = task_id
        self._chars = 0
        self._chars_field = chars_field

    def advance(self, amount: float = 1, chars: int = 0) -> None:
        self._chars += chars
        fields = {"chars": self._chars} if self._chars_field else {}
        self._progress.update(self._task_id, advance=amount, **fields)

    def set_total(self, total: float | None) -> None:
        self._progress.update(self._task_id, total=total)

    def describe(self, description: str) -> None:
        """Replace the text before the bar (e.g. with the current loss and rate)."""
        self._progress.update(self._task_id, description=description)


@contextlib.contextmanager
def progress_task(description: str, total: float | None = None, unit: str = "bytes",
                  enabled: bool = True) -> Iterator[NullTask | _RichTask]:
    """A progress bar for one phase. unit='bytes' also shows characters per second."""
    if not enabled:
        yield NullTask()
        return
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, ProgressColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)
    from rich.text import Text

    class CharRateColumn(ProgressColumn):
        def render(self, task):
            elapsed = task.elapsed or 0.0
            chars = task.fields.get("chars", 0)
            if not elapsed or not chars:
                return Text("", style="progress.data.speed")
            return Text(f"{chars / elapsed / 1e6:.1f} M chars/s", style="progress.data.speed")

    columns = [TextColumn("[bold]{task.description}"), BarColumn()]
    if unit == "bytes":
        columns += [DownloadColumn(), CharRateColumn()]
    else:
        columns += [MofNCompleteColumn(), TextColumn(unit)]
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    console = Console(stderr=True)
    with Progress(*columns, console=console, transient=False, refresh_per_second=4) as progress:
        task_id = progress.add_task(description, total=total, chars=0)
        yield _RichTask(progress, task_id, chars_field=unit == "bytes")
