"""Raw media as a model input: a learning platform's recording becomes the features the dataset holds.

A platform has a video with sound (MP4, AVI, ...) or a WAV plus perhaps a separate video, and
perhaps a transcript. The features are computed by the dataset's own code (`session_mfcc`,
`extract_frames` with region `full`, `TextEncoder`) with the parameters the run's dataset was
built with, read from the dataset card's recorded build configuration (or a pipeline YAML), in
their causal form (`causal_features`: running MFCC normalisation, each word piece embedded from
the transcript prefix heard by its step), so the prediction at step t depends on the recording up
to the end of step t only, where the dataset's session-level features would let it see the whole
session. The row then goes through
`SessionDataset` (and the frame cache below 224 px) like a training row, so pixels and masks are
derived by the very code the model was trained on.

The whole recording is one session: window [0, duration), duration = the audio's length (the
video's when there is no audio). A modality the input lacks (no audio or video stream, no
transcript) is passed as missing; the model masks it. A plain-text transcript has no word times;
its words are spread evenly over the duration (the result says so), because untimed tokens are
masked and would never reach a causal model.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edu_affect_data.media.options import GapsConfig, MediaConfig
from edu_affect_data.media.probe import BrokenMediaError, MediaProbe, probe_media
from edu_affect_data.stages.features.frames import FramesOptions
from edu_affect_data.stages.features.mfcc import MfccOptions
from edu_affect_data.stages.features.options import FeaturesConfig
from edu_affect_data.stages.features.registry import DEFAULT_EXTRACTORS
from edu_affect_data.stages.features.text import TextOptions

if TYPE_CHECKING:
    from edu_emotionnet.config import VideoInput
    from edu_emotionnet.streaming import StepOutput

#: The card section holding the build's configuration as JSON (`edu_affect_data.stages.card.render_card`).
CARD_CONFIG = re.compile(r"^## How it was built\s*$.*?^```json\s*$(.*?)^```\s*$", re.S | re.M)
#: A session id for the recording, used in messages and as the item's id.
MEDIA_SESSION = "media"


class MediaInputError(ValueError):
    """Media, transcript or settings that cannot be turned into model input; the message names the file."""


@dataclass(frozen=True)
class MediaSettings:
    """The feature parameters of the run's dataset, and where they were read."""

    features: FeaturesConfig
    gaps: GapsConfig
    source: str
    #: The build's one video pass settings (proxy height and quality): a prediction's frames are made alike.
    media: MediaConfig = field(default_factory=MediaConfig)


@dataclass(frozen=True)
class MediaSession:
    """One recording as a model input item (`SessionDataset` form) plus what was missing or assumed."""

    item: dict[str, Any]
    duration_s: float
    modalities_present: tuple[str, ...]
    notes: tuple[str, ...]


def media_settings(data_dir: Path | None, pipeline: Path | None = None, text_model: str | None = None) -> MediaSettings:
    """Feature parameters: a pipeline YAML when given, else the JSON block of the dataset card.

    `text_model` replaces `features.extractors.text.model` (a model kept at another path on this machine).
    """
    if pipeline is not None:
        from edu_affect_data.config import load_config

        config = load_config(pipeline)
        features, gaps, media, source = config.features, config.gaps, config.media, str(pipeline)
    else:
        if data_dir is None:
            raise MediaInputError("no dataset known for this run: pass --data DATASET or --pipeline PIPELINE.yaml")
        card = Path(data_dir) / "README.md"
        if not card.is_file():
            raise MediaInputError(f"{card}: no dataset card; pass --pipeline PIPELINE.yaml (the build's config)")
        found = CARD_CONFIG.search(card.read_text(encoding="utf-8"))
        if found is None:
            raise MediaInputError(
                f"{card}: the card records no build configuration (no '## How it was built' JSON block), so the "
                "feature parameters (fps, MFCC, text model, max_tokens, dtype) are unknown; pass --pipeline PIPELINE.yaml"
            )
        try:
            built = json.loads(found.group(1))
            # The model reads the built-in extractors only: plugin extractors (maybe not installed
            # here) and their options are not needed to rebuild its inputs; one the build did not
            # run gets its defaults (its modality is absent from the dataset anyway).
            recorded = built["features"].get("extractors") or {}
            features = FeaturesConfig.model_validate(
                {"extractors": {name: recorded.get(name) for name in DEFAULT_EXTRACTORS}}
            )
            gaps = GapsConfig.model_validate(built["gaps"])
            media = MediaConfig.model_validate(built.get("media", {}))  # cards before the one pass: defaults
        except (ValueError, KeyError, TypeError) as exc:
            raise MediaInputError(f"{card}: the recorded build configuration is unreadable: {exc}") from exc
        source = str(card)
    if text_model is not None:
        text = features.options_of("text", TextOptions).model_copy(update={"model": text_model})
        features = features.model_copy(update={"extractors": {**features.extractors, "text": text}})
    return MediaSettings(features, gaps, source, media)


def probe(path: Path) -> MediaProbe:
    """Streams and duration of a recording (`edu_affect_data.media.probe`); `MediaInputError` names an unreadable file."""
    try:
        return probe_media(path)
    except BrokenMediaError as exc:
        raise MediaInputError(f"{path}: not a media file ffmpeg can read ({exc.detail})") from exc


def read_transcript(path: Path) -> tuple[list[tuple[str, float, float]], bool]:
    """Words of a transcript file and whether they carry times.

    Word-timed when the first non-empty line is `start end word` (seconds); then every line must
    be. Otherwise the whole file is plain text, split on whitespace.
    """
    lines = [(n, line.split()) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.strip()]
    if not lines or not _timed(lines[0][1]):
        return [(word, -1.0, -1.0) for _, fields in lines for word in fields], False
    words = []
    for number, fields in lines:
        if not _timed(fields):
            raise MediaInputError(f"{path}:{number}: expected 'start end word' like the lines before, got {' '.join(fields)!r}")
        start, end = float(fields[0]), float(fields[1])
        if start < 0 or end < start:
            raise MediaInputError(f"{path}:{number}: word times must satisfy 0 <= start <= end, got {start} {end}")
        words.append((" ".join(fields[2:]), start, end))
    return sorted(words, key=lambda w: w[1]), True


def _timed(fields: list[str]) -> bool:
    try:
        float(fields[0]), float(fields[1])
    except (ValueError, IndexError):
        return False
    return len(fields) >= 3


def spread_evenly(words: Sequence[str], duration_s: float) -> list[tuple[str, float, float]]:
    """Word i of n spans [i, i+1) * duration / n: untimed words still arrive over the recording."""
    span = duration_s / max(len(words), 1)
    return [(word, i * span, (i + 1) * span) for i, word in enumerate(words)]


def _extract_audio(path: Path, sample_rate: int, folder: Path) -> Path:
    """The audio track as mono float WAV at the dataset's sample rate."""
    from imageio_ffmpeg import get_ffmpeg_exe

    out = folder / "audio.wav"
    command = [get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(path), "-vn", "-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_f32le", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MediaInputError(f"{path}: ffmpeg could not extract the audio track: {result.stderr.strip()}")
    return out


def media_row(
    media: Path,
    settings: MediaSettings,
    text_dim: int,
    workdir: Path,
    *,
    step_s: float,
    video: Path | None = None,
    transcript: Path | None = None,
) -> tuple[dict[str, Any], float, tuple[str, ...], tuple[str, ...]]:
    """The recording as one dataset row (published columns), its duration, modalities present, notes.

    Each modality's columns come from the extractor serving it (`features.registry`), run on the
    recording as one session with the dataset's settings, in their causal form (`causal_values`:
    what step t holds depends on the media up to the end of step t only, `step_s` wide); a
    modality the input lacks gets the extractor's `missing` values.
    """
    import soundfile as sf

    from edu_affect_data.config import PipelineConfig
    from edu_affect_data.stages.features.extractor import SessionInput
    from edu_affect_data.stages.features.registry import modality_extractors
    from edu_affect_data.stages.features.schema import extractor_features

    config, notes = settings.features, []
    found = probe(media)
    video_path = video if video is not None else (media if found.video is not None else None)
    if video is not None and probe(video).video is None:
        raise MediaInputError(f"{video}: has no video stream")
    audio_path: Path | None = None
    if found.audio is not None:
        # A file soundfile reads is used as is (as the dataset build reads corpus audio); anything else is decoded by ffmpeg.
        try:
            sf.info(str(media))
            audio_path = media
        except (RuntimeError, sf.LibsndfileError):
            audio_path = _extract_audio(media, config.options_of("mfcc", MfccOptions).sample_rate, workdir)
        info = sf.info(str(audio_path))
        duration = info.frames / info.samplerate
    else:
        duration_probe = probe(video_path).duration_s if video_path is not None else None
        if duration_probe is None:
            raise MediaInputError(f"{media}: no audio stream and no video duration: nothing to predict from")
        duration = duration_probe
        notes.append("no audio stream: audio passed as missing")
    if video_path is None:
        notes.append("no video stream: video passed as missing")
    words: list[tuple[str, float, float]] = []
    if transcript is not None:
        words, timed = read_transcript(transcript)
        if not timed:
            words = spread_evenly([w for w, _, _ in words], duration)
            notes.append(f"{transcript}: no word times; {len(words)} words spread evenly over {duration:.2f} s")
    else:
        notes.append("no transcript: text passed as missing")
    proxied: dict[str, Any] = {}
    if video_path is not None:  # the build's one video pass, so the frames are made like the dataset's
        from edu_affect_data.media.store import pass_recording
        from edu_affect_data.media.timelines import VideoThresholds
        from edu_affect_data.media.video_pass import ProxySpec

        try:
            proxied = pass_recording(
                video_path, MEDIA_SESSION, ("full",), VideoThresholds.from_config(settings.gaps),
                ProxySpec(settings.media.proxy_height, settings.media.proxy_crf), workdir / "video",
            )["full"]  # fmt: skip
        except BrokenMediaError as exc:
            raise MediaInputError(str(exc)) from exc
    session = SessionInput(
        session_id=MEDIA_SESSION,
        corpus="media",
        source_id=str(media),
        start_s=0.0,
        end_s=float(duration),
        audio_path=None if audio_path is None else str(audio_path),
        video_path=None if video_path is None else str(video_path),
        video_region="full",
        text=" ".join(w for w, _, _ in words),
        words=tuple(words),
        **proxied,
    )
    available = {"audio": audio_path is not None, "video": video_path is not None, "text": transcript is not None}
    pipeline = PipelineConfig(features=config, gaps=settings.gaps)
    row: dict[str, Any] = {
        "session_id": MEDIA_SESSION,
        "label": -1,  # unlabelled (datasets' ClassLabel convention)
        "start_s": 0.0,
        "end_s": float(duration),
    }
    present = []
    for modality, extractor in modality_extractors().items():
        options = extractor.settings(pipeline)
        expected = extractor_features(extractor, options, width=text_dim)
        if not available.get(modality, False):
            row.update(extractor.missing(options, expected))
            continue
        values = causal_values(extractor, session, options, step_s)
        _check_widths(extractor.name, values, expected)
        row.update({column: values[column] for column in expected})  # the columns its settings write
        present.append(modality)
    return row, float(duration), tuple(present), tuple(notes)


#: Extractors whose values are causal as extracted: per frame, each judged against earlier frames only.
CAUSAL_AS_EXTRACTED = frozenset({"frames"})


def causal_values(extractor: Any, session: Any, options: Any, step_s: float) -> dict[str, Any]:
    """One extractor's columns for the recording, in causal form (`edu_emotionnet.causal_features`):
    running MFCC normalisation, text embedded from the words heard so far, frames as extracted.

    An extractor with no known causal form is an error: its session-level values would let the
    prediction at step t depend on media after step t.
    """
    from edu_affect_data.stages.features.mfcc import read_window
    from edu_affect_data.stages.features.text import TextEncoder, transcript_of
    from edu_emotionnet.causal_features import CausalFeatureError, causal_mfcc, causal_text_features
    from edu_emotionnet.data import n_steps_of

    if extractor.name == "mfcc":
        samples = read_window(Path(session.audio_path), session.start_s, session.end_s, options.sample_rate)
        return {"mfcc": causal_mfcc(samples, options)}
    if extractor.name == "text":
        try:
            return causal_text_features(TextEncoder(options), transcript_of(session), step_s, n_steps_of(session.duration_s, step_s))
        except CausalFeatureError as exc:
            raise MediaInputError(str(exc)) from exc
    if extractor.name in CAUSAL_AS_EXTRACTED:
        values: dict[str, Any] = extractor.extract_batch([session], options)[0]
        extractor.close()
        return values
    raise MediaInputError(
        f"feature extractor {extractor.name!r} ({extractor.modality}) has no causal form for streaming: its values for "
        f"step t could depend on the media after t; known causal extractors: mfcc, text, {', '.join(sorted(CAUSAL_AS_EXTRACTED))}"
    )


def _check_widths(name: str, values: dict[str, Any], expected: Any) -> None:
    """Matrices as wide as the run was trained on (a different text model gives other embeddings)."""
    from datasets import Array2D

    for column, feature in expected.items():
        if isinstance(feature, Array2D) and feature.shape[1] is not None:
            width = np.asarray(values[column]).shape[1]
            if width != feature.shape[1]:
                raise MediaInputError(
                    f"extractor {name!r} gives {width}-dim {column} but the run was trained on {feature.shape[1]}-dim "
                    "ones; pass --text-model with the dataset's text model"
                )


def media_session(
    media: Path,
    settings: MediaSettings,
    *,
    modalities: tuple[str, ...],
    step_s: float,
    frame_size: int,
    video_input: VideoInput,
    text_dim: int,
    video: Path | None = None,
    transcript: Path | None = None,
) -> MediaSession:
    """The recording as the item `SessionDataset` would give for it: video as the run reads it
    (`video_input`: frame embeddings from the dataset's embedder, or frames at the run's `frame_size`)."""
    import pyarrow as pa
    from datasets import Dataset

    from edu_affect_data.config import PipelineConfig
    from edu_affect_data.stages.features.registry import modality_extractors
    from edu_affect_data.stages.features.schema import dataset_features, select
    from edu_emotionnet.data import BASE_COLUMNS, SessionDataset
    from edu_emotionnet.frame_cache import build_frame_cache

    for path in (media, video, transcript):
        if path is not None and not Path(path).is_file():
            raise MediaInputError(f"{path}: no such file")
    store = "embeddings" if video_input == "embeddings" else "frames"
    frames = settings.features.options_of("frames", FramesOptions).model_copy(update={"store": store})
    features_config = settings.features.model_copy(update={"extractors": {**settings.features.extractors, "frames": frames}})
    settings = MediaSettings(features_config, settings.gaps, settings.source, settings.media)
    with tempfile.TemporaryDirectory(prefix="edu-media-") as tmp:
        workdir = Path(tmp)
        row, duration, present, notes = media_row(media, settings, text_dim, workdir, step_s=step_s, video=video, transcript=transcript)
        declared = dataset_features(PipelineConfig(features=settings.features, gaps=settings.gaps), text_dim)  # `frames` writes the columns of its `store`
        columns = [*BASE_COLUMNS, *(c for e in modality_extractors().values() for c in e.columns if c in declared)]
        features = select(declared, columns)
        encoded = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in features.encode_example({c: row[c] for c in features}).items()}
        split = Dataset(pa.Table.from_pylist([encoded], schema=features.arrow_schema))
        cache = None
        if "video" in modalities and video_input == "pixels" and frame_size != 224 and row["frames"]:
            cache = build_frame_cache(split, workdir / "frames", "media", frame_size)
        item = SessionDataset(split, modalities, step_s, cache, video_input=video_input)[0]
    return MediaSession(item, duration, present, notes)


def stream_media(
    run_dir: Path,
    media: Path,
    *,
    video: Path | None = None,
    transcript: Path | None = None,
    data: Path | None = None,
    pipeline: Path | None = None,
    text_model: str | None = None,
) -> tuple[MediaSession, MediaSettings, list[StepOutput]]:
    """`edu-data predict RUN MEDIA`: a recording through the streaming predictor, step by step."""
    from edu_emotionnet.streaming import StreamingPredictor, session_steps

    predictor = StreamingPredictor(run_dir)
    model = predictor.config.model
    settings = media_settings(data or predictor.config.data, pipeline, text_model)
    session = media_session(
        media, settings, modalities=tuple(predictor.modalities), step_s=model.step_s,
        frame_size=model.video.frame_size, video_input=model.video.input, text_dim=predictor.text_dim, video=video, transcript=transcript,
    )
    return session, settings, [predictor.step(f) for f in session_steps(session.item, model.step_s)]
