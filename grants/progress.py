"""Progress where people wait: the one callback the long services accept.

A long service (``reports.excel.workbook_content``, ``expenditures.revaluation.grant_revalue``,
``expenditures.demo_data.demo_data_generate``, ``reports.checks.ledger_check``) takes
``progress=None`` or a callable ``progress(done, total)``, called as it goes (rows done of rows to
do). A job passes one that records them for ``GET /jobs/{id}/`` (``jobs.services.JobProgress``);
a management command passes ``command_progress``: a bar on a terminal (tqdm), plain lines
otherwise (a log, CI), at most one per tenth of the work and one at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

Progress = Callable[[int, int], None]


class CommandProgress:
    """``progress(done, total)`` for a command writing to ``stream``; ``close()`` when done."""

    def __init__(self, stream: TextIO, label: str, *, steps: int = 10, tty: bool | None = None):
        self.stream = stream
        self.label = label
        self.steps = steps
        isatty = getattr(stream, "isatty", None)
        self.tty = bool(isatty and isatty()) if tty is None else tty
        self.bar = None
        self.next_step = 0
        self.last_line = None

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            self._bar(done, total)
        else:
            self._line(done, total)

    def _bar(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.label, unit="row", file=self.stream, dynamic_ncols=True,
                            mininterval=0.2)
        if self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def _line(self, done: int, total: int) -> None:
        step = self.steps if total <= 0 else min(self.steps, done * self.steps // total)
        if (step < self.next_step and done < total) or (done, total) == self.last_line:
            return
        self.next_step = step + 1
        self.last_line = (done, total)
        percent = 100 if total <= 0 else done * 100 // total
        self.stream.write(f"{self.label}: {done} / {total} ({percent} %)\n")
        self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def command_progress(stream: TextIO, label: str, **kwargs) -> CommandProgress:
    return CommandProgress(stream, label, **kwargs)
