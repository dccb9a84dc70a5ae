"""Ctrl-C and SIGTERM as exceptions that unwind, in the build's process and in its pool workers.

Python turns only SIGINT into an exception (`KeyboardInterrupt`, in the main thread); SIGTERM
(`kill PID`, `docker stop`, a batch scheduler's time limit) ends the process on the spot, leaving
its pool workers and their ffmpeg children running without it and its temporaries behind. Here both
signals become exceptions, so every `finally` on the way out runs: ffmpeg children are killed and
waited for, temporaries removed, the pool stopped, the build lock released.

* The process that runs commands (`interrupt_on_signals`, held by the CLI's one error path and by
  the build's stage loop) raises `Interrupted` at the first signal. The handler then restores the
  default action, so a second Ctrl-C ends the process at once, as kill -9 would: the build is made
  to survive that too (temporaries carry their writer's pid and a rerun removes those of dead
  processes), so an impatient user is never stuck behind a clean-up that hangs.
* A pool worker (`stop_worker_on_signals`, the pool's initializer) raises `WorkerStopped` at the
  first signal and ignores later ones (Ctrl-C reaches it, then the parent's SIGTERM), so its own
  clean-up is not cut short; the parent, which sends it SIGTERM when it stops the pool
  (`parallel.LocalPool.stop`), kills it outright if it has not gone within a grace period.
  `WorkerStopped` is a `SystemExit`: an idle worker exits quietly and a busy one unwinds its task
  past every `except Exception`.

Exit statuses follow the shell's convention: 128 + the signal number (130 for SIGINT, 143 for
SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: The signals that stop a build: Ctrl-C, and the polite request of `kill`, schedulers and containers.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Interrupted(KeyboardInterrupt):
    """The process was asked to stop (`signum`); `where` says what it was doing, `after` what then holds.

    A `KeyboardInterrupt`, so code that already stops cleanly on Ctrl-C stops the same way on SIGTERM.
    """

    def __init__(self, signum: int = signal.SIGINT, where: str = "", after: str = "") -> None:
        super().__init__(signum, where, after)
        self.signum = signum
        self.where = where
        self.after = after

    @property
    def exit_status(self) -> int:
        """128 + the signal number, as a shell reports a process ended by that signal."""
        return 128 + self.signum

    def during(self, where: str, after: str) -> Interrupted:
        """The same interruption, said to have happened `where`, followed by `after` (what to do)."""
        return Interrupted(self.signum, where, after)

    def __str__(self) -> str:
        text = f"stopped by {signal_name(self.signum)}"
        if self.where:
            text += f" {self.where}"
        return f"{text}; {self.after}" if self.after else text


def interruption(exc: KeyboardInterrupt) -> Interrupted:
    """`exc` as an `Interrupted` (a bare `KeyboardInterrupt` is Ctrl-C's)."""
    return exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    """The main process's handler: the first signal raises; the next one takes the default action."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_DFL)
    raise Interrupted(signum)


@contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise `Interrupted` in the main thread.

    Outside the main thread (signals are delivered only there) and inside an enclosing block it does
    nothing; the handlers found on entry are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is _raise_interrupted:
        yield
        return
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    for number in STOP_SIGNALS:
        signal.signal(number, _raise_interrupted)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class WorkerStopped(SystemExit):
    """A pool worker was told to stop; its exit status is 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


def _stop_worker(signum: int, frame: FrameType | None) -> None:
    for number in STOP_SIGNALS:
        signal.signal(number, _already_stopping)
    raise WorkerStopped(signum)


def _already_stopping(signum: int, frame: FrameType | None) -> None:
    """A worker's later signals: nothing to do (a Python handler, not SIG_IGN, because a signal that
    arrived just before the first one was handled would otherwise raise "ignored due to race
    condition" in the middle of the clean-up; and because SIG_IGN would be inherited by children)."""


def stop_worker_on_signals() -> None:
    """In a pool worker (its initializer): the first SIGINT or SIGTERM raises `WorkerStopped`.

    Ctrl-C reaches every process of the terminal's process group, the parent's SIGTERM only the
    worker: either way the worker unwinds its task (killing its ffmpeg, removing its temporaries)
    and exits.
    """
    for number in STOP_SIGNALS:
        signal.signal(number, _stop_worker)
