"""Shared fixtures, the lanes' guard and the per-test timeout's clean-up.

`tiny_corpora`: the synthetic corpora of the `tiny` profile, built once per run.

Lanes (markers in pyproject.toml): `make test` runs every test; `make test-fast` deselects
`slow`, `labelstudio` and `browser`. A test using one of `LANE_FIXTURES` without its mark is a
collection error, so the fast lane cannot quietly grow a server call or a training run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

#: fixture -> (the mark its tests need, why).
LANE_FIXTURES = {
    "ls_settings": ("labelstudio", "talks to the Label Studio server"),
    "trained_run": ("slow", "trains the full model for 12 epochs"),
    "noisy": ("slow", "synthesizes a second, noisy corpus"),
    "observed": ("slow", "renders every unit of the tiny plan"),
    "claims_plans": ("slow", "plans both claims profiles (about 5,000 units each)"),
}


@pytest.fixture(scope="session")
def tiny_corpora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUT folder holding `IEMOCAP_full_release/`, `CMU_MOSEI/` and `synth_truth.json` (profile tiny, seed 0)."""
    from edu_affect_data.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("tiny_corpora"), "tiny", 0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        f"{item.nodeid}: uses `{fixture}` ({why}): mark it @pytest.mark.{mark}"
        for item in items
        for fixture, (mark, why) in LANE_FIXTURES.items()
        if fixture in getattr(item, "fixturenames", ()) and item.get_closest_marker(mark) is None
    ]
    if unmarked:
        raise pytest.UsageError("tests outside their lane (pyproject.toml, markers):\n" + "\n".join(unmarked))


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """pytest-timeout's thread method, which also kills this run's child processes when it fires."""
    if settings.method != "thread":
        return None
    timer = threading.Timer(settings.timeout, _timed_out, (item, settings))
    timer.name = f"timeout {item.nodeid}"
    timer.daemon = True

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # read by pytest-timeout's cancel hook
    timer.start()
    return True


def _timed_out(item: pytest.Item, settings: Any) -> None:
    """pytest-timeout's ending (captured output and every thread's stack, then `os._exit(1)`), and
    just before the exit a SIGKILL to every process this run started: a stuck pool worker or ffmpeg
    would otherwise outlive the run (they are listed first, so the stacks show the hang as it was)."""
    from pytest_timeout import timeout_timer

    children = _descendants(os.getpid())
    exit_now = os._exit

    def kill_then_exit(status: int) -> None:
        for pid in children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        exit_now(status)

    os._exit = kill_then_exit  # the process ends in it
    timeout_timer(item, settings)


def _descendants(root: int) -> list[int]:
    """Every process below `root`, from Linux's /proc (none elsewhere)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
