"""What a stage wrote, file by file, and whether each file is still the one it wrote.

The build reuses a stage's outputs only when they are exactly what the stage left: a proxy
replaced by another recording's, a feature part with bytes zeroed mid-file, an edited dataset
card or a shard copied over another all still *exist*, and an existence check would publish
them. So when a stage completes, every file under its outputs (folders walked, hidden entries
such as temporaries left out) is recorded with its size, modification time, inode and SHA-256
(`core.fingerprint.file_digest`), and before the build skips or reruns the stage each record is
checked:

- always the cheap part: the file is there, with the recorded size; a file under an output folder
  that the stage did not write is reported;
- the digest only where the stat changed (another mtime or inode: `cp`, an editor, `mv` over it),
  or for every file with `verify=True` (`edu-data build --verify`: damage that kept the stat, such
  as bit rot or a restored mtime). A file whose digest still matches gets its new stat recorded,
  so a `touch` costs one digest, once.

Digests are computed once, when the stage has written its files (the build records them right
after the stage returns); a file whose stat is unchanged since the last record keeps its digest.
Paths are relative to the build folder, so the records survive `mv` of the whole folder (a move
keeps inodes and modification times).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edu_affect_data.core.fingerprint import file_digest

#: The fields of one file's record in `build_state.json`.
STAT_FIELDS = ("size", "mtime_ns", "inode")


@dataclass(frozen=True)
class Change:
    """One output that is no longer what its stage wrote: its path (relative to `--out`) and how."""

    path: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


def output_files(out: Path, outputs: Iterable[str]) -> Iterator[str]:
    """Every file the outputs name, relative to `out`: a file itself, a folder's files below it.

    Hidden entries (a name starting with `.`, and all below one) are not outputs: they are the
    temporaries of writers in progress or killed (`core.atomic`).
    """
    for rel in outputs:
        path = out / rel
        if path.is_file():
            yield rel
        elif path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(os.path.relpath(os.path.join(folder, name), out)).as_posix()


def record_outputs(out: Path, outputs: Iterable[str], previous: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """`{relative path: {size, mtime_ns, inode, sha256}}` of every output file.

    A file whose stat equals its `previous` record (checked earlier in the same build) keeps that
    digest; every other file is read once.
    """
    previous = previous or {}
    records: dict[str, dict[str, Any]] = {}
    for rel in output_files(out, outputs):
        stat = _stat(out / rel)
        if stat is None:  # removed between the listing and the stat: not an output any more
            continue
        known = previous.get(rel)
        if known is not None and _same_stat(known, stat) and "sha256" in known:
            records[rel] = {**stat, "sha256": known["sha256"]}
        else:
            records[rel] = {**stat, "sha256": file_digest(out / rel)}
    return records


def check_outputs(
    out: Path, outputs: Iterable[str], files: Mapping[str, Mapping[str, Any]], *, verify: bool = False
) -> tuple[list[Change], dict[str, dict[str, Any]]]:
    """The changes to a stage's recorded outputs, and its records with refreshed stats.

    `outputs` are the paths the stage reported (files and folders), `files` its recorded files.
    Only what is needed is read: a digest where the stat differs, or every digest with `verify`.
    """
    outputs = list(outputs)
    changes: list[Change] = []
    refreshed: dict[str, dict[str, Any]] = {}
    for rel, known in sorted(files.items()):
        stat = _stat(out / rel)
        if stat is None:
            changes.append(Change(rel, "missing"))
            continue
        if stat["size"] != known.get("size"):
            changes.append(Change(rel, f"size {stat['size']} bytes, the stage wrote {known.get('size')}"))
            continue
        if _same_stat(known, stat) and not verify:
            refreshed[rel] = dict(known)
            continue
        if file_digest(out / rel) != known.get("sha256"):
            changes.append(Change(rel, "content differs from what the stage wrote"))
            continue
        refreshed[rel] = {**stat, "sha256": known["sha256"]}
    named = {c.path for c in changes}
    changes.extend(Change(rel, "missing") for rel in outputs if rel not in named and not (out / rel).exists())
    written = set(files)
    changes.extend(Change(rel, "not written by the stage") for rel in output_files(out, outputs) if rel not in written)
    return changes, refreshed


def _stat(path: Path) -> dict[str, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def _same_stat(known: Mapping[str, Any], stat: Mapping[str, int]) -> bool:
    return all(known.get(key) == stat[key] for key in STAT_FIELDS)
