"""Fixtures of the corpus-reader tests: hand-written miniature corpora, copied per test.

IEMOCAP is a folder of hand-written text files (`fixtures/iemocap`, media are empty placeholders:
the readers never decode media). MOSEI's `.csd` files are HDF5, so `write_csd` builds them from
literal arrays in the SDK's layout; the text files are written by `mosei_root`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import h5py
import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"

#: Segmented transcripts of the MOSEI miniature: ids starting with `-`, numeric, ending in `_`,
#: holding `___`; text holding `___`.
MOSEI_TRANSCRIPTS = {
    "-abc_DEF-12": (
        "-abc_DEF-12___0___0.0___4.0___so the loop never stops\n"
        "-abc_DEF-12___1___4.1___8.0___why does it print ___ twice\n"
        "-abc_DEF-12___2___8.2___11.0___ugh whatever\n"
    ),
    "123456": "123456___0___1.0___3.0___okay let me try\n123456___1___3.5___6.0___what if we swap them\n",
    "endsWith_u_": "endsWith_u____0___0.5___2.5___hello there\n",
    "x_y___z-123": "x_y___z-123___0___0.0___2.0___three underscores\n",
}


@pytest.fixture
def iemocap_root(tmp_path: Path) -> Path:
    """A writable copy of the hand-written IEMOCAP miniature (tests may delete or damage files)."""
    target = tmp_path / "IEMOCAP_full_release"
    shutil.copytree(FIXTURES / "iemocap" / "IEMOCAP_full_release", target)
    return target


CsdWriter = Callable[
    [Path, str, Mapping[str, tuple[np.ndarray, np.ndarray]], Mapping[str, object]], Path
]


def _write_csd(
    path: Path,
    root_name: str,
    data: Mapping[str, tuple[np.ndarray, np.ndarray]],
    metadata: Mapping[str, object],
) -> Path:
    """A .csd in the SDK layout: `<root>/data/<key>/{features,intervals}`, JSON metadata strings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        group = handle.create_group(root_name)
        data_group = group.create_group("data")
        for key, (features, intervals) in data.items():
            entry = data_group.create_group(key)
            entry.create_dataset("features", data=features)
            entry.create_dataset("intervals", data=np.asarray(intervals, dtype=np.float64))
        meta = group.create_group("metadata")
        for name, value in {"root name": root_name, **metadata}.items():
            meta.create_dataset(name, data=json.dumps(value), dtype=h5py.string_dtype("utf-8"))
    return path


@pytest.fixture
def write_csd() -> CsdWriter:
    return _write_csd


def words_array(words: list[str]) -> np.ndarray:
    return np.array([w.encode() for w in words], dtype="S32").reshape(-1, 1)


LABELS_ONLY = "Zq9-_8kLm0Q"
LABEL_NAMES = ["sentiment", "happy", "sad", "anger", "surprise", "disgust", "fear"]


@pytest.fixture
def mosei_root(tmp_path: Path) -> Path:
    """`CMU_MOSEI/` with Raw/ media placeholders, segmented transcripts and both .csd files.

    `-abc_DEF-12`'s label intervals are unsorted and one value is out of range; `123456` uses
    SDK-aligned keys `123456[0]`, `123456[1]`; `Zq9-_8kLm0Q` has no transcript (labels only).
    """
    root = tmp_path / "CMU_MOSEI"
    raw = root / "Raw"
    for vid in [*MOSEI_TRANSCRIPTS, LABELS_ONLY]:
        for rel in (f"Audio/Full/WAV_16000/{vid}.wav", f"Videos/Full/Combined/{vid}.mp4"):
            (raw / rel).parent.mkdir(parents=True, exist_ok=True)
            (raw / rel).write_bytes(b"")
    transcripts = raw / "Transcript/Segmented/Combined"
    transcripts.mkdir(parents=True)
    for vid, text in MOSEI_TRANSCRIPTS.items():
        (transcripts / f"{vid}.txt").write_text(text)
    label_rows = {
        "-abc_DEF-12": (
            np.array(
                [
                    [1.0, 2.0, 0, 0, 0, 0, 0],
                    [-2.0, 0, 1.0, 3.3333, 0, 0, 0],
                    [0.5, 1.0, 0, 0, 0.6667, 0, 0],
                ]
            ),
            np.array([[8.2, 11.0], [0.0, 4.0], [4.1, 8.0]]),
        ),
        "123456[0]": (np.array([[0.0, 0, 0, 0, 1.0, 0, 0]]), np.array([[1.0, 3.0]])),
        "123456[1]": (np.array([[1.0, 1.0, 0, 0, 1.0, 0, 0]]), np.array([[3.5, 6.0]])),
        "endsWith_u_": (np.array([[0.0, 0, 0, 0, 0, 0, 0]]), np.array([[0.5, 2.5]])),
        "x_y___z-123": (np.array([[0.0, 0, 1, 0, 0, 0, 0]]), np.array([[0.0, 2.0]])),
        LABELS_ONLY: (
            np.array([[0.0, 0, 1, 0, 0, 0, 0], [1.0, 1, 0, 0, 0, 0, 0]]),
            np.array([[2.0, 5.0], [0.0, 2.0]]),
        ),
    }
    _write_csd(
        root / "CMU_MOSEI_Labels.csd", "All Labels", label_rows, {"dimension names": LABEL_NAMES}
    )
    words = {
        "-abc_DEF-12": (
            words_array(["sp", "so", "the", "loop", "never", "stops", "sp", "why", "does", "it"]),
            np.array(
                [
                    [0.0, 0.3],
                    [0.3, 0.6],
                    [0.6, 0.9],
                    [0.9, 1.5],
                    [1.5, 2.0],
                    [2.0, 3.0],
                    [3.0, 4.2],
                    [4.2, 4.6],
                    [4.6, 5.0],
                    [5.0, 5.3],
                ]
            ),
        ),
        "123456[0]": (
            words_array(["okay", "sp", "let", "me", "try"]),
            np.array([[1.0, 1.4], [1.4, 1.6], [1.6, 1.9], [1.9, 2.1], [2.1, 2.8]]),
        ),
    }
    _write_csd(
        root / "CMU_MOSEI_TimestampedWords.csd", "words", words, {"dimension names": ["word"]}
    )
    return root
