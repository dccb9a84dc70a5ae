"""core.outputs and core.parquet: a stage's files recorded by content, checked cheaply, damage named."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from edu_affect_data.core.outputs import Change, check_outputs, record_outputs
from edu_affect_data.core.parquet import (
    DamagedParquet,
    damage_behind,
    read_batches,
    read_table,
    save_table,
)


def _build(out: Path) -> list[str]:
    (out / "parts" / ".part.tmp-1.parquet").parent.mkdir(parents=True)
    (out / "parts" / "a.bin").write_bytes(b"a" * 100)
    (out / "parts" / "b.bin").write_bytes(b"b" * 100)
    (out / "parts" / ".part.tmp-1.parquet").write_bytes(b"half")  # a writer's temporary: not an output
    (out / "table.txt").write_text("rows\n")
    return ["parts", "table.txt"]


def _same_stat_other_bytes(path: Path) -> None:
    before = path.stat()
    with path.open("r+b") as handle:
        handle.write(b"X")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_records_every_file_under_the_outputs_and_checks_them_by_stat_then_digest(tmp_path: Path) -> None:
    outputs = _build(tmp_path)
    files = record_outputs(tmp_path, outputs)
    assert sorted(files) == ["parts/a.bin", "parts/b.bin", "table.txt"]
    assert check_outputs(tmp_path, outputs, files) == ([], files)

    # A touch: same bytes, new mtime: no change, the new stat recorded (one digest, once).
    part = tmp_path / "parts" / "a.bin"
    os.utime(part, ns=(part.stat().st_atime_ns, part.stat().st_mtime_ns + 10**9))
    changes, refreshed = check_outputs(tmp_path, outputs, files)
    assert changes == [] and refreshed["parts/a.bin"]["mtime_ns"] == part.stat().st_mtime_ns
    assert refreshed["parts/a.bin"]["sha256"] == files["parts/a.bin"]["sha256"]

    # Other bytes behind the same stat: only a full verification reads them.
    _same_stat_other_bytes(part)
    assert check_outputs(tmp_path, outputs, refreshed)[0] == []
    assert check_outputs(tmp_path, outputs, refreshed, verify=True)[0] == [Change("parts/a.bin", "content differs from what the stage wrote")]


def test_changed_missing_and_foreign_files_are_each_named(tmp_path: Path) -> None:
    outputs = _build(tmp_path)
    files = record_outputs(tmp_path, outputs)
    (tmp_path / "parts" / "a.bin").write_bytes(b"c" * 100)  # same size, new mtime: the digest is read
    (tmp_path / "parts" / "b.bin").unlink()
    (tmp_path / "table.txt").write_text("rows and more\n")
    (tmp_path / "parts" / "stray.bin").write_bytes(b"s")
    changes, refreshed = check_outputs(tmp_path, outputs, files)
    assert [str(c) for c in changes] == [
        "parts/a.bin: content differs from what the stage wrote",
        "parts/b.bin: missing",
        "table.txt: size 14 bytes, the stage wrote 5",
        "parts/stray.bin: not written by the stage",
    ]
    assert refreshed == {}
    (tmp_path / "table.txt").unlink()
    assert Change("table.txt", "missing") in check_outputs(tmp_path, outputs, {})[0]


def test_a_record_reuses_the_digest_of_a_file_whose_stat_did_not_change(tmp_path: Path) -> None:
    outputs = _build(tmp_path)
    files = record_outputs(tmp_path, outputs)
    planted = {**files, "table.txt": {**files["table.txt"], "sha256": "checked-earlier"}}
    assert record_outputs(tmp_path, outputs, planted)["table.txt"]["sha256"] == "checked-earlier"
    os.utime(tmp_path / "table.txt", ns=(0, 10**9))
    assert record_outputs(tmp_path, outputs, planted)["table.txt"]["sha256"] == files["table.txt"]["sha256"]


def test_project_parquet_names_a_damaged_page_and_reads_a_sound_file_back(tmp_path: Path) -> None:
    path = tmp_path / "part.parquet"
    table = pa.table({"x": np.arange(50_000, dtype=np.float64)})
    save_table(table, path)
    assert read_table(path).equals(table) and read_table(path, ["x"]).num_rows == 50_000
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 200] = bytes(200)  # mid-file: the footer is intact
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedParquet, match=r"part\.parquet: damaged Parquet file .*CRC checksum verification failed") as raised:
        read_table(path)
    with pytest.raises(DamagedParquet):
        list(read_batches(path, 1000))
    # Raised in a pool worker, it arrives whole; wrapped by a stage, the build still finds it.
    copy = pickle.loads(pickle.dumps(raised.value))
    assert (copy.path, copy.reason) == (raised.value.path, raised.value.reason)
    try:
        try:
            read_table(path)
        except DamagedParquet as exc:
            raise RuntimeError("session s1: features failed") from exc
    except RuntimeError as wrapped:
        found = damage_behind(wrapped)
        assert found is not None and found.path == path
    assert damage_behind(RuntimeError("other")) is None
    with pytest.raises(FileNotFoundError):
        read_table(tmp_path / "absent.parquet")
