"""The published dataset as padded, masked batches (docs/contracts.md, "Dataset features").

Rows come from `datasets.load_dataset(folder).with_format("torch")`, reading only the columns
the model's modalities need. Video is read as `model.video.input` says: `embeddings` reads the
stored `frame_embeddings` (float16, D per frame) and never touches a pixel; `pixels` reads the
JPEG frames, decoded by `datasets` (full-size configs, in DataLoader workers) or from the
down-scaled frame cache (CPU configs).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset as TorchDataset

from edu_affect_data.core.vocabulary import SPLITS
from edu_affect_data.stages.features.registry import modality_extractors
from edu_emotionnet.batch import Batch
from edu_emotionnet.config import CLASSES, VideoEncoderConfig, VideoInput
from edu_emotionnet.frame_cache import FrameCache, build_frame_cache, cache_folder

BASE_COLUMNS = ("session_id", "label", "start_s", "end_s")
#: Extractor columns that are not model inputs as such: the video input column is chosen per run
#: (`VIDEO_INPUT_COLUMN`; pixels decoded by `datasets` or from the frame cache), token ids only
#: matter to the text encoder that ran already.
NOT_READ = ("frames", "frame_embeddings", "input_ids")
#: `model.video.input` -> the dataset column holding it (next to `frame_times`, `frame_available`).
VIDEO_INPUT_COLUMN: dict[str, str] = {"embeddings": "frame_embeddings", "pixels": "frames"}
#: modality -> the dataset columns the model reads, those of the extractor serving it (the registry).
MODALITY_COLUMNS = {
    modality: tuple(c for c in extractor.columns if c not in NOT_READ)
    for modality, extractor in modality_extractors().items()
}


def causal_token_ends(ends: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each real token placed no earlier than the tokens before it (a running maximum of end times).

    The text encoder is causal over tokens, so token i carries what tokens < i said; were it pooled
    to an earlier step than a preceding token that ends later (overlapping alignments), that step
    would hear a word before it was spoken. Special and padding tokens keep their -1.
    """
    running = torch.cummax(torch.where(mask, ends, torch.full_like(ends, -math.inf)), dim=0).values
    return torch.where(mask, running, ends)


class DatasetFormatError(ValueError):
    """The dataset folder does not hold what docs/contracts.md promises."""


def load_splits(data_dir: Path, video_input: VideoInput) -> Any:
    """`datasets.load_dataset(folder)` with the three splits and the features checked.

    The video input column (`frame_embeddings` or `frames`) is required only for the input a run
    reads: a dataset published with `features.extractors.frames.store: embeddings` has no frames.
    """
    from datasets import load_dataset

    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DatasetFormatError(f"{data_dir}: no such dataset folder")
    # The split files are named (the published layout, `data/<split>-*`) so that their modification
    # times enter `datasets`' cache key: from the folder alone the key is the card's configs only,
    # and a dataset rebuilt in place, or any folder of the same name, would be read back stale.
    patterns = {s: f"data/{s}-*" for s in SPLITS}
    missing = [s for s, pattern in patterns.items() if not any(data_dir.glob(pattern))]
    if missing:
        raise DatasetFormatError(f"{data_dir}: missing split(s) {missing}: no data/<split>-* files")
    splits = load_dataset(str(data_dir), data_files=patterns)
    features = splits["train"].features
    needed = set(BASE_COLUMNS).union(*MODALITY_COLUMNS.values(), {VIDEO_INPUT_COLUMN[video_input]})
    absent = sorted(needed - set(features))
    if absent:
        hint = ""
        if VIDEO_INPUT_COLUMN[video_input] in absent:
            other = "pixels" if video_input == "embeddings" else "embeddings"
            hint = (f" (model.video.input is {video_input!r}: publish the dataset with features.extractors.frames.store "
                    f"{'embeddings' if video_input == 'embeddings' else 'frames'} or both, or train with "
                    f"--set model.video.input={other})")
        raise DatasetFormatError(f"{data_dir}: missing column(s) {absent}{hint}")
    names = list(getattr(features["label"], "names", []))
    if names != list(CLASSES):
        raise DatasetFormatError(f"{data_dir}: label must be ClassLabel{list(CLASSES)}, got {features['label']}")
    return splits


def text_width(splits: Any) -> int:
    """H of the stored token embeddings (384 MiniLM, 768 bert-base)."""
    return int(splits["train"].features["token_embeddings"].shape[1])


def frame_embedding_width(splits: Any) -> int:
    """D of the stored frame embeddings (1280 EfficientNet-Lite0, 2048 ResNet-50)."""
    return int(splits["train"].features["frame_embeddings"].shape[1])


def n_steps_of(duration_s: float, step_s: float) -> int:
    return max(1, math.ceil(duration_s / step_s - 1e-6))


class SessionDataset(TorchDataset):
    """One split as tensors. Video (`video_input`): the stored frame embeddings, or pixels from
    `frame_cache` when given, else decoded by `datasets`."""

    def __init__(
        self,
        split: Any,
        modalities: tuple[str, ...],
        step_s: float,
        frame_cache: FrameCache | None,
        in_memory: bool = False,
        *,
        video_input: VideoInput = "pixels",
    ) -> None:
        if video_input == "embeddings" and frame_cache is not None:
            raise ValueError("a frame cache holds pixels; video input `embeddings` reads none")
        columns = list(BASE_COLUMNS) + [c for m in modalities for c in MODALITY_COLUMNS[m]]
        if "video" in modalities and frame_cache is None:
            columns.append(VIDEO_INPUT_COLUMN[video_input])
        self.video_input = video_input
        self.embedding_dim = (
            int(split.features["frame_embeddings"].shape[1]) if video_input == "embeddings" and "video" in modalities else 0
        )
        self.rows = split.select_columns(columns).with_format(
            "torch", columns=[c for c in columns if c != "session_id"], output_all_columns=True
        )
        self.modalities = modalities
        self.step_s = step_s
        self.frame_cache = frame_cache
        # Items are only read, never changed in place (collate copies them into padded batches).
        self.memory: dict[int, dict[str, Any]] | None = {} if in_memory else None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self.memory is None:
            return self._read(int(index))
        if int(index) not in self.memory:
            self.memory[int(index)] = self._read(int(index))
        return self.memory[int(index)]

    def _read(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        item: dict[str, Any] = {
            "session_id": row["session_id"],
            "label": int(row["label"]),
            "n_steps": n_steps_of(float(row["end_s"] - row["start_s"]), self.step_s),
        }
        if "audio" in self.modalities:
            item["mfcc"] = row["mfcc"].float().reshape(-1, 40)
        if "video" in self.modalities and self.video_input == "embeddings":
            # float16 as stored (half the host memory and transfer); the encoder works in float32.
            # A session without frames reads back as an empty tensor of no width: give it (0, D).
            item["frame_embeddings"] = row["frame_embeddings"].to(torch.float16).reshape(-1, self.embedding_dim)
        elif "video" in self.modalities:
            frames = self.frame_cache.frames(index) if self.frame_cache is not None else row["frames"]
            if not isinstance(frames, torch.Tensor):  # a session with no frames decodes to an empty list
                frames = torch.zeros(0, 3, 1, 1, dtype=torch.uint8)
            item["frames"] = frames
        if "video" in self.modalities:
            item["frame_times"] = row["frame_times"].float().reshape(-1)
            item["frame_available"] = row["frame_available"].bool().reshape(-1)
        if "text" in self.modalities:
            item["tokens"] = row["token_embeddings"]
            mask = (row["attention_mask"] > 0) & (row["token_start_s"] >= 0) & (row["token_end_s"] >= 0)
            item["token_end_s"] = causal_token_ends(row["token_end_s"].float(), mask)
            item["token_mask"] = mask
        return item


def _pad(seqs: list[torch.Tensor], fill: float | bool = 0) -> torch.Tensor:
    longest = max(1, *(s.shape[0] for s in seqs))
    out = torch.full((len(seqs), longest, *seqs[0].shape[1:]), fill, dtype=seqs[0].dtype)
    for i, s in enumerate(seqs):
        out[i, : s.shape[0]] = s
    return out


def collate(items: list[dict[str, Any]]) -> Batch:
    """Pad every sequence to the batch's longest; masks are False on padding."""
    first = items[0]
    fields: dict[str, Any] = {
        "labels": torch.tensor([it["label"] for it in items], dtype=torch.long),
        "n_steps": torch.tensor([it["n_steps"] for it in items], dtype=torch.long),
        "session_ids": tuple(it["session_id"] for it in items),
    }
    if "mfcc" in first:
        mfcc = [it["mfcc"] for it in items]
        fields["mfcc"] = _pad(mfcc)
        fields["mfcc_mask"] = _pad([torch.ones(m.shape[0], dtype=torch.bool) for m in mfcc], False)
    if "frame_embeddings" in first:
        fields["frame_embeddings"] = _pad([it["frame_embeddings"] for it in items])
    if "frames" in first:
        sizes = {tuple(it["frames"].shape[1:]) for it in items if it["frames"].shape[0]}
        if len(sizes) > 1:
            raise DatasetFormatError(f"frames of different sizes in one batch: {sorted(sizes)}")
        shape = sizes.pop() if sizes else (3, 1, 1)
        frames = [it["frames"] if it["frames"].shape[0] else torch.zeros(0, *shape, dtype=torch.uint8) for it in items]
        fields["frames"] = _pad(frames)
    if "frame_times" in first:
        fields["frame_times"] = _pad([it["frame_times"] for it in items])
        fields["frame_mask"] = _pad([it["frame_available"] for it in items], False)
    if "tokens" in first:
        fields["tokens"] = torch.stack([it["tokens"] for it in items])
        fields["token_end_s"] = torch.stack([it["token_end_s"] for it in items])
        fields["token_mask"] = torch.stack([it["token_mask"] for it in items])
    return Batch(**fields)


def session_datasets(
    data_dir: Path,
    modalities: tuple[str, ...],
    step_s: float,
    video: VideoEncoderConfig,
    cache_root: Path | None,
    in_memory: bool = False,
) -> tuple[dict[str, SessionDataset], int]:
    """The three splits and the text width, video read as `video.input` says.

    `embeddings`: the stored frame embeddings, whose width must be `video.embedding_dim`.
    `pixels`: frames below 224 px come from the frame cache (built once), 224-px ones are decoded
    by `datasets`. `in_memory` keeps every decoded training and validation session after its
    first read: on a small dataset trained for many short epochs, decoding the Parquet rows again
    each epoch costs as much as the model.
    """
    splits = load_splits(data_dir, video.input)
    reads_video = "video" in modalities
    if reads_video and video.input == "embeddings" and frame_embedding_width(splits) != video.embedding_dim:
        raise DatasetFormatError(
            f"{data_dir}: frame_embeddings are {frame_embedding_width(splits)}-dim but model.video.embedding_dim is "
            f"{video.embedding_dim}; set --set model.video.embedding_dim={frame_embedding_width(splits)}"
        )
    out: dict[str, SessionDataset] = {}
    for name in SPLITS:
        cache = None
        if reads_video and video.input == "pixels" and video.frame_size != 224:
            root = cache_root if cache_root is not None else Path(data_dir).resolve().parent / ".cache" / "edu_emotionnet"
            size = video.frame_size
            cache = build_frame_cache(splits[name], cache_folder(root, Path(data_dir), size), name, size)
        # The test split is read once (test and robustness score each batch together): keeping it
        # would only hold the whole split in memory.
        keep = in_memory and name != "test"
        out[name] = SessionDataset(splits[name], modalities, step_s, cache, keep, video_input=video.input)
    return out, text_width(splits)
