"""Built-in extractor `frames`: the video stream, as JPEG frames and/or frozen-network frame embeddings.

One extractor serves the video modality, so the model reads one column set whatever is stored;
`features.extractors.frames.store` decides which columns it writes (`column_sets`):

- `frames`: `frames` (JPEG), `frame_times`, `frame_available`; per session, in worker processes
  (`proxy_frames`), for users who fine-tune an image network on the pixels.
- `embeddings`: `frame_embeddings` (`Array2D((None, D), float16)`, the frame `embedder`),
  `frame_times`, `frame_available`; batched in the parent (the network on CUDA when present),
  sessions decoded by a thread pool while the model embeds (`embed_pipelined`).
- `both`: all four columns, each session decoded once for its JPEGs and its embeddings.

Every variant samples the same grid with the same availability (`proxy_frames`, the one rule
of `edu_affect_data.media.frames`), so `frame_times` and `frame_available` mean the same in all of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.media.options import GapsConfig
from edu_affect_data.media.sampling import SCALING, SessionFrames, VideoFeatureError, proxy_frames
from edu_affect_data.media.store import read_frames
from edu_affect_data.stages.features.embedder import (
    EmbedderIdentity,
    EmbedderOptions,
    ImageEmbedder,
    embed_pipelined,
    embedder_identity,
)
from edu_affect_data.stages.features.extractor import (
    FeatureExtractor,
    SessionInput,
    StepOf,
    matrix_of,
)

if TYPE_CHECKING:
    import datasets

#: Sessions per part when embeddings are stored (fixed, so a resumed run batches the same frames).
EMBED_CHUNK_SESSIONS = 16
JPEG_COLUMNS = ("frames", "frame_times", "frame_available")
EMBEDDING_COLUMNS = ("frame_embeddings", "frame_times", "frame_available")
BOTH_COLUMNS = ("frames", "frame_embeddings", "frame_times", "frame_available")


class FramesOptions(StrictModel):
    """`features.extractors.frames`: the frame grid, what is stored, and the frozen frame embedder."""

    fps: float = Field(30.0, gt=0, description="Frames kept per second (paper 30).")
    size: int = Field(224, gt=0, multiple_of=2, description="Square side of the stored JPEG frames, pixels (even: the "
                      "picture is scaled in 4:2:0).")
    crop: Literal["full", "face"] = Field("full", description="Full speaker region or a face-centred crop.")
    jpeg_quality: int = Field(90, ge=1, le=100, description="JPEG quality of stored frames (`store: frames` or `both`).")
    store: Literal["frames", "embeddings", "both"] = Field(
        "frames",
        description="What the video columns hold: `frames` (JPEG, for fine-tuning an image network), "
        "`embeddings` (`frame_embeddings` from `embedder`, what the paper's model reads) or `both`.",
    )
    embedder: EmbedderOptions = Field(default_factory=EmbedderOptions)


class FramesSettings(StrictModel):
    """What the video columns depend on, and nothing else (the part hash): changing one recomputes them.

    `video` is `features.extractors.frames` (its embedder section reset to the defaults when only JPEGs are
    stored, so embedder options never recompute JPEG parts), `gaps` the usable-frame rule, and
    `embedder` the network's identity with the SHA-256 of its weights, so new weights at the same
    path recompute the embeddings.
    """

    video: FramesOptions
    gaps: GapsConfig
    embedder: EmbedderIdentity | None = None
    #: How a proxy picture becomes a frame (`media.sampling.scaled_bgr`); part of the hash, so frames
    #: made the earlier way (converted to BGR, then resized) are recomputed, not mixed with these.
    scaling: str = SCALING


#: Embedders loaded by `extract_batch`, by settings JSON; emptied by `close()`.
_EMBEDDERS: dict[str, ImageEmbedder] = {}


class FramesExtractor(FeatureExtractor[FramesSettings]):
    """Built-in `frames`: the speaker's region on a regular grid as JPEG and/or embeddings, with times and availability."""

    name = "frames"
    options = FramesOptions
    columns = BOTH_COLUMNS
    modality = "video"
    stats = ("face_fallbacks",)
    description = (
        "`frames`: the speaker's region at the `frames` extractor's `fps` as JPEG (stored with `store: frames|both`); "
        "`frame_embeddings`: one pooled vector per frame from a frozen ImageNet network (`store: "
        "embeddings|both`; see Frame embeddings below), zero for unavailable frames; `frame_times` are "
        "seconds from the session start; `frame_available` is False where the frame was missing, black or "
        "frozen (a black frame is stored)."
    )

    def column_sets(self) -> tuple[tuple[str, ...], ...]:
        return (JPEG_COLUMNS, EMBEDDING_COLUMNS, BOTH_COLUMNS)

    def settings(self, config: Any) -> FramesSettings:
        video: FramesOptions = config.features.extractors[self.name]
        if video.store == "frames":
            return FramesSettings(video=video.model_copy(update={"embedder": EmbedderOptions()}), gaps=config.gaps)
        return FramesSettings(video=video, gaps=config.gaps, embedder=embedder_identity(video.embedder))

    def runs_batched(self, settings: FramesSettings) -> bool:
        return settings.video.store != "frames"

    def chunk_size(self, settings: FramesSettings) -> int:
        return EMBED_CHUNK_SESSIONS

    def features(self, settings: FramesSettings, *, width: int | None = None) -> datasets.Features:
        """`width` is ignored: the embedding width is the configured network's (`settings.embedder`)."""
        from datasets import Array2D, Features, Image, Sequence, Value

        store = settings.video.store
        types: dict[str, Any] = {}
        if store in ("frames", "both"):
            types["frames"] = Sequence(Image())
        if store in ("embeddings", "both"):
            if settings.embedder is None:
                raise VideoFeatureError(f"features.extractors.frames.store={store!r} needs the embedder's identity in the settings")
            types["frame_embeddings"] = Array2D(shape=(None, settings.embedder.dim), dtype="float16")
        types["frame_times"] = Sequence(Value("float32"))
        types["frame_available"] = Sequence(Value("bool"))
        return Features(types)

    def extract(self, session: SessionInput, settings: FramesSettings) -> dict[str, Any]:
        if settings.video.store != "frames":
            return self.extract_batch([session], settings)[0]
        frames = _decode(session, settings, jpeg=True, pixels_size=None)
        return {
            "frames": [{"bytes": jpeg, "path": None} for jpeg in frames.jpegs],
            "frame_times": frames.times,
            "frame_available": frames.available,
            "face_fallbacks": frames.face_fallbacks,
        }

    def extract_batch(self, sessions: Sequence[SessionInput], settings: FramesSettings) -> list[dict[str, Any]]:
        """JPEG only: per session. With embeddings: decode threads feed the network, batched across sessions."""
        if settings.video.store == "frames":
            return [self.extract(session, settings) for session in sessions]
        embedder = _embedder(settings)
        jpeg = settings.video.store == "both"
        decoded: list[SessionFrames | None] = [None] * len(sessions)

        def decode(index: int) -> tuple[np.ndarray, np.ndarray]:
            frames = _decode(sessions[index], settings, jpeg=jpeg, pixels_size=embedder.identity.size)
            decoded[index] = replace(frames, pixels=None)  # the pixels go to the model only
            assert frames.pixels is not None
            return frames.pixels, frames.available

        vectors = embed_pipelined(range(len(sessions)), decode, embedder, settings.video.embedder.decode_threads)
        rows = []
        for frames, embeddings in zip(decoded, vectors, strict=True):
            assert frames is not None
            rows.append(_embedded_row(frames, embeddings, jpeg=jpeg))
        return rows

    def close(self) -> None:
        _EMBEDDERS.clear()

    def extract_causal(self, session: SessionInput, settings: FramesSettings, *, step_of: StepOf) -> dict[str, Any]:
        """Each frame is the picture shown at its time, judged available against the last usable frame
        before it; the usable frames of each step are embedded together, as their own batch, as a live
        stream can once the step ends.

        Not `extract_batch`'s packing: a batch holding the frames after step t too has a shape set by
        how many of them are usable, and the network's floats depend on the batch's shape (the CPU
        kernels block by it), so a frozen picture after t moved the embeddings before t by a float16
        ulp (measured: 4.9e-4, and 2.3e-6 in the probabilities of step 0).
        Here step t's embeddings are a function of step t's frames, bit for bit.
        """
        if settings.video.store == "frames":
            return self.extract(session, settings)
        embedder = _embedder(settings)
        jpeg = settings.video.store == "both"
        frames = _decode(session, settings, jpeg=jpeg, pixels_size=embedder.identity.size)
        assert frames.pixels is not None
        embeddings = np.zeros((len(frames.times), embedder.identity.dim), np.float16)
        steps = np.asarray(step_of(frames.times))
        for step in np.unique(steps):
            rows = np.flatnonzero((steps == step) & frames.available)
            if len(rows):
                embeddings[rows] = embedder.embed(frames.pixels[rows])
        self.close()
        return _embedded_row(replace(frames, pixels=None), embeddings, jpeg=jpeg)

    def missing(self, settings: FramesSettings, features: datasets.Features) -> dict[str, Any]:
        values: dict[str, Any] = {"frame_times": np.zeros(0, np.float32), "frame_available": np.zeros(0, bool)}
        if "frames" in features:
            values["frames"] = []
        if "frame_embeddings" in features:
            values["frame_embeddings"] = np.zeros((0, features["frame_embeddings"].shape[1]), np.float16)
        return values

    def check(self, row: Mapping[str, pa.Scalar], duration_s: float) -> Iterator[tuple[str, str]]:
        """Aligned lengths, increasing times inside the session, finite embeddings, zeros where unavailable."""
        times = np.asarray(row["frame_times"].as_py(), dtype=np.float64)
        available = np.asarray(row["frame_available"].as_py(), dtype=bool)
        lengths = {"frame_times": len(times), "frame_available": len(available)}
        if "frames" in row:
            lengths["frames"] = len(row["frames"])
        embeddings = None
        if "frame_embeddings" in row:
            embeddings = matrix_of(row["frame_embeddings"]).astype(np.float32)
            lengths["frame_embeddings"] = embeddings.shape[0]
        if len(set(lengths.values())) > 1:
            yield "shape", ", ".join(f"{n} {name}" for name, n in lengths.items())
        if len(times) and (
            not np.isfinite(times).all()
            or (np.diff(times) <= 0).any()
            or times[0] < 0
            or times[-1] > duration_s
        ):
            yield "timestamps", "frame_times are not finite, strictly increasing and inside the session"
        if embeddings is None or not embeddings.size:
            return
        if not np.isfinite(embeddings).all():
            yield "finite", f"frame_embeddings has {int((~np.isfinite(embeddings)).sum())} non-finite values"
        elif len(available) == embeddings.shape[0] and np.abs(embeddings[~available]).sum() > 0:
            yield "embeddings", "frame_embeddings of unavailable frames are not zero"


def _embedder(settings: FramesSettings) -> ImageEmbedder:
    """The embedder of `settings`, loaded once per settings until `close()`."""
    key = settings.model_dump_json()
    if key not in _EMBEDDERS:
        _EMBEDDERS[key] = ImageEmbedder(settings.video.embedder)
    return _EMBEDDERS[key]


def _embedded_row(frames: SessionFrames, embeddings: np.ndarray, *, jpeg: bool) -> dict[str, Any]:
    """The columns of one session whose frames were embedded (with their JPEGs when `jpeg`)."""
    row: dict[str, Any] = {
        "frame_embeddings": embeddings,
        "frame_times": frames.times,
        "frame_available": frames.available,
        "face_fallbacks": frames.face_fallbacks,
    }
    if jpeg:
        row["frames"] = [{"bytes": b, "path": None} for b in frames.jpegs]
    return row


def _decode(session: SessionInput, settings: FramesSettings, *, jpeg: bool, pixels_size: int | None) -> SessionFrames:
    """The session's frames through the one sampler (`proxy_frames`), from the ingest's proxy."""
    if session.proxy_path is None or session.frames_path is None or session.proxy_start_s is None:
        raise VideoFeatureError(
            f"session {session.session_id}: no proxy video in the sessions table (its video was not decoded, or "
            "the manifest predates the one video pass): run the ingest stage again"
        )
    return proxy_frames(
        Path(session.proxy_path),
        session.proxy_start_s,
        read_frames(Path(session.frames_path), session.video_region),
        session.start_s,
        session.end_s,
        settings.video,
        jpeg=jpeg,
        pixels_size=pixels_size,
    )
