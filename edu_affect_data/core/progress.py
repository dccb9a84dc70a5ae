"""What a person reads while a stage works: the build's log console and progress for long loops.

A build runs for minutes and its log is often a file (`make demo > demo.log`, CI). A progress bar
redraws itself with carriage returns and control codes, and rich wraps at 80 columns when it
cannot ask a terminal its width: in a file both turn into noise. So:

- `log_console()`: rich on stderr that never wraps a line (`soft_wrap`); rich itself drops colours
  and styles when stderr is not a terminal.
- `Progress`: on a terminal a tqdm bar; otherwise one plain line every `PLAIN_EVERY_S` seconds
  ("features: 120/400 sessions (30%), 12 s") and a last line when it ends, and nothing at all for a
  loop that ends before the first interval (a quick stage stays quiet in a log).
- `quiet_library_bars()`: off a terminal, the bars that Hugging Face libraries draw themselves
  ("Loading weights: 0%|...", "Map: ...") are turned off too; every `edu-data` command calls it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import IO, Any, Generic, TypeVar

from rich.console import Console

from edu_affect_data.core.interrupt import checkpoint

#: Seconds between two plain progress lines when the output is not a terminal.
PLAIN_EVERY_S = 10.0

T = TypeVar("T")


def log_console(file: IO[str] | None = None) -> Console:
    """The build log's console: stderr (or `file`), never wrapped; styles only on a terminal."""
    if file is not None:
        return Console(file=file, soft_wrap=True)
    return Console(stderr=True, soft_wrap=True)


#: Read by huggingface_hub (and transformers through it) and by datasets when they are imported.
LIBRARY_BAR_SWITCHES = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}


def quiet_library_bars(stream: IO[str] | None = None) -> None:
    """When `stream` (stderr) is not a terminal, no library draws a progress bar into it.

    Set in the environment, so worker processes started later inherit it, and switched off in the
    libraries already imported (they read the environment only at import). A user's own setting
    of those variables wins.
    """
    if is_terminal(stream if stream is not None else sys.stderr):
        return
    for name, value in LIBRARY_BAR_SWITCHES.items():
        os.environ.setdefault(name, value)
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    if "datasets" in sys.modules:
        from datasets.utils import logging as datasets_logging

        datasets_logging.disable_progress_bar()


def is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class Progress:
    """`done` out of `total` `unit`s of `what`: a bar on a terminal, plain lines elsewhere.

    Use as a context manager and call `update(n)`; `every_s` sets the plain lines' interval
    (default `PLAIN_EVERY_S`, read when the progress starts).
    """

    def __init__(
        self, total: int, what: str, unit: str, *, stream: IO[str] | None = None, every_s: float | None = None
    ) -> None:
        self.total, self.what, self.unit = total, what, unit
        self.every_s = PLAIN_EVERY_S if every_s is None else every_s
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.started = self.last = time.monotonic()
        self.printed = False
        self.shown = -1  # `done` at the last plain line
        self.detail = ""  # what the last step measured ("loss 0.912, val F1 0.41"), shown after the count
        self._bar: Any = None
        if is_terminal(self.stream):
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=what, unit=unit, mininterval=1.0, file=self.stream)

    def update(self, n: int = 1) -> None:
        checkpoint()  # a counted step is a safe point to stop at (core.interrupt)
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            self._line(now)

    def describe(self, detail: str) -> None:
        """Show `detail` beside the count from now on (tqdm's postfix on a terminal)."""
        self.detail = detail
        if self._bar is not None:
            self._bar.set_postfix_str(detail, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.shown != self.done and (self.printed or time.monotonic() - self.started >= self.every_s):
            self._line(time.monotonic())

    def _line(self, now: float) -> None:
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        plural = self.unit if self.total == 1 else f"{self.unit}s"
        detail = f", {self.detail}" if self.detail else ""
        print(f"{self.what}: {self.done}/{self.total} {plural}{share}, {now - self.started:.0f} s{detail}", file=self.stream, flush=True)
        self.printed, self.shown = True, self.done

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def note(text: str, *, stream: IO[str] | None = None) -> None:
    """One plain line of a stage's progress between counted loops ("annotate: 30 tasks on the server")."""
    print(text, file=stream if stream is not None else sys.stderr, flush=True)


def track(items: Iterable[T], total: int, what: str, unit: str, **options: Any) -> Iterator[T]:
    """Each of `items`, counted by a `Progress` (closed when the loop ends or stops early)."""
    yield from Tracked(items, total, what, unit, **options)


class Tracked(Generic[T]):
    """`track` as an object: iterate it like `items`, and `describe` what each step measured.

    With `enabled=False` it is `items` itself and `describe` does nothing, so a loop need not ask
    whether anyone is watching (the trainer's ranks other than the first).
    """

    def __init__(self, items: Iterable[T], total: int, what: str, unit: str, *, enabled: bool = True, **options: Any) -> None:
        self.items = items
        self.progress = Progress(total, what, unit, **options) if enabled else None

    def __iter__(self) -> Iterator[T]:
        if self.progress is None:
            for item in self.items:
                yield item
                checkpoint()
            return
        with self.progress as progress:
            for item in self.items:
                yield item
                progress.update()

    def describe(self, detail: str) -> None:
        if self.progress is not None:
            self.progress.describe(detail)
