"""core.fingerprint: file content, folder listing and JSON digests, each against its definition."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from edu_affect_data.core.fingerprint import (
    SHORT_DIGEST,
    file_digest,
    json_digest,
    listing,
    listing_fingerprint,
    path_fingerprint,
)


def test_file_digest_is_sha256_of_the_bytes_across_read_blocks(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    data = os.urandom(3 * (1 << 20) + 17)  # more than one read block, not a multiple of it
    path.write_bytes(data)
    assert file_digest(path) == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert file_digest(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


def test_json_digest_is_canonical() -> None:
    value = {"b": [1, 2.5, None], "a": {"y": "z", "x": Path("/data/x")}}
    reordered = {"a": {"x": Path("/data/x"), "y": "z"}, "b": [1, 2.5, None]}
    assert json_digest(value) == json_digest(reordered)
    canonical = '{"a":{"x":"/data/x","y":"z"},"b":[1,2.5,null]}'  # sorted, compact, str() for a Path
    assert json_digest(value) == hashlib.sha256(canonical.encode()).hexdigest()
    assert json_digest(value, short=True) == json_digest(value)[:SHORT_DIGEST]
    assert json_digest(("a", 1)) == json_digest(["a", 1])  # a tuple is a JSON list
    assert json_digest({"a": 1}) != json_digest({"a": 1.5})
    assert json.loads(canonical)  # the form hashed is valid JSON


def test_listing_changes_with_content_size_time_and_permissions_not_with_reads(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "Session1" / "wav").mkdir(parents=True)
    wav = root / "Session1" / "wav" / "a.wav"
    wav.write_bytes(b"RIFF0000")
    first = listing_fingerprint(root)
    wav.read_bytes()
    assert listing_fingerprint(root) == first  # reading changes nothing
    seen = {first}
    os.utime(wav, ns=(1, 1))
    seen.add(listing_fingerprint(root))
    wav.chmod(0o600)
    seen.add(listing_fingerprint(root))
    wav.write_bytes(b"RIFF00000")
    seen.add(listing_fingerprint(root))
    (root / "Session1" / "new").mkdir()
    seen.add(listing_fingerprint(root))
    assert len(seen) == 5  # every change gave a new fingerprint
    lines = list(listing(root))
    assert [line.split("\0")[0] for line in sorted(lines)] == ["Session1", "Session1/new", "Session1/wav", "Session1/wav/a.wav"]


def test_hidden_entries_can_be_left_out(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.parquet").write_bytes(b"rows")
    everything, visible = listing_fingerprint(tmp_path), listing_fingerprint(tmp_path, hidden=False)
    (tmp_path / ".cache" / "deep").mkdir(parents=True)
    (tmp_path / ".cache" / "deep" / "lock").write_bytes(b"x")
    (tmp_path / "data" / "._train.parquet").write_bytes(b"AppleDouble")
    assert listing_fingerprint(tmp_path, hidden=False) == visible
    assert listing_fingerprint(tmp_path) != everything
    assert not any(".cache" in line or "._" in line for line in listing(tmp_path, hidden=False))


def test_links_loops_and_missing_paths_never_raise(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.txt").write_text("a")
    root.mkdir()
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "dangling").symlink_to(tmp_path / "gone")
    lines = sorted(listing(root))
    assert any(line.startswith("linked/a.txt\0") for line in lines)  # a linked folder is walked
    assert "loop\0loop" in lines and f"dangling\0dangling\0{tmp_path / 'gone'}" in lines
    before = listing_fingerprint(root)
    (elsewhere / "a.txt").write_text("changed behind the link")
    assert listing_fingerprint(root) != before
    assert path_fingerprint(tmp_path / "nothing") == "missing"
    assert path_fingerprint(root / "dangling") == f"dangling->{tmp_path / 'gone'}"
    assert path_fingerprint(root) == listing_fingerprint(root)


def test_path_fingerprint_of_a_file(tmp_path: Path) -> None:
    table = tmp_path / "sessions.parquet"
    table.write_bytes(b"PAR1 rows PAR1")
    assert path_fingerprint(table, content=True) == hashlib.sha256(b"PAR1 rows PAR1").hexdigest()
    listed = path_fingerprint(table)
    assert listed.split("\0")[:2] == [".", "14"]  # its listing line: name, size, mtime, mode
    if os.geteuid() != 0:  # root reads anything
        table.chmod(0o000)
        assert path_fingerprint(table, content=True).startswith("unreadable:")
        table.chmod(0o644)


@pytest.mark.parametrize("hidden", [True, False])
def test_listing_of_an_empty_folder_is_stable(tmp_path: Path, hidden: bool) -> None:
    assert listing_fingerprint(tmp_path, hidden=hidden) == hashlib.sha256().hexdigest()
