"""One build at a time per `--out`: an advisory lock file naming its holder.

Two builds writing into the same folder would interleave stage outputs and `build_state.json`
(the last writer wins, silently). `hold_out_lock` takes `fcntl.flock` on `OUT/.build.lock` for the
whole build and writes the holder's pid, host and start time into it, so a second build can say
who holds the folder. The kernel drops a flock when its process dies (even by kill -9), so a lock
file whose content names a process that no longer holds it is stale: it is taken over with a
warning. A lock file written on another host is never taken over (flock is not reliable across
NFS clients); its message says to delete the file once that build is known to be gone.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

LOCK_NAME = ".build.lock"


class LockHeld(RuntimeError):
    """Another build holds the lock on this `--out`; the message names pid, host and lock file."""


def _holder_text(holder: dict[str, Any]) -> str:
    started = holder.get("started_at", "an unknown time")
    return f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')} (since {started})"


def _read_holder(fd: int) -> dict[str, Any] | None:
    """The holder recorded in the lock file, or None when it is empty or unreadable."""
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        holder = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return holder if isinstance(holder, dict) else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _write_holder(fd: int, holder: dict[str, Any] | None) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    if holder is not None:
        os.write(fd, (json.dumps(holder, sort_keys=True) + "\n").encode("utf-8"))
    os.fsync(fd)


@contextmanager
def hold_out_lock(out: Path, warn: Callable[[str], None]) -> Iterator[Path]:
    """Hold `out/.build.lock` for the duration of the block; `LockHeld` when another build has it."""
    path = Path(out) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = _read_holder(fd) or {}
            raise LockHeld(
                f"{out} is locked by another build: {_holder_text(holder)}; lock file {path}. "
                "Wait for it to finish or build into another --out"
            ) from None
        host = socket.gethostname()
        previous = _read_holder(fd)
        if previous is not None:
            if previous.get("host") != host:
                fcntl.flock(fd, fcntl.LOCK_UN)
                raise LockHeld(
                    f"{out} has a lock from another host: {_holder_text(previous)}; lock file {path}. "
                    "Delete it once that build is known to be gone"
                )
            pid = previous.get("pid")
            state = "still running but not holding the lock" if isinstance(pid, int) and _pid_alive(pid) else "gone"
            warn(f"taking over a stale lock on {out}: {_holder_text(previous)} is {state}")
        _write_holder(
            fd,
            {
                "pid": os.getpid(),
                "host": host,
                "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
        )
        try:
            yield path
        finally:
            _write_holder(fd, None)  # empty: released cleanly (the file stays, see flock semantics)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
