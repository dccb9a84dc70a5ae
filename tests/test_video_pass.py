"""The one video pass: chunked classification equals one pass, chunks never cut a session, reruns resume."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from edu_affect_data.corpora.records import Recording
from edu_affect_data.media.options import GapsConfig, MediaConfig
from edu_affect_data.media.sampling import proxy_frames
from edu_affect_data.media.store import pass_recording, read_frames
from edu_affect_data.media.timelines import BrokenMediaError, VideoThresholds
from edu_affect_data.media.video_pass import (
    ChunkFrames,
    ChunkJob,
    ProxySpec,
    plan_chunks,
    scan_chunk,
    stitch,
)
from edu_affect_data.stages import gaps as gaps_module
from edu_affect_data.stages.candidates import SessionsConfig, build_sessions
from edu_affect_data.stages.features.frames import FramesOptions
from edu_affect_data.stages.gaps import assess_sessions
from tests.ingest_media import (
    VideoFault,
    alternating_units,
    manifest_of,
    write_avi,
    write_mp4_with_jump,
    write_wav,
)

THRESHOLDS = VideoThresholds.from_config(GapsConfig())
REGIONS = ("left", "right")
#: Frozen on the left across the boundary at 6 s for longer than the 1-s prime; black on the
#: right across 12 s; a short frozen stretch well inside the last chunk.
FAULTS = [
    VideoFault(3.0, 9.0, "left", "frozen"),
    VideoFault(11.0, 13.5, "right", "black"),
    VideoFault(15.0, 16.0, "left", "frozen"),
]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_avi(tmp_path_factory.mktemp("pass") / "dialog.avi", 20.0, FAULTS)


def _job(video: Path, index: int, start: float, end: float | None, prime: float) -> ChunkJob:
    return ChunkJob("dialog", video, REGIONS, index, start, end, prime, THRESHOLDS, None)


def test_chunks_stitch_to_exactly_the_single_pass(video: Path) -> None:
    whole = scan_chunk(_job(video, 0, 0.0, None, 0.0))
    spans = [(0.0, 6.0, 0.0), (6.0, 12.0, 5.0), (12.0, None, 11.0)]
    chunks = [scan_chunk(_job(video, k, a, b, p)) for k, (a, b, p) in enumerate(spans)]
    redone: list[tuple[int, float]] = []

    def reclassify(chunk: ChunkFrames, prime: float) -> ChunkFrames:
        redone.append((chunk.index, prime))
        a, b, _ = spans[chunk.index]
        return scan_chunk(_job(video, chunk.index, a, b, prime))

    stitched = stitch(chunks, reclassify)
    np.testing.assert_array_equal(stitched.pts, whole.pts)
    for region in REGIONS:
        assert stitched.kinds[region].tolist() == whole.kinds[region].tolist(), region
    # Both primes start inside a stretch that began before them (left frozen from 3 s, right black
    # from 11 s): only a re-classification from the single pass's reference (the last usable frame
    # before, at 2.9 s and 10.9 s) reaches its state.
    assert [index for index, _ in redone] == [1, 2]
    assert [prime for _, prime in redone] == pytest.approx([2.9, 10.9], abs=0.1)
    frozen = stitched.kinds["left"][(stitched.pts >= 3.05) & (stitched.pts < 8.95)]
    assert set(frozen.tolist()) == {"frozen"}


def test_plan_chunks_cuts_only_where_no_window_is() -> None:
    windows = [(0.0, 250.0), (240.0, 330.0), (335.0, 610.0), (600.0, 900.0), (905.0, 1300.0)]
    spans = plan_chunks(1300.0, windows, 300.0)
    cuts = [a for a, _ in spans[1:]]
    # 300 and 600 fall inside windows; the nearest free edges are 330 and, a chunk later, 905.
    assert cuts == [330.0, 905.0]
    assert spans[0][0] == 0.0 and spans[-1][1] is None
    assert [b for _, b in spans[:-1]] == cuts
    assert plan_chunks(400.0, windows, 300.0) == [(0.0, None)]  # under 1.5 chunks: one job


def _sessions(tmp_path: Path, video: Path):  # type: ignore[no-untyped-def]
    units = alternating_units("iemocap", "dialog", 20.0)
    recording = Recording("iemocap", "dialog", write_wav(tmp_path / "dialog.wav", 20.0), video, "side_by_side")
    manifest = manifest_of("iemocap", tmp_path, [(recording, units)])
    return build_sessions(manifest, SessionsConfig(min_s=2.0, target_s=4.0, max_s=6.0)), manifest


def test_ingest_in_chunks_gives_the_same_verdicts_and_resumes(
    tmp_path: Path, video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions, manifest = _sessions(tmp_path, video)
    one = assess_sessions(sessions, manifest, GapsConfig(), min_s=2.0, media=MediaConfig(chunk_s=1000.0), media_dir=tmp_path / "one")
    chunked_media = MediaConfig(chunk_s=5.0, prime_s=1.0)
    with ThreadPoolExecutor(2) as pool:
        chunked = assess_sessions(sessions, manifest, GapsConfig(), min_s=2.0, executor=pool, media=chunked_media, media_dir=tmp_path / "many")
    assert [(v.status, v.reason) for v in chunked] == [(v.status, v.reason) for v in one]
    assert {v.status for v in one} >= {"kept", "gap"}
    proxies = {v.media.proxy_path for v in chunked if v.media is not None}
    assert len(proxies) > len(REGIONS)  # several chunks per region
    for session, verdict in zip(sessions, chunked, strict=True):
        assert verdict.media is not None and verdict.media.proxy_path.is_file()
        assert verdict.media.proxy_start_s <= session.start_s
    frames_one = read_frames(one[0].media.frames_path, "left")  # type: ignore[union-attr]
    frames_many = read_frames(chunked[0].media.frames_path, "left")  # type: ignore[union-attr]
    np.testing.assert_array_equal(frames_many.pts, frames_one.pts)
    np.testing.assert_array_equal(frames_many.usable, frames_one.usable)

    # The features read the chunk proxies like the single one: same frames, same availability.
    video_cfg = FramesOptions(fps=5.0, size=64)
    for session, a, b in zip(sessions, one, chunked, strict=True):
        assert a.media is not None and b.media is not None
        frames = [
            proxy_frames(m.proxy_path, m.proxy_start_s, read_frames(m.frames_path, session.video_region), session.start_s, session.end_s, video_cfg)
            for m in (a.media, b.media)
        ]
        np.testing.assert_array_equal(frames[0].available, frames[1].available)
        for x, y in zip(frames[0].jpegs, frames[1].jpegs, strict=True):
            pixels = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR).astype(int) for j in (x, y)]
            assert np.abs(pixels[0] - pixels[1]).mean() < 2.0

    def no_decoding(job: ChunkJob) -> ChunkFrames:
        raise AssertionError(f"chunk {job.index} decoded again")

    monkeypatch.setattr(gaps_module, "scan_chunk", no_decoding)
    with ThreadPoolExecutor(2) as pool:
        again = assess_sessions(sessions, manifest, GapsConfig(), min_s=2.0, executor=pool, media=chunked_media, media_dir=tmp_path / "many")
    assert again == chunked


def test_a_broken_chunk_names_the_file(tmp_path: Path) -> None:
    garbage = tmp_path / "broken.avi"
    garbage.write_bytes(b"RIFF" + bytes(range(256)) * 8)
    with pytest.raises(BrokenMediaError, match=r"undecodable video .*broken\.avi"):
        scan_chunk(_job(garbage, 0, 0.0, None, 0.0))


def test_a_proxy_after_a_timestamp_jump_shows_the_frame_of_each_time(tmp_path: Path) -> None:
    """Seeking a variable-rate proxy must land on the frame whose timestamp is wanted, not a later one."""
    mp4 = write_mp4_with_jump(tmp_path / "jump.mp4", 40.0, jump_at_s=15.0, jump_s=3.0)
    columns = pass_recording(mp4, "jump", ("full",), THRESHOLDS, ProxySpec(360, 18), tmp_path / "video")["full"]
    frames = read_frames(Path(str(columns["frames_path"])), "full")
    got = proxy_frames(
        Path(str(columns["proxy_path"])), float(columns["proxy_start_s"]), frames, 30.0, 36.0, FramesOptions(fps=1.0, size=64, jpeg_quality=95)
    )
    assert got.available.all()
    source = cv2.VideoCapture(str(mp4))
    times, pictures = [], []
    while source.grab():
        times.append(source.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
        pictures.append(cv2.resize(source.retrieve()[1], (64, 64), interpolation=cv2.INTER_AREA).astype(int))
    for k, jpeg in enumerate(got.jpegs):
        shown = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).astype(int)
        expected = int(np.searchsorted(times, 30.0 + k + 1e-6)) - 1  # the last source frame at or before
        near = range(expected - 3, expected + 4)
        # Each frame is fresh noise: the shown picture is far closer to its own source frame than to a neighbour.
        closest = min(near, key=lambda i: np.abs(shown - pictures[i]).mean())
        assert closest == expected, (k, closest, expected)


def _children() -> list[str]:
    """`pid name state` of this process's child processes (zombies included: a child never waited for)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == os.getpid():
            found.append(f"{stat.parent.name} {text[text.index('(') + 1 : text.rindex(')')]} {fields[0]}")
    return found


def test_an_interrupted_pass_kills_ffmpeg_and_removes_its_half_written_proxies(
    video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or SIGTERM unwinding a worker) mid-stream: no ffmpeg left blocked on its pipe, no temporary."""
    from edu_affect_data.media import video_pass

    judged = 0
    classify = video_pass.FrameClassifier.classify

    def interrupted(self: object, *args: object, **kwargs: object) -> object:
        nonlocal judged
        judged += 1
        if judged == 10:
            raise KeyboardInterrupt
        return classify(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(video_pass.FrameClassifier, "classify", interrupted)
    proxies = tuple((region, str(tmp_path / f"{region}.mp4")) for region in REGIONS)
    job = ChunkJob("dialog", video, REGIONS, 0, 0.0, None, 0.0, THRESHOLDS, ProxySpec(96, 30), proxies)
    before = _children()
    with pytest.raises(KeyboardInterrupt):
        scan_chunk(job)
    assert _children() == before  # ffmpeg killed and waited for
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither proxy nor temporary
