"""On-disk results of the one video pass (`video_pass.py`), under the build's `manifest/video/`.

Per recording, `manifest/video/<recording>/`:

- `chunk-<k>--<digest>.npz`: one chunk's frame timestamps, kinds and classifier references, named by
  the hash of its inputs (the source file's path, size and mtime, the chunk's span, the thresholds
  and the proxy settings), so a killed ingest resumes with the chunks it had finished;
- `<region>-<k>--<digest>.mp4`: the chunk's proxy of each speaker region;
- `frames--<digest>.parquet`: the recording's stitched classification (`FRAMES_SCHEMA`), one row
  per decoded frame: what the features read to flag `frame_available` exactly as the gap filter
  judged the frame.

The sessions table points at them (`proxy_path`, `proxy_start_s`, `frames_path`), so the clips and
the features find their pixels through the ingest's artifact, never by guessing names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from edu_affect_data.core.atomic import atomic_write
from edu_affect_data.core.fingerprint import json_digest
from edu_affect_data.core.names import path_part
from edu_affect_data.core.parquet import DamagedParquet, read_table, save_table
from edu_affect_data.media.frames import FRAME_KINDS
from edu_affect_data.media.timelines import VideoThresholds
from edu_affect_data.media.video_pass import ChunkFrames, ChunkJob, ProxySpec, scan_chunk


def recording_dir(media_dir: Path, recording_id: str) -> Path:
    """The recording's folder, its id made a safe file name (`core.names.path_part`: `..` stays inside)."""
    return Path(media_dir) / path_part(recording_id)


def chunk_digest(job: ChunkJob) -> str:
    """The hash of everything a chunk's results depend on."""
    stat = job.video_path.stat() if job.video_path.is_file() else None
    inputs = [
        str(job.video_path),
        [stat.st_size, stat.st_mtime_ns] if stat else None,
        job.regions,
        job.start_s,
        job.end_s,
        job.prime_s,
        [job.thresholds.black_luma, job.thresholds.frozen_mad, job.thresholds.face_check],
        [job.proxy.height, job.proxy.crf] if job.proxy else None,
    ]
    return json_digest(inputs, short=True)


def chunk_paths(media_dir: Path, job: ChunkJob, digest: str) -> tuple[Path, dict[str, Path]]:
    """(results file, proxy per region) of a chunk."""
    folder = recording_dir(media_dir, job.recording_id)
    proxies = {r: folder / f"{r}-{job.index:03d}--{digest}.mp4" for r in job.regions}
    return folder / f"chunk-{job.index:03d}--{digest}.npz", proxies


def save_chunk(path: Path, chunk: ChunkFrames) -> None:
    """The chunk's results (written last, after its proxies: its presence means the chunk is done)."""
    arrays: dict[str, np.ndarray] = {
        "pts": chunk.pts,
        "facts": np.array([chunk.fps, chunk.declared_frames, chunk.start_s, chunk.proxy_start_s]),
    }
    arrays.update({f"kind_{r}": _codes(k) for r, k in chunk.kinds.items()})
    arrays.update({f"ref_{r}": v for r, v in chunk.references.items()})

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]

    atomic_write(path, write)


def load_chunk(path: Path, job: ChunkJob, proxies: dict[str, Path]) -> ChunkFrames | None:
    """A finished chunk's results, or None when any of its files is absent or unreadable."""
    if not path.is_file() or not all(p.is_file() for p in proxies.values()):
        return None
    try:
        with np.load(path) as data:
            fps, declared, start, proxy_start = (float(v) for v in data["facts"])
            kinds = {r: np.asarray(FRAME_KINDS, dtype=object)[data[f"kind_{r}"]] for r in job.regions}
            refs = {r: data[f"ref_{r}"].astype(np.float64) for r in job.regions}
            pts = data["pts"].astype(np.float64)
    except (OSError, KeyError, ValueError):
        return None
    return ChunkFrames(job.index, start, pts, kinds, refs, fps, declared, dict(proxies), proxy_start, job.end_s)


def _codes(kinds: np.ndarray) -> np.ndarray:
    lookup = {k: i for i, k in enumerate(FRAME_KINDS)}
    return np.asarray([lookup[k] for k in kinds], dtype=np.uint8)


# ---------------------------------------------------------------------------------- frames file
FRAMES_SCHEMA_BASE = pa.schema([("pts_s", pa.float64()), ("chunk", pa.int32())])


def write_frames(media_dir: Path, recording_id: str, pts: np.ndarray, chunk_of: np.ndarray, kinds: dict[str, np.ndarray], digest: str) -> Path:
    """`frames--<digest>.parquet`: pts, owning chunk and one kind column per region."""
    path = frames_path(media_dir, recording_id, digest)
    if path.is_file():
        return path
    columns = {"pts_s": pa.array(pts, pa.float64()), "chunk": pa.array(chunk_of, pa.int32())}
    columns.update({region: pa.array(list(k), pa.string()) for region, k in sorted(kinds.items())})
    table = pa.table(columns)
    save_table(table, path)
    return path


def frames_path(media_dir: Path, recording_id: str, digest: str) -> Path:
    return recording_dir(media_dir, recording_id) / f"frames--{digest}.parquet"


def read_all_frames(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """(pts, kinds per region) of a finished frames file, or None when it is absent or unreadable."""
    try:
        table = read_table(path)
    except (OSError, DamagedParquet):
        return None
    regions = [name for name in table.column_names if name not in FRAMES_SCHEMA_BASE.names]
    return table["pts_s"].to_numpy(), {r: np.asarray(table[r].to_pylist(), dtype=object) for r in regions}


@dataclass(frozen=True)
class RegionFrames:
    """One region's stitched classification, as a reader of a proxy needs it."""

    pts: np.ndarray
    usable: np.ndarray


def read_frames(path: Path, region: str) -> RegionFrames:
    """The region's column of a frames file; a one-line error naming the file when it is not there."""
    try:
        table = read_table(path, ["pts_s", region])
    except (OSError, KeyError, pa.ArrowInvalid) as exc:
        raise FileNotFoundError(f"{path}: cannot read the frame classification for region {region!r} ({exc}); run the ingest stage again") from exc
    return RegionFrames(
        pts=table["pts_s"].to_numpy(),
        usable=np.asarray(table[region].to_pylist(), dtype=object) == "usable",
    )


def pass_recording(
    video: Path, recording_id: str, regions: tuple[str, ...], thresholds: VideoThresholds, proxy: ProxySpec, media_dir: Path
) -> dict[str, dict[str, str | float]]:
    """The one pass over a whole recording outside a build (raw media for `predict`, hand-made tables).

    Per region, the session columns the ingest writes: `proxy_path`, `proxy_start_s`, `frames_path`.
    `BrokenMediaError` names the file when it cannot be decoded.
    """
    job = ChunkJob(recording_id, Path(video), regions, 0, 0.0, None, 0.0, thresholds, proxy)
    digest = chunk_digest(job)
    _, proxies = chunk_paths(media_dir, job, digest)
    chunk = scan_chunk(replace(job, proxy_paths=tuple((r, str(p)) for r, p in proxies.items())))
    frames = write_frames(media_dir, recording_id, chunk.pts, np.zeros(len(chunk.pts), np.int32), chunk.kinds, digest)
    return {
        region: {"proxy_path": str(chunk.proxies[region]), "proxy_start_s": chunk.proxy_start_s, "frames_path": str(frames)}
        for region in regions
    }


def remove_stale(media_dir: Path, keep: Iterable[Path]) -> int:
    """Delete files of earlier passes (other digests, recordings no longer read); return how many."""
    media_dir = Path(media_dir)
    if not media_dir.is_dir():
        return 0
    kept = {Path(p).resolve() for p in keep}
    removed = 0
    for path in media_dir.rglob("*"):
        if path.is_file() and "--" in path.name and path.resolve() not in kept:
            path.unlink()
            removed += 1
    for folder in sorted((p for p in media_dir.iterdir() if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return removed
