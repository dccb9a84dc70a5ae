"""Raw media as a model input: a learning platform's recording becomes the features the dataset holds.

A platform has a video with sound (MP4, AVI, ...) or a WAV plus perhaps a separate video, and
perhaps a transcript. The features are computed by the dataset's own extractors, those that wrote
the columns the run reads (`model.inputs`), with the settings the run's dataset was built with
(the dataset card's recorded build configuration, read by `stages.card`, or a pipeline YAML), in
their causal form (`FeatureExtractor.extract_causal`: running normalisation for MFCC and eGeMAPS,
each word piece embedded from the transcript prefix heard by its step, frames as extracted), so
the prediction at step t depends on the recording up to the end of step t only. `predict` on
media is one loop over those extractors: a feature added as a plugin with a causal form needs
nothing here. The row then goes through `SessionDataset` (and the frame cache below 224 px) like a
training row, so pixels and masks are derived by the very code the model was trained on.

The whole recording is one session: window [0, duration), duration = the audio's length (the
video's when there is no audio). A modality the input lacks (no audio or video stream, no
transcript) is passed as missing; the model masks it. A plain-text transcript has no word times;
its words are spread evenly over the duration (the result says so), because untimed tokens are
masked and would never reach a causal model.

Left as is: media at another sample rate than the dataset's are resampled (librosa / ffmpeg)
with a linear-phase filter, whose few samples of lookahead are not compensated.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from edu_affect_data.media.frames import REGIONS
from edu_affect_data.media.probe import BrokenMediaError, MediaProbe, probe_media
from edu_affect_data.stages.features.extractor import ExtractorError
from edu_affect_data.stages.features.frames import FramesOptions
from edu_affect_data.stages.features.registry import column_owner
from edu_affect_data.stages.features.text import CausalFeatureError, TextOptions
from edu_emotionnet.batch import step_of
from edu_emotionnet.data import DatasetBuild, DatasetFormatError, dataset_build, n_steps_of
from edu_emotionnet.inputs import ModelInputs
from edu_emotionnet.run_dataset import DatasetNotFound, Warn, locate_dataset, tell

if TYPE_CHECKING:
    from edu_emotionnet.config import VideoInput
    from edu_emotionnet.streaming import StepOutput, StreamingPredictor

#: A session id for the recording, used in messages and as the item's id.
MEDIA_SESSION = "media"


class MediaInputError(ValueError):
    """Media, transcript or settings that cannot be turned into model input; the message names the file."""


@dataclass(frozen=True)
class MediaSession:
    """One recording as a model input item (`SessionDataset` form) plus what was missing or assumed."""

    item: dict[str, Any]
    duration_s: float
    modalities_present: tuple[str, ...]
    notes: tuple[str, ...]


def media_settings(data_dir: Path | None, pipeline: Path | None = None, text_model: str | None = None) -> DatasetBuild:
    """Feature parameters: a pipeline YAML when given, else the dataset card's recorded build configuration.

    `text_model` replaces `features.extractors.text.model` (a model kept at another path on this machine).
    """
    if pipeline is not None:
        from edu_affect_data.config import load_config

        config = load_config(pipeline)
        build = DatasetBuild(config.features, config.gaps, str(pipeline), config.media)
    else:
        if data_dir is None:
            raise MediaInputError("no dataset known for this run: pass --data DATASET or --pipeline PIPELINE.yaml")
        try:
            build = dataset_build(Path(data_dir))
        except DatasetFormatError as exc:
            raise MediaInputError(
                f"{exc}; the feature parameters (fps, MFCC, text model, max_tokens, dtype) are unknown: pass --pipeline PIPELINE.yaml"
            ) from exc
    if text_model is not None:
        text = build.features.options_of("text", TextOptions).model_copy(update={"model": text_model})
        build = replace(build, features=build.features.model_copy(update={"extractors": {**build.features.extractors, "text": text}}))
    return build


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
    settings: DatasetBuild,
    inputs: ModelInputs,
    workdir: Path,
    *,
    step_s: float,
    video: Path | None = None,
    transcript: Path | None = None,
    region: str = "full",
) -> tuple[dict[str, Any], Any, float, tuple[str, ...], tuple[str, ...]]:
    """The recording as one dataset row (the columns of `inputs` and their companions), their
    `datasets` features, its duration, the modalities present, and notes.

    Each input column comes from the extractor that wrote it in the dataset (`column_owner`), run on
    the recording as one session with the dataset's settings, in its causal form
    (`FeatureExtractor.extract_causal`: what step t holds depends on the media up to the end of
    step t only, steps of `step_s`); a modality the input lacks gets the extractor's `missing` values.
    `region` is the speaker's part of the picture (`media.frames.REGIONS`), cut by the build's own
    video pass exactly as a dataset session of that region is.
    """
    import soundfile as sf

    from edu_affect_data.config import PipelineConfig
    from edu_affect_data.stages.features.extractor import SessionInput
    from edu_affect_data.stages.features.schema import extractor_features, metadata_features, select
    from edu_emotionnet.data import BASE_COLUMNS

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
            audio_path = _extract_audio(media, _audio_rate(settings, inputs), workdir)
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
                video_path, MEDIA_SESSION, (region,), VideoThresholds.from_config(settings.gaps),
                ProxySpec(settings.media.proxy_height, settings.media.proxy_crf), workdir / "video",
            )[region]  # fmt: skip
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
        video_region=region,
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
    declared = dict(select(metadata_features(), BASE_COLUMNS))
    text_width = inputs.width("text") if "text" in inputs.specs else None
    n_steps = n_steps_of(duration, step_s)
    present = []
    for modality, spec in inputs.specs.items():
        try:
            extractor = column_owner(spec.column, list(config.extractors))
        except ExtractorError as exc:
            raise MediaInputError(f"{settings.source}: {exc}") from exc
        options = extractor.settings(pipeline)
        expected = extractor_features(extractor, options, width=text_width)
        declared.update(expected)
        if not available.get(modality, False):
            row.update(extractor.missing(options, expected))
            continue
        try:
            values = extractor.extract_causal(session, options, step_of=lambda times: grid_steps(times, step_s, n_steps))
        except (ExtractorError, CausalFeatureError) as exc:
            raise MediaInputError(str(exc)) from exc
        _check_widths(extractor.name, values, expected)
        row.update({column: values[column] for column in expected})  # the columns its settings write
        present.append(modality)
    from datasets import Features

    return row, Features(declared), float(duration), tuple(present), tuple(notes)


#: The rate an audio track is decoded at when the audio input's extractor names none (extractors resample).
DECODE_RATE = 16000


def _audio_rate(settings: DatasetBuild, inputs: ModelInputs) -> int:
    """The sample rate of the extractor writing the audio input (`sample_rate` of its options), else `DECODE_RATE`."""
    if "audio" not in inputs.specs:
        return DECODE_RATE
    owner = column_owner(inputs["audio"].column, list(settings.features.extractors))
    return int(getattr(settings.features.extractors[owner.name], "sample_rate", DECODE_RATE))


def grid_steps(times: np.ndarray, step_s: float, n_steps: int) -> np.ndarray:
    """The model's step grid (`batch.step_of`) for an extractor's causal form: session seconds -> steps."""
    return step_of(torch.from_numpy(np.asarray(times, dtype=np.float32)), step_s, n_steps).numpy()


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
    settings: DatasetBuild,
    *,
    inputs: ModelInputs,
    step_s: float,
    frame_size: int,
    video_input: VideoInput,
    video: Path | None = None,
    transcript: Path | None = None,
    region: str = "full",
) -> MediaSession:
    """The recording as the item `SessionDataset` would give for it, over the run's `inputs`: video as
    the run reads it (`video_input`: frame embeddings from the dataset's embedder, or frames at the
    run's `frame_size`)."""
    import pyarrow as pa
    from datasets import Dataset

    from edu_emotionnet.data import SessionDataset
    from edu_emotionnet.frame_cache import build_frame_cache

    for path in (media, video, transcript):
        if path is not None and not Path(path).is_file():
            raise MediaInputError(f"{path}: no such file")
    if region not in REGIONS:
        raise MediaInputError(f"--region {region!r}: one of {', '.join(REGIONS)}")
    modalities = tuple(inputs.specs)
    if "video" in modalities:  # the frames extractor writes the columns of the run's video input
        store = "embeddings" if video_input == "embeddings" else "frames"
        frames = settings.features.options_of("frames", FramesOptions).model_copy(update={"store": store})
        settings = replace(settings, features=settings.features.model_copy(
            update={"extractors": {**settings.features.extractors, "frames": frames}}))
    with tempfile.TemporaryDirectory(prefix="edu-media-") as tmp:
        workdir = Path(tmp)
        row, features, duration, present, notes = media_row(
            media, settings, inputs, workdir, step_s=step_s, video=video, transcript=transcript, region=region
        )
        encoded = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in features.encode_example({c: row[c] for c in features}).items()}
        split = Dataset(pa.Table.from_pylist([encoded], schema=features.arrow_schema))
        cache = None
        if "video" in modalities and video_input == "pixels" and frame_size != 224 and row["frames"]:
            cache = build_frame_cache(split, workdir / "frames", "media", frame_size)
        item = SessionDataset(split, modalities, step_s, cache, inputs=inputs, video_input=video_input)[0]
    return MediaSession(item, duration, present, notes)


#: A picture at least this many times as wide as it is high is taken for two pictures side by side.
SIDE_BY_SIDE_ASPECT = 2.0


def side_by_side(path: Path) -> str:
    """Why the video at `path` looks like two speakers side by side, or "" when it does not.

    As the data side knows it: a file named like a recording of a corpus whose videos are side by
    side (`CorpusPlugin.video_layout_of`: IEMOCAP's dialogs, 720x480, only 1.5:1); else by its
    shape, at least `SIDE_BY_SIDE_ASPECT`:1.
    """
    from edu_affect_data.corpora.registry import layout_from_name

    named = layout_from_name(path)
    if named is not None and named[1] == "side_by_side":
        return f"named like a recording of corpus {named[0]}, whose videos show two speakers side by side"
    stream = probe(path).video
    if stream is not None and stream.width >= SIDE_BY_SIDE_ASPECT * stream.height:
        return f"{stream.width}x{stream.height} is at least {SIDE_BY_SIDE_ASPECT:g}:1, like two pictures side by side"
    return ""


def media_dataset(run_dir: Path, configured: Path | None, data: Path | None, pipeline: Path | None, warn: Warn | None) -> Path | None:
    """The dataset whose card gives the feature parameters: `--data`, else the run's own
    (`run_dataset.locate_dataset`); None when `pipeline` gives them and no dataset is found."""
    try:
        found = locate_dataset(run_dir, configured, data)
    except DatasetNotFound as exc:
        if pipeline is not None and data is None:
            return None
        raise MediaInputError(f"{exc}{'' if data is not None else ' or --pipeline PIPELINE.yaml'}") from exc
    tell(warn, found.warning)
    return found.path


def stream_media(
    run_dir: Path,
    media: Path,
    *,
    video: Path | None = None,
    transcript: Path | None = None,
    data: Path | None = None,
    pipeline: Path | None = None,
    text_model: str | None = None,
    region: str | None = None,
    warn: Warn | None = None,
) -> tuple[MediaSession, DatasetBuild, StreamingPredictor, list[StepOutput]]:
    """`edu-data predict RUN MEDIA`: a recording through the streaming predictor, step by step.

    `region`: the speaker's part of the picture; None is the whole picture, with a warning to
    `warn` when the video looks like two speakers side by side (`side_by_side`).
    """
    from edu_emotionnet.streaming import StreamingPredictor, stream_item

    predictor = StreamingPredictor(run_dir)
    model = predictor.config.model
    settings = media_settings(media_dataset(run_dir, predictor.config.data, data, pipeline, warn), pipeline, text_model)
    picture = video if video is not None else media
    if region is None and "video" in predictor.model.inputs.specs and probe(picture).video is not None:
        reason = side_by_side(picture)
        if reason:
            tell(warn, f"{picture}: {reason}; without --region the model sees both halves (both people): pass "
                       "--region left or right for the speaker's half, or --region full to keep the whole picture")
    session = media_session(
        media, settings, inputs=predictor.model.inputs, step_s=model.step_s, frame_size=model.video.frame_size,
        video_input=model.video.input, video=video, transcript=transcript, region=region or "full",
    )
    if region in ("left", "right") and "audio" in session.modalities_present:
        session = replace(session, notes=(*session.notes, f"picture: the {region} half only; audio: the whole track (every voice in it)"))
    return session, settings, predictor, stream_item(predictor, session.item)
