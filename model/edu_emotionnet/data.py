"""The published dataset as padded, masked batches (docs/contracts.md, "Dataset features").

Rows come from `datasets.load_dataset(folder)`, reading only the columns the model's modalities
need, a batch at a time: the DataLoader asks `SessionDataset.__getitems__` for a batch's indices,
whose rows are read from the memory-mapped Arrow table column by column (`columns.ArrowRows`: one
numpy array per column, cut into per-session views), equal to what `datasets`' per-row torch
formatter gives, at a fraction of its cost (bench/loader_speed.py). Video is read as `model.video.input` says: `embeddings` reads the
stored `frame_embeddings` (float16, D per frame) and never touches a pixel; `pixels` reads the
JPEG frames, decoded by `datasets` (full-size configs, in DataLoader workers) or from the
down-scaled frame cache (CPU configs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from edu_affect_data.core.vocabulary import SPLITS
from edu_affect_data.media.options import GapsConfig, MediaConfig
from edu_affect_data.stages.features.extractor import ExtractorError
from edu_affect_data.stages.features.options import FeaturesConfig
from edu_affect_data.stages.features.registry import column_owner, known_names
from edu_emotionnet.batch import Batch
from edu_emotionnet.columns import ArrowRows, TakenColumn
from edu_emotionnet.config import CLASSES, ModelConfig, VideoInput
from edu_emotionnet.frame_cache import FrameCache, build_frame_cache, cache_folder
from edu_emotionnet.inputs import InputsConfig, InputSpec, ModelInputs

BASE_COLUMNS = ("session_id", "label", "start_s", "end_s")
#: The columns read beside each modality's input column: frame times and availability, token times and mask.
COMPANION_COLUMNS: dict[str, tuple[str, ...]] = {
    "audio": (),
    "video": ("frame_times", "frame_available"),
    "text": ("attention_mask", "token_start_s", "token_end_s"),
}


def input_column(modality: str, inputs: InputsConfig, video_input: VideoInput) -> str:
    """The dataset column feeding `modality`'s encoder: `model.inputs`, pixels from `frames`."""
    if modality == "video" and video_input == "pixels":
        return "frames"
    return str(getattr(inputs, modality))


def model_columns(modalities: tuple[str, ...], inputs: InputsConfig, video_input: VideoInput) -> dict[str, tuple[str, ...]]:
    """modality -> the dataset columns its encoder reads: the input column, then its companions."""
    return {m: (input_column(m, inputs, video_input), *COMPANION_COLUMNS[m]) for m in modalities}


def causal_token_ends(ends: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each real token (last dimension: one session, or a batch of them) placed no earlier than the tokens before it (a running maximum of end times).

    The text encoder is causal over tokens, so token i carries what tokens < i said; were it pooled
    to an earlier step than a preceding token that ends later (overlapping alignments), that step
    would hear a word before it was spoken. Special and padding tokens keep their -1.
    """
    running = torch.cummax(torch.where(mask, ends, torch.full_like(ends, -math.inf)), dim=-1).values
    return torch.where(mask, running, ends)


class DatasetFormatError(ValueError):
    """The dataset folder does not hold what docs/contracts.md promises."""


@dataclass(frozen=True)
class DatasetBuild:
    """How a dataset's features were made, from its card's recorded build configuration: the extractors
    with their options (those registered here), the usable-frame rule and the video pass settings."""

    features: FeaturesConfig
    gaps: GapsConfig
    source: str
    media: MediaConfig = field(default_factory=MediaConfig)


def dataset_build(data_dir: Path) -> DatasetBuild:
    """The build configuration recorded in `data_dir/README.md` (`stages.card.build_config_from_card`).

    Extractors not registered here (a plugin not installed) are left out: their columns cannot be
    model inputs on this machine anyway.
    """
    from edu_affect_data.stages.card import build_config_from_card

    card = Path(data_dir) / "README.md"
    if not card.is_file():
        raise DatasetFormatError(f"{card}: no dataset card, so how the features were made is unknown")
    try:
        built = build_config_from_card(card.read_text(encoding="utf-8"))
        recorded = (built.get("features") or {}).get("extractors") or {}
        features = FeaturesConfig.model_validate({"extractors": {n: o for n, o in recorded.items() if n in known_names()}})
        return DatasetBuild(features, GapsConfig.model_validate(built.get("gaps", {})), str(card),
                            MediaConfig.model_validate(built.get("media", {})))
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetFormatError(f"{card}: {' '.join(str(exc).split())}") from exc


def load_splits(data_dir: Path, columns: dict[str, tuple[str, ...]]) -> Any:
    """`datasets.load_dataset(folder)` with the three splits and the features checked: the base columns
    and `columns` (modality -> the columns its encoder reads, `model_columns`) must be there."""
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
    needed = set(BASE_COLUMNS).union(*columns.values())
    absent = sorted(needed - set(features))
    if absent:
        hints = []
        video = columns.get("video", ("",))[0]
        if video in absent:
            other = "pixels" if video != "frames" else "embeddings"
            hints.append(f"model.video.input reads {video!r}: publish the dataset with features.extractors.frames.store "
                         f"{'frames' if video == 'frames' else 'embeddings'} or both, or train with --set model.video.input={other}")
        for modality in ("audio", "text"):
            if modality in columns and columns[modality][0] in absent:
                hints.append(f"model.inputs.{modality} is {columns[modality][0]!r}: build the dataset with its extractor "
                             f"or set model.inputs.{modality} to a column it has")
        raise DatasetFormatError(f"{data_dir}: missing column(s) {absent}" + (f" ({'; '.join(hints)})" if hints else ""))
    names = list(getattr(features["label"], "names", []))
    if names != list(CLASSES):
        raise DatasetFormatError(f"{data_dir}: label must be ClassLabel{list(CLASSES)}, got {features['label']}")
    return splits


def column_width(feature: Any, column: str) -> int:
    """Values per element of a per-element column: an `Array2D`'s second dimension, 1 for a plain sequence."""
    shape = getattr(feature, "shape", None)
    if shape is not None and len(shape) == 2 and shape[1] is not None:
        return int(shape[1])
    if hasattr(feature, "feature") and not hasattr(feature.feature, "feature"):  # Sequence(Value): one number per element
        return 1
    raise DatasetFormatError(f"column {column!r} is {feature!r}: a model input is an Array2D (elements x width) or a sequence of numbers")


def dataset_inputs(data_dir: Path, splits: Any, model: ModelConfig, modalities: tuple[str, ...] | None = None) -> ModelInputs:
    """Each read modality's column (the model's unless `modalities` says), width (from the dataset's
    features) and frame period (from the extractor that wrote it, with the settings the card records)."""
    features = splits["train"].features
    columns = model_columns(model.modalities if modalities is None else modalities, model.inputs, model.video.input)
    specs: dict[str, InputSpec] = {}
    for modality, (column, *_) in columns.items():
        if modality == "video" and model.video.input == "pixels":
            specs[modality] = InputSpec(column, 3)  # RGB frames: the frame CNN decides its width
            continue
        width = column_width(features[column], column)
        period = None
        if modality == "audio":
            build = dataset_build(data_dir)
            try:
                owner = column_owner(column, list(build.features.extractors))
            except ExtractorError as exc:
                raise DatasetFormatError(f"{build.source}: {exc} (is its plugin installed?)") from exc
            from edu_affect_data.config import PipelineConfig

            period = owner.period_s(owner.settings(PipelineConfig(features=build.features, gaps=build.gaps)), column)
            if period is None:
                raise DatasetFormatError(f"{data_dir}: column {column!r} (extractor {owner.name!r}) declares no frame period, "
                                         "so it cannot be the audio input (model.inputs.audio)")
        specs[modality] = InputSpec(column, width, period)
    return ModelInputs(specs)


def n_steps_of(duration_s: float, step_s: float) -> int:
    return max(1, math.ceil(duration_s / step_s - 1e-6))


class SessionDataset(TorchDataset):
    """One split as tensors, each modality read from the column `inputs` names. Video (`video_input`):
    the stored frame embeddings, or pixels from `frame_cache` when given, else decoded by `datasets`."""

    def __init__(
        self,
        split: Any,
        modalities: tuple[str, ...],
        step_s: float,
        frame_cache: FrameCache | None,
        in_memory: bool = False,
        *,
        inputs: ModelInputs,
        video_input: VideoInput = "pixels",
    ) -> None:
        if video_input == "embeddings" and frame_cache is not None:
            raise ValueError("a frame cache holds pixels; video input `embeddings` reads none")
        self.inputs = inputs
        read = {m: (inputs[m].column, *COMPANION_COLUMNS[m]) for m in modalities}
        if "video" in modalities and frame_cache is not None:
            read["video"] = COMPANION_COLUMNS["video"]  # the pixels come from the cache
        columns = list(BASE_COLUMNS) + [c for m in modalities for c in read[m]]
        self.video_input = video_input
        # The Arrow-backed rows (no format: `rows[name]` is a column); batches are taken from its table.
        self.rows = split.select_columns(columns)
        # Pixels without a cache are JPEGs that `datasets` decodes, one session at a time.
        self.pixels = (
            split.select_columns(["frames"]).with_format("torch")
            if "video" in modalities and video_input == "pixels" and frame_cache is None
            else None
        )
        self.modalities = modalities
        self.step_s = step_s
        self.frame_cache = frame_cache
        # Items are only read, never changed in place (a fresh item is a view of its padded batch).
        self.memory: dict[int, dict[str, Any]] | None = {} if in_memory else None
        # The table's columns as numpy views, and its session ids, from the first read on.
        self.columns: tuple[ArrowRows, list[str]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["columns"] = None  # views of this process's memory map: a DataLoader worker builds its own
        return state

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([int(index)])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """The items of `indices` (what the DataLoader asks for a batch). Read from Arrow together, they
        come as `SessionItems`, which carry their padded batch, so `collate` copies nothing again."""
        indices = [int(i) for i in indices]
        if self.memory is None:
            return self._read(indices)
        unread = list(dict.fromkeys(i for i in indices if i not in self.memory))
        if unread:  # kept compact: a view would hold its whole padded batch
            read = self._read(unread)
            self.memory.update((i, {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in item.items()})
                               for i, item in zip(unread, read, strict=True))
        return [self.memory[i] for i in indices]

    def _read(self, indices: list[int]) -> SessionItems:
        if self.columns is None:
            table = self.rows.data.table
            numeric = [c for c in self.rows.column_names if c not in ("session_id", "frames")]
            self.columns = ArrowRows(table, numeric), table.column("session_id").to_pylist()
        arrow, session_ids = self.columns
        mapping = self.rows._indices  # a split that was `select`ed or shuffled reads its rows through this
        rows = indices if mapping is None else mapping.column(0).to_numpy()[indices].tolist()
        embeddings = self.inputs["video"].column if "video" in self.modalities and self.video_input == "embeddings" else None
        taken = arrow.take(rows, keep_float16=(embeddings,) if embeddings else ())
        frames = None
        if "video" in self.modalities and self.video_input == "pixels":
            frames = [self.frame_cache.frames(i) if self.frame_cache is not None else self._pixels(i) for i in indices]
            frames = [f if isinstance(f, torch.Tensor) else torch.zeros(0, 3, 1, 1, dtype=torch.uint8) for f in frames]
        return self._assemble(taken, tuple(session_ids[r] for r in rows), frames)

    def _pixels(self, index: int) -> Any:
        assert self.pixels is not None, "pixels are read from the frame cache"
        return self.pixels[index]["frames"]

    def _assemble(self, taken: dict[str, TakenColumn], session_ids: tuple[str, ...], frames: list[torch.Tensor] | None) -> SessionItems:
        """The padded batch of these rows (columns as `datasets`' torch formatter types them) and its items.

        An item is what `collate` pads: `session_id`, `label`, `n_steps`, then per modality `audio`
        (frames, width); `frame_embeddings` (float16 as stored: half the host memory and transfer;
        the encoder works in float32) or `frames` (uint8 pixels); `frame_times`, `frame_available`;
        `tokens`, `token_end_s` (`causal_token_ends`), `token_mask`.
        """
        def tensor(name: str) -> torch.Tensor:
            return torch.from_numpy(taken[name].values)

        count = len(session_ids)
        duration = taken["end_s"].values - taken["start_s"].values  # float32, as the formatter gave them
        fields: dict[str, Any] = {
            "labels": tensor("label"),
            "n_steps": torch.tensor([n_steps_of(float(d), self.step_s) for d in duration], dtype=torch.long),
            "session_ids": session_ids,
        }
        lengths: dict[str, np.ndarray] = {}
        if "audio" in self.modalities:
            audio = self.inputs["audio"]
            fields["audio"] = tensor(audio.column).float().reshape(count, -1, audio.width)
            lengths["audio"] = taken[audio.column].lengths  # type: ignore[assignment]
            fields["audio_mask"] = torch.arange(fields["audio"].shape[1]) < torch.from_numpy(lengths["audio"])[:, None]
        if "video" in self.modalities:
            if frames is None:
                video = self.inputs["video"]
                fields["frame_embeddings"] = tensor(video.column).to(torch.float16).reshape(count, -1, video.width)
                lengths["frame_embeddings"] = taken[video.column].lengths  # type: ignore[assignment]
            else:
                fields["frames"] = pad_frames(frames)
            fields["frame_times"] = tensor("frame_times").float()
            fields["frame_mask"] = tensor("frame_available").bool()
            lengths["frame_times"] = taken["frame_times"].lengths  # type: ignore[assignment]
        if "text" in self.modalities:
            fields["tokens"] = tensor(self.inputs["text"].column)
            mask = (tensor("attention_mask") > 0) & (tensor("token_start_s") >= 0) & (tensor("token_end_s") >= 0)
            fields["token_end_s"] = causal_token_ends(tensor("token_end_s").float(), mask)
            fields["token_mask"] = mask
        batch = Batch(**fields)
        items = []
        for k in range(count):
            item: dict[str, Any] = {"session_id": session_ids[k], "label": int(batch.labels[k]), "n_steps": int(batch.n_steps[k])}
            if batch.audio is not None:
                item["audio"] = batch.audio[k, : lengths["audio"][k]]
            if batch.frame_embeddings is not None:
                item["frame_embeddings"] = batch.frame_embeddings[k, : lengths["frame_embeddings"][k]]
            if frames is not None:
                item["frames"] = frames[k]
            if batch.frame_times is not None and batch.frame_mask is not None:
                item["frame_times"] = batch.frame_times[k, : lengths["frame_times"][k]]
                item["frame_available"] = batch.frame_mask[k, : lengths["frame_times"][k]]
            if batch.tokens is not None and batch.token_end_s is not None and batch.token_mask is not None:
                item["tokens"], item["token_end_s"], item["token_mask"] = batch.tokens[k], batch.token_end_s[k], batch.token_mask[k]
            items.append(item)
        return SessionItems(items, batch)


class SessionItems(list):  # type: ignore[type-arg]
    """Items read together (a list, as torch's `__getitems__` promises), with their padded batch."""

    def __init__(self, items: list[dict[str, Any]], batch: Batch) -> None:
        super().__init__(items)
        self.batch = batch


def _pad(seqs: list[torch.Tensor], fill: float | bool = 0) -> torch.Tensor:
    longest = max(1, *(s.shape[0] for s in seqs))
    out = torch.empty((len(seqs), longest, *seqs[0].shape[1:]), dtype=seqs[0].dtype)
    for i, s in enumerate(seqs):  # each element written once: the values, then the padding
        out[i, : s.shape[0]] = s
        out[i, s.shape[0] :] = fill
    return out


def pad_frames(frames: list[torch.Tensor]) -> torch.Tensor:
    """(B, F, 3, S, S) uint8: sessions' frames padded; one without frames takes the others' size."""
    sizes = {tuple(f.shape[1:]) for f in frames if f.shape[0]}
    if len(sizes) > 1:
        raise DatasetFormatError(f"frames of different sizes in one batch: {sorted(sizes)}")
    shape = sizes.pop() if sizes else (3, 1, 1)
    return _pad([f if f.shape[0] else torch.zeros(0, *shape, dtype=torch.uint8) for f in frames])


def collate(items: list[dict[str, Any]]) -> Batch:
    """Pad every sequence to the batch's longest; masks are False on padding. Items read together
    from the dataset (`SessionItems`) already hold their padded batch."""
    if isinstance(items, SessionItems):
        return items.batch
    first = items[0]
    fields: dict[str, Any] = {
        "labels": torch.tensor([it["label"] for it in items], dtype=torch.long),
        "n_steps": torch.tensor([it["n_steps"] for it in items], dtype=torch.long),
        "session_ids": tuple(it["session_id"] for it in items),
    }
    if "audio" in first:
        audio = [it["audio"] for it in items]
        fields["audio"] = _pad(audio)
        fields["audio_mask"] = _pad([torch.ones(a.shape[0], dtype=torch.bool) for a in audio], False)
    if "frame_embeddings" in first:
        fields["frame_embeddings"] = _pad([it["frame_embeddings"] for it in items])
    if "frames" in first:
        fields["frames"] = pad_frames([it["frames"] for it in items])
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
    model: ModelConfig,
    cache_root: Path | None,
    in_memory: bool = False,
    *,
    modalities: tuple[str, ...] | None = None,
) -> tuple[dict[str, SessionDataset], ModelInputs]:
    """The three splits, read as `model` says (its modalities unless `modalities` names others,
    `model.inputs`, `model.video.input`), and the inputs they hold (`dataset_inputs`).

    `embeddings`: the stored frame embeddings, whose width must be `video.embedding_dim`.
    `pixels`: frames below 224 px come from the frame cache (built once), 224-px ones are decoded
    by `datasets`. `in_memory` keeps every decoded training and validation session after its
    first read: on a small dataset trained for many short epochs, decoding the Parquet rows again
    each epoch costs as much as the model.
    """
    video = model.video
    read = model.modalities if modalities is None else tuple(modalities)
    splits = load_splits(data_dir, model_columns(read, model.inputs, video.input))
    inputs = dataset_inputs(data_dir, splits, model, read)
    reads_video = "video" in read
    if reads_video and video.input == "embeddings" and inputs.width("video") != video.embedding_dim:
        raise DatasetFormatError(
            f"{data_dir}: {inputs['video'].column} are {inputs.width('video')}-dim but model.video.embedding_dim is "
            f"{video.embedding_dim}; set --set model.video.embedding_dim={inputs.width('video')}"
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
        out[name] = SessionDataset(splits[name], read, model.step_s, cache, keep, inputs=inputs, video_input=video.input)
    return out, inputs
