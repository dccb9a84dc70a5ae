"""Which processes are left: the members of a process group that have not exited (Linux's /proc)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path


def live_members(group: int) -> list[str]:
    """`pid name` of every process of process group `group` that has not exited (zombies have)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = stat.read_text()
            name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
            if int(fields[2]) == group and fields[0] != "Z":
                found.append(f"{stat.parent.name} {name}")
    return found


def members_after(group: int, wait_s: float = 10.0) -> list[str]:
    """`live_members(group)` once they are gone or `wait_s` has passed: a fork server and a resource
    tracker leave a moment after the process that started them, when their pipes close."""
    deadline = time.monotonic() + wait_s
    while (left := live_members(group)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left
