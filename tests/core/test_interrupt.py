"""Signals as exceptions (core.interrupt) and a pool that stops at once (core.parallel.LocalPool.stop).

The end-to-end cases (a build interrupted at 10 points, in subprocesses) are tests/faults/
test_signal_faults.py; these check the pieces: the main process's handler (a signal raised at the
next safe point, or after the grace where there is none), a worker that unwinds its task and
exits, and a worker that ignores the request being killed.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edu_affect_data.cli.errors import Typer
from edu_affect_data.core.interrupt import Interrupted, checkpoint, interrupt_on_signals, requested
from edu_affect_data.core.parallel import LocalPool, parallel_map


def test_sigterm_raises_interrupted_inside_the_block_and_the_old_handler_is_back_after() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as caught, interrupt_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises long before this ends
    assert caught.value.signum == signal.SIGTERM and caught.value.exit_status == 143
    assert str(caught.value) == "stopped by SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_waits_for_the_next_safe_point_and_is_raised_there_once() -> None:
    with pytest.raises(Interrupted) as caught, interrupt_on_signals(grace_s=30.0):
        os.kill(os.getpid(), signal.SIGTERM)
        done = sum(range(1000))  # the work between two safe points goes on: nothing raised inside it
        assert requested() is not None and requested().signum == signal.SIGTERM  # type: ignore[union-attr]
        try:
            checkpoint()
        finally:
            checkpoint()  # a safe point in the clean-up does not raise the same signal again
    assert done == 499500 and caught.value.signum == signal.SIGTERM
    assert requested() is None  # outside the block: no handler of ours


def test_a_safe_point_in_another_thread_raises_every_time_and_leaves_the_main_threads_to_it() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with pytest.raises(Interrupted) as caught, interrupt_on_signals(grace_s=30.0):
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(10))  # the handler has run by now
        with ThreadPoolExecutor(1) as threads:
            for _ in range(2):
                assert isinstance(threads.submit(checkpoint).exception(), Interrupted)
        checkpoint()
    assert caught.value.signum == signal.SIGINT


def test_without_a_safe_point_the_signal_is_raised_after_the_grace() -> None:
    started = time.monotonic()
    with pytest.raises(Interrupted), interrupt_on_signals(grace_s=0.5):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)  # a blocking call with no safe point: the grace timer's signal ends it
    assert time.monotonic() - started < 10


def test_a_signal_between_the_last_safe_point_and_the_end_still_stops() -> None:
    with pytest.raises(Interrupted), interrupt_on_signals(grace_s=30.0):
        os.kill(os.getpid(), signal.SIGTERM)


def test_an_error_caused_while_a_signal_is_pending_is_reported_as_the_stop() -> None:
    app = Typer()

    @app.command()
    def fail() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        raise RuntimeError("ffmpeg exited with status 255")  # what a Ctrl-C'd child makes the parent see

    @app.command()
    def other() -> None:
        pass

    result = CliRunner().invoke(app, ["fail"])
    assert result.exit_code == 143 and result.output.strip() == "stopped by SIGTERM", result.output


def test_a_pool_wait_is_a_safe_point(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(Interrupted), interrupt_on_signals(grace_s=30.0):
        results = parallel_map(time.sleep, [60.0, 60.0], workers=1)
        os.kill(os.getpid(), signal.SIGTERM)
        next(results)
    assert time.monotonic() - started < 20  # the pool stopped; no 60 s task waited for


def test_an_interruption_says_where_and_what_to_do() -> None:
    stopped = Interrupted(signal.SIGINT).during("in stage features (ingest done)", "rerun the same command to resume")
    assert str(stopped) == "stopped by SIGINT in stage features (ingest done); rerun the same command to resume"
    assert stopped.exit_status == 130 and isinstance(stopped, KeyboardInterrupt)


def test_every_command_exits_128_plus_the_signal_with_one_line() -> None:
    app = Typer()

    @app.command()
    def wait() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)

    @app.command()
    def other() -> None:  # a second command, so typer keeps `wait` as a subcommand
        raise KeyboardInterrupt  # Ctrl-C where no handler of ours was installed

    result = CliRunner().invoke(app, ["wait"])
    assert result.exit_code == 143 and result.output.strip() == "stopped by SIGTERM", result.output
    result = CliRunner().invoke(app, ["other"])
    assert result.exit_code == 130 and result.output.strip() == "stopped by SIGINT", result.output


def _finish_then_mark(marker: str) -> None:
    """A worker task that is stopped while it sleeps: its `finally` must still run."""
    try:
        Path(f"{marker}.started").touch()
        time.sleep(600)
    finally:
        Path(f"{marker}.cleaned").touch()


def _deaf(marker: str) -> None:
    """A worker task that ignores SIGTERM (as one stuck in a native call would, for a while)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    Path(f"{marker}.started").touch()
    time.sleep(600)


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.exists(), path


@pytest.mark.parametrize("task", [_finish_then_mark, _deaf])
def test_stop_ends_busy_workers_and_lets_their_tasks_clean_up(task, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "task"
    pool = LocalPool(2)
    futures = [pool.submit(task, str(marker)), pool.submit(time.sleep, 600), pool.submit(time.sleep, 600)]
    _wait_for(Path(f"{marker}.started"))
    workers = list(pool._processes.values())
    pool.stop(grace_s=1.0)
    assert all(not worker.is_alive() for worker in workers)
    assert futures[2].cancelled() or futures[2].exception() is not None  # queued work never ran to the end
    # The task that listened unwound (its `finally` ran); the deaf one was killed after the grace.
    assert Path(f"{marker}.cleaned").exists() == (task is _finish_then_mark)


def test_leaving_the_pool_interrupted_stops_it(tmp_path: Path) -> None:
    marker = tmp_path / "task"
    with pytest.raises(KeyboardInterrupt), LocalPool(1) as pool:
        pool.submit(_finish_then_mark, str(marker))
        _wait_for(Path(f"{marker}.started"))
        workers = list(pool._processes.values())
        raise KeyboardInterrupt
    assert not any(worker.is_alive() for worker in workers)
    assert Path(f"{marker}.cleaned").exists()
