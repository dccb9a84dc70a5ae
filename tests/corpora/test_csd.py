"""Computational-sequence (.csd) access: keys, metadata strings, shape checks."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from edu_affect_data.corpora.csd import (
    CsdError,
    decode_words,
    keys_by_video,
    read_entries,
    read_metadata,
    split_key,
)

from .conftest import CsdWriter, words_array


@pytest.mark.parametrize(
    ("key", "split"),
    [
        ("-abc_DEF-12", ("-abc_DEF-12", None)),
        ("-abc_DEF-12[3]", ("-abc_DEF-12", 3)),
        ("123456[0]", ("123456", 0)),
        ("a_b-c[x]", ("a_b-c[x]", None)),
    ],
)
def test_split_key(key: str, split: tuple[str, int | None]) -> None:
    assert split_key(key) == split


def test_keys_grouped_by_video(tmp_path: Path, write_csd: CsdWriter) -> None:
    one = (np.zeros((1, 1)), np.array([[0.0, 1.0]]))
    path = write_csd(tmp_path / "x.csd", "words", {"b[1]": one, "b[0]": one, "-a": one}, {})
    assert keys_by_video(path) == {"-a": ["-a"], "b": ["b[0]", "b[1]"]}


def test_metadata_strings_are_decoded(tmp_path: Path, write_csd: CsdWriter) -> None:
    path = write_csd(tmp_path / "x.csd", "All Labels", {}, {"dimension names": ["a", "b"]})
    with h5py.File(path, "a") as handle:  # the SDK's own `(1,)` plain-string form
        handle["All Labels/metadata"].create_dataset(
            "computational sequence description", data=["Labels"], dtype=h5py.string_dtype()
        )
    meta = read_metadata(path)
    assert meta["root name"] == "All Labels"
    assert meta["dimension names"] == ["a", "b"]
    assert meta["computational sequence description"] == "Labels"


def test_word_cells_decode_from_bytes() -> None:
    assert decode_words(words_array(["sp", "héllo"])) == ["sp", "héllo"]
    assert decode_words(np.array([[b"a"], ["b"]], dtype=object)) == ["a", "b"]


def test_shape_mismatch_is_an_error_naming_the_key(tmp_path: Path, write_csd: CsdWriter) -> None:
    path = write_csd(tmp_path / "x.csd", "words", {"v": (np.zeros((3, 1)), np.zeros((2, 2)))}, {})
    with pytest.raises(CsdError, match=r"data/v/features has shape \(3, 1\), want \(2, D\)"):
        read_entries(path, ["v"])


def test_two_root_groups_or_not_hdf5_are_errors(tmp_path: Path) -> None:
    two = tmp_path / "two.csd"
    with h5py.File(two, "w") as handle:
        handle.create_group("a/data")
        handle.create_group("b/data")
    with pytest.raises(CsdError, match="one top-level group"):
        keys_by_video(two)
    junk = tmp_path / "junk.csd"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(CsdError, match="cannot open as HDF5"):
        keys_by_video(junk)
