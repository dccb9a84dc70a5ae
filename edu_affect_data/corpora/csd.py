"""CMU-MultimodalSDK computational sequences (`.csd`, HDF5), read with h5py alone.

Layout: one top-level group named by the sequence's root name (`words`, `All Labels`) holding
`data/<key>/features` (N x D) and `data/<key>/intervals` (N x 2, seconds from the start of the full
video), and `metadata/<name>` strings. A key is a video id, or `<video_id>[k]` after the SDK's
alignment to segments; both are accepted and grouped by video. The SDK itself is not used: its
alignment is slow and it cannot be installed offline.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

_ALIGNED_KEY = re.compile(r"^(.+)\[(\d+)\]$")


class CsdError(ValueError):
    """A .csd file that cannot be opened or does not have the SDK layout."""


@dataclass(frozen=True)
class CsdEntry:
    """One key's arrays: `features` (N x D) and `intervals` (N x 2) in full-video seconds."""

    key: str
    segment_index: int | None  # k of a `<video_id>[k]` key
    features: np.ndarray
    intervals: np.ndarray


def split_key(key: str) -> tuple[str, int | None]:
    """`'abc[3]'` -> `('abc', 3)`; a plain video id -> `(id, None)`. Never splits on `_` or `-`."""
    match = _ALIGNED_KEY.match(key)
    if match is None:
        return key, None
    return match.group(1), int(match.group(2))


def _root_group(handle: h5py.File, path: Path) -> h5py.Group:
    groups = [name for name in handle if isinstance(handle[name], h5py.Group)]
    if len(groups) != 1:
        raise CsdError(f"{path}: want one top-level group (the root name), found {groups}")
    group = handle[groups[0]]
    if "data" not in group or not isinstance(group["data"], h5py.Group):
        raise CsdError(f"{path}: group {groups[0]!r} has no 'data' group")
    return group


def read_metadata(path: Path) -> dict[str, object]:
    """`metadata/*` as Python values: JSON decoded when it parses, the plain string otherwise.

    h5py returns bytes for HDF5 strings, hence `.asstr()`; the SDK stores either a scalar string
    or a `(1,)` array of one string, and both are accepted.
    """
    out: dict[str, object] = {}
    with _open(path) as handle:
        group = _root_group(handle, path)
        if "metadata" not in group:
            return out
        for name, dataset in group["metadata"].items():
            value = dataset.asstr()[()] if dataset.dtype.kind in "SOU" else dataset[()]
            if isinstance(value, np.ndarray):
                value = value.reshape(-1)[0] if value.size == 1 else value.tolist()
            if isinstance(value, str):
                with contextlib.suppress(json.JSONDecodeError):
                    value = json.loads(value)
            out[name] = value
    return out


def keys_by_video(path: Path) -> dict[str, list[str]]:
    """Every data key of the file grouped by video id, keys in sorted order."""
    grouped: dict[str, list[str]] = defaultdict(list)
    with _open(path) as handle:
        try:
            keys = sorted(_root_group(handle, path)["data"])
        except (OSError, KeyError, RuntimeError) as exc:
            raise CsdError(f"{path}: cannot list data keys (truncated or damaged HDF5?): {exc}") from exc
        for key in keys:
            grouped[split_key(key)[0]].append(key)
    return dict(grouped)


class CsdReader:
    """One open .csd file; reading many keys through one handle avoids an HDF5 open per video."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = _open(path)
        try:
            self._data = _root_group(self._handle, path)["data"]
        except CsdError:
            self._handle.close()
            raise

    def __enter__(self) -> CsdReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._handle.close()

    def entries(self, keys: list[str] | tuple[str, ...]) -> list[CsdEntry]:
        """Arrays of the given keys; `CsdError` names the key when one is not N x D / N x 2."""
        return [self._entry(key) for key in keys]

    def _entry(self, key: str) -> CsdEntry:
        try:
            return self._read_entry(key)
        except (OSError, KeyError, RuntimeError) as exc:
            # h5py raises these when the file ends inside a dataset (a truncated download).
            raise CsdError(f"{self.path}: cannot read data/{key} (truncated or damaged HDF5?): {exc}") from exc

    def _read_entry(self, key: str) -> CsdEntry:
        group = self._data.get(key)
        if not isinstance(group, h5py.Group) or "features" not in group or "intervals" not in group:
            raise CsdError(f"{self.path}: data/{key} lacks 'features' or 'intervals'")
        features = group["features"][()]
        intervals = group["intervals"][()]
        if intervals.ndim != 2 or intervals.shape[1] != 2:
            raise CsdError(
                f"{self.path}: data/{key}/intervals has shape {intervals.shape}, want (N, 2)"
            )
        if features.ndim != 2 or features.shape[0] != intervals.shape[0]:
            raise CsdError(
                f"{self.path}: data/{key}/features has shape {features.shape}, want ({intervals.shape[0]}, D)"
            )
        return CsdEntry(key, split_key(key)[1], features, intervals.astype(np.float64))


def read_entries(path: Path, keys: list[str] | tuple[str, ...]) -> list[CsdEntry]:
    """Arrays of the given keys of one file (opens and closes it; see `CsdReader` for many)."""
    with CsdReader(path) as reader:
        return reader.entries(keys)


def decode_words(features: np.ndarray) -> list[str]:
    """Word feature cells (`b'hello'` as fixed or variable-length HDF5 strings) as text."""
    return [
        cell.decode("utf-8", errors="replace") if isinstance(cell, bytes) else str(cell)
        for cell in features.reshape(-1).tolist()
    ]


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise CsdError(f"{path}: cannot open as HDF5: {exc}") from exc
