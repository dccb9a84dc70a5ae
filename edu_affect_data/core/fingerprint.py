"""Fingerprints: what identifies a file's bytes, a folder's state and a JSON-able value.

Three kinds, one definition each, all SHA-256 in hex:

- `file_digest`: the content of one file, read in 1 MiB blocks (an upstream stage's outputs, a
  weight file).
- `listing_fingerprint`: a folder as a listing of every entry under it (relative path, size,
  modification time, permission bits of each file; each folder's permissions), never its content: hashing IEMOCAP's ~13 GB on every build
  would cost minutes, while a copy, an edit, a touch or a chmod all change the listing. Used for the
  corpora a build reads and the published dataset a frame cache is keyed by.
- `json_digest`: a JSON-able value in one canonical form (sorted keys, compact separators, ``str``
  for anything JSON does not know), so equal inputs give equal digests across processes and
  runs: the build's stage inputs, the names of feature parts and media chunks.

`path_fingerprint` picks between the first two for a path that may be a file, a folder or absent,
and never raises: a path that cannot be read fingerprints as such, so the stage reading it runs
and reports the problem with the file's name.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Bytes read at a time when hashing a file's content.
READ_BLOCK = 1 << 20
#: Hex characters of a digest that names a file: 64 bits, no collision among any realistic number of parts.
SHORT_DIGEST = 16


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(READ_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def json_digest(value: Any, *, short: bool = False) -> str:
    """SHA-256 of ``value``'s canonical JSON; its first `SHORT_DIGEST` characters when ``short`` (file names)."""
    blob = json.dumps(value, sort_keys=True, default=str, separators=(",", ":")).encode()
    digest = hashlib.sha256(blob).hexdigest()
    return digest[:SHORT_DIGEST] if short else digest


def listing_fingerprint(root: Path, *, hidden: bool = True) -> str:
    """SHA-256 of the listing of every file and folder under ``root`` (see `listing`)."""
    digest = hashlib.sha256()
    for line in sorted(listing(Path(root), hidden=hidden)):
        digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def path_fingerprint(path: Path, *, content: bool = False) -> str:
    """A file's content digest when ``content`` (else its listing line), a folder's listing fingerprint.

    A missing path fingerprints as "missing", a dangling link with its target and an unreadable
    file with its errno: each differs from any readable state, and none raises.
    """
    path = Path(path)
    if path.is_file():
        if not content:
            return entry_line(".", path.stat())
        try:
            return file_digest(path)
        except OSError as exc:  # unreadable: the stage that reads it names the file
            return f"unreadable:{exc.errno}"
    if not path.is_dir():
        return "missing" if not path.is_symlink() else f"dangling->{os.readlink(path)}"
    return listing_fingerprint(path)


def entry_line(rel: str, entry: os.stat_result) -> str:
    """One listing line: path, size, mtime and permission bits (readable or not changes it)."""
    return f"{rel}\0{entry.st_size}\0{entry.st_mtime_ns}\0{entry.st_mode & 0o7777:o}"


def listing(root: Path, *, hidden: bool = True) -> Iterator[str]:
    """A line for every file and folder under ``root``, following directory symlinks, never raising.

    Symlinked folders (a `Session5/` linked from elsewhere) are walked like real ones, so a file
    broken behind the link changes the fingerprint; each real folder is entered once, keyed by
    (device, inode), so a link loop ends. A dangling link is listed with its target, an unreadable
    folder as such: both change the fingerprint instead of crashing the build, and the stage
    reading the folder reports the file it cannot use. A folder's line holds its permissions only:
    its size and mtime change with any entry, listed or left out (a hidden file, a temporary made
    and removed), so they would add only spurious changes. ``hidden=False`` leaves out every entry
    whose name starts with a dot, and all below it (a `.git` or `.cache` inside a published dataset
    is not the dataset).
    """
    seen: set[tuple[int, int]] = set()
    root_stat = os.stat(root)
    seen.add((root_stat.st_dev, root_stat.st_ino))
    stack: list[tuple[str, str]] = [(str(root), "")]  # (absolute folder, its path relative to root)
    while stack:
        folder, prefix = stack.pop()
        try:
            names = sorted(os.listdir(folder))
        except OSError as exc:
            yield f"{prefix or '.'}\0unlistable\0{exc.errno}"
            continue
        for name in names:
            if not hidden and name.startswith("."):
                continue
            full = os.path.join(folder, name)
            rel = prefix + name
            try:
                entry = os.stat(full)
            except FileNotFoundError:
                yield f"{rel}\0dangling\0{_link_target(full)}"
                continue
            except OSError as exc:  # a link loop (ELOOP) or a permission problem on the way
                yield f"{rel}\0unstatable\0{exc.errno}"
                continue
            if not stat.S_ISDIR(entry.st_mode):
                yield entry_line(rel, entry)
                continue
            yield f"{rel}\0folder\0{entry.st_mode & 0o7777:o}"
            key = (entry.st_dev, entry.st_ino)
            if key in seen:
                yield f"{rel}\0loop"
                continue
            seen.add(key)
            stack.append((full, rel + os.sep))


def _link_target(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"
