"""Ctrl-C and SIGTERM as exceptions that unwind, in the build's process and in its pool workers.

Python turns only SIGINT into an exception (`KeyboardInterrupt`, in the main thread); SIGTERM
(`kill PID`, `docker stop`, a batch scheduler's time limit) ends the process on the spot, leaving
its pool workers and their ffmpeg children running without it and its temporaries behind. Here both
signals become exceptions, so every `finally` on the way out runs: ffmpeg children are killed and
waited for, temporaries removed, the pool stopped, the build lock released.

* The process that runs commands (`interrupt_on_signals`, held by the CLI's one error path and by
  the build's stage loop) records the first signal and raises `Interrupted` at the next safe point:
  `checkpoint()`, called between the items of every tracked loop (`core.progress`), between the
  tasks a pool returns (`core.parallel`, which waits in short slices) and between stages. Raising
  from the handler itself, wherever the main thread happens to be, is not safe: pyarrow calls back
  into Python (an extension type's serialization inside a schema comparison) and turns an
  exception there into a wrong answer, so a signal once became "Table schema does not match"
  (exit 1) instead of exit 143. Code with no safe point for `GRACE_S` seconds (a long native call,
  a model's forward pass, a wait for a child process) is interrupted where it is, as before, so a
  stop never waits long.
  A second signal ends the process at once, as kill -9 would: the build is made to survive that
  too (temporaries carry their writer's pid and a rerun removes those of dead processes), so an
  impatient user is never stuck behind a clean-up that hangs. An error raised while a signal is
  pending (ffmpeg or a worker that Ctrl-C reached first) is reported as the interruption
  (`take_requested`, which the CLI and the build's stage loop call; `requested` only looks).
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

import os
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


#: Seconds a recorded signal waits for a safe point before it is raised wherever the main thread is.
GRACE_S = 0.5


class _StopRequests:
    """The main process's handler: records the first signal; `checkpoint` raises it, once.

    After `grace_s` without a safe point a timer sends it again to the main thread (a real signal, so
    a blocking system call returns) and the handler raises it there. A second signal from outside
    takes the default action (the process ends at once).
    """

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.pending: int | None = None
        self.raised = False
        self.forcing = False
        self.timer: threading.Timer | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.forcing:  # the timer's: the grace passed with no safe point
            self.forcing = False
            self.raise_pending()  # nothing if a safe point came meanwhile
            return
        if self.pending is not None:  # a second signal: end now
            _default_actions()
            os.kill(os.getpid(), signum)
            return
        self.pending = signum
        self.timer = threading.Timer(self.grace_s, self._force)
        self.timer.daemon = True
        self.timer.start()

    def _force(self) -> None:
        if self.pending is not None and not self.raised:
            self.forcing = True
            try:
                signal.pthread_kill(threading.main_thread().ident or 0, self.pending)
            except (OSError, ValueError):  # the main thread has just ended: nothing left to stop
                self.forcing = False

    def raise_pending(self) -> None:
        """Raise the recorded signal as `Interrupted` the first time; later calls (the clean-up's) pass."""
        if self.pending is None or self.raised:
            return
        self.raised = True
        self.cancel()
        raise Interrupted(self.pending)

    def cancel(self) -> None:
        """Stop the grace timer and wait for its thread, so none is left running into interpreter shutdown."""
        timer, self.timer = self.timer, None
        if timer is not None:
            timer.cancel()
            if timer is not threading.current_thread():
                timer.join()


def _default_actions() -> None:
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_DFL)


def _requests() -> _StopRequests | None:
    """The handler `interrupt_on_signals` installed, if it is active (read from any thread)."""
    handler = signal.getsignal(signal.SIGTERM)
    return handler if isinstance(handler, _StopRequests) else None


def checkpoint() -> None:
    """A safe point: raise `Interrupted` if a stop signal has arrived.

    In the main thread once (a safe point in the clean-up after it passes). In another thread (one
    that reads a pool's results while the main thread encodes text) every time: that thread stops
    taking new work at once, and its exception reaches the main thread through whatever waits for it.
    """
    requests = _requests()
    if requests is None:
        return
    if threading.current_thread() is threading.main_thread():
        requests.raise_pending()
    elif requests.pending is not None:
        raise Interrupted(requests.pending)


def take_requested() -> Interrupted | None:
    """`requested()`, taken: the caller raises it in place of an error the signal caused, so the
    grace timer must not raise it again in the middle of that (once only, like `checkpoint`)."""
    requests = _requests()
    if requests is None or requests.pending is None:
        return None
    requests.raised = True
    requests.cancel()
    return Interrupted(requests.pending)


def requested() -> Interrupted | None:
    """The interruption recorded, if any: an error raised meanwhile (a worker or ffmpeg that Ctrl-C
    reached before the main process's safe point, a clean-up after it) is its consequence."""
    requests = _requests()
    return Interrupted(requests.pending) if requests is not None and requests.pending is not None else None


@contextmanager
def interrupt_on_signals(grace_s: float = GRACE_S) -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise `Interrupted` in the main thread at the next safe point.

    Outside the main thread (signals are delivered only there) and inside an enclosing block it does
    nothing; the handlers found on entry are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread() or _requests() is not None:
        yield
        return
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    requests = _StopRequests(grace_s)
    for number in STOP_SIGNALS:
        signal.signal(number, requests)
    try:
        yield
        requests.raise_pending()  # a signal after the last safe point still stops the command
    finally:
        requests.cancel()
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
