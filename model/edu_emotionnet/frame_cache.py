"""Frames decoded and down-scaled once per dataset, so CPU training never decodes JPEG per epoch.

Only for `model.video.input: pixels` below 224 px (small CPU configs); a run on stored frame
embeddings reads no pixels and builds no cache.

Decoding 224x224 JPEGs costs ~1-2 ms each; a demo epoch holds ~10k of them, every epoch, for
every run of a suite. The cache holds each split's frames as one uint8 array (N_frames, S, S, 3)
plus row offsets, memory-mapped on read. Its folder is keyed by the listing fingerprint of the
dataset files (`edu_affect_data.core.fingerprint`: name, size, mtime, permissions) and the side S,
so a rebuilt dataset never reads stale pixels. Files
are written through `edu_affect_data.core.atomic`, so an interrupted build leaves no half cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from edu_affect_data.core.atomic import atomic_write
from edu_affect_data.core.fingerprint import SHORT_DIGEST, listing_fingerprint


def _decode(jpeg: bytes, size: int) -> np.ndarray:
    import cv2

    # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still leaves >= `size` pixels: much cheaper.
    flag = cv2.IMREAD_COLOR
    for factor, reduced in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2)):
        if 224 // factor >= size:
            flag = reduced
            break
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), flag)
    if image is None:
        raise ValueError("undecodable JPEG")
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image[:, :, ::-1]  # BGR -> RGB


@dataclass(frozen=True)
class FrameCache:
    pixels: np.ndarray  # (N_frames, S, S, 3) uint8, memory-mapped
    offsets: np.ndarray  # (N_rows + 1,) int64

    def frames(self, row: int) -> torch.Tensor:
        """(n, 3, S, S) uint8 frames of one dataset row."""
        block = np.array(self.pixels[self.offsets[row] : self.offsets[row + 1]])  # a writable copy
        return torch.from_numpy(block).permute(0, 3, 1, 2)

    @classmethod
    def load(cls, folder: Path, split: str) -> FrameCache:
        return cls(np.load(folder / f"{split}.pixels.npy", mmap_mode="r"), np.load(folder / f"{split}.offsets.npy"))


def cache_folder(cache_root: Path, data_dir: Path, size: int) -> Path:
    """The cache of `data_dir` at `size` px, keyed by the listing of the dataset's files (hidden ones
    such as a `.cache` of the hub client left out): a rebuilt or touched dataset gets a new folder."""
    fingerprint = listing_fingerprint(Path(data_dir), hidden=False)[:SHORT_DIGEST]
    return Path(cache_root) / f"frames-{fingerprint}-{size}px"


def build_frame_cache(split_ds, folder: Path, split: str, size: int) -> FrameCache:  # type: ignore[no-untyped-def]
    """Decode and resize every frame of one split (once; later calls just load it)."""
    if (folder / f"{split}.offsets.npy").exists():
        return FrameCache.load(folder, split)
    from datasets import Image, Sequence

    folder.mkdir(parents=True, exist_ok=True)
    counts = [len(times) for times in split_ds["frame_times"]]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    raw = split_ds.select_columns(["session_id", "frames"]).cast_column("frames", Sequence(Image(decode=False)))

    def write_pixels(tmp: Path) -> None:
        pixels = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(int(offsets[-1]), size, size, 3))
        for row, record in enumerate(raw):
            frames = record["frames"]
            if len(frames) != counts[row]:
                raise ValueError(
                    f"dataset row {row} (session {record['session_id']}): {len(frames)} frames but {counts[row]} frame_times"
                )
            for k, frame in enumerate(frames):
                try:
                    pixels[offsets[row] + k] = _decode(frame["bytes"], size)
                except ValueError as exc:
                    raise ValueError(f"dataset row {row} (session {record['session_id']}), frame {k}: {exc}") from exc
        pixels.flush()

    atomic_write(folder / f"{split}.pixels.npy", write_pixels)
    # Last: the offsets file's presence marks the cache complete.
    atomic_write(folder / f"{split}.offsets.npy", lambda tmp: np.save(tmp, offsets))
    return FrameCache.load(folder, split)
