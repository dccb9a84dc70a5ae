"""Corpus-derived names never become path parts: odd ids keep their files inside their own folder.

Issue 20: a MOSEI video id `..` wrote its proxy and frame table into `OUT/manifest/` instead of
`manifest/video/<id>/`. Here the tiny corpus's MOSEI video is read under the ids `..`, `.`, with
slashes, a NUL byte and a leading dot, and measured by the real video pass: every file it writes
lies in `manifest/video/<path_part(id)>/`, and the sessions point there. Feature parts and
annotation clips, the other places a session id becomes a file name, are checked the same way.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from edu_affect_data.annotation.clips import clip_path
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.names import path_part
from edu_affect_data.corpora.mosei import read_mosei
from edu_affect_data.corpora.records import CorpusManifest
from edu_affect_data.media.options import GapsConfig
from edu_affect_data.stages.candidates import SessionsConfig, build_sessions
from edu_affect_data.stages.features.parts import session_part_path
from edu_affect_data.stages.gaps import assess_corpora

VIDEO = "bvU_i4y-wa4"
ODD_IDS = ("..", ".", "a/b", "../../escape", "nul\x00id", ".hidden")
#: Kinds of fault covered: odd recording ids through the video pass, odd session ids as part and clip names.
FAULT_KINDS = 2


@pytest.mark.slow
def test_odd_recording_ids_write_only_inside_their_own_video_folder(tiny_corpora: Path, tmp_path: Path) -> None:
    read = read_mosei(tiny_corpora / "CMU_MOSEI")
    recording = read.recordings[VIDEO]
    units = [u for u in read.utterances if u.recording_id == VIDEO]
    manifest = CorpusManifest(
        "mosei",
        read.root,
        {rid: replace(recording, recording_id=rid) for rid in ODD_IDS},
        [replace(u, recording_id=rid, utterance_id=f"{rid}#{i}") for rid in ODD_IDS for i, u in enumerate(units)],
    )
    sessions = build_sessions(manifest, SessionsConfig())
    assert {s.source_id for s in sessions} == set(ODD_IDS)
    paths = BuildPaths(tmp_path / "out")
    media_files: list[Path] = []
    [verdicts] = assess_corpora(
        [(sessions, manifest)], GapsConfig(), min_s=20.0, media_dir=paths.video_dir, media_files=media_files
    )
    folders = {rid: paths.video_dir / path_part(rid) for rid in ODD_IDS}
    written = [p for p in paths.out.rglob("*") if p.is_file()]
    assert written and media_files
    for path in written:
        assert path.parent in folders.values(), path  # nothing in manifest/, out/ or beyond
    for session, verdict in zip(sessions, verdicts, strict=True):
        assert verdict.media is not None, session.session_id
        assert verdict.media.proxy_path.parent == folders[session.source_id]
        assert verdict.media.frames_path.parent == folders[session.source_id]
    assert sorted(p.name for p in paths.video_dir.iterdir()) == sorted(folders[rid].name for rid in ODD_IDS)


@pytest.mark.parametrize("session_id", [f"mosei:{rid}:mosei_{rid}:000" for rid in ODD_IDS])
def test_feature_parts_and_clips_of_an_odd_session_id_stay_in_their_folder(session_id: str, tmp_path: Path) -> None:
    part = session_part_path(tmp_path / "features" / "mfcc", session_id, "d1g3st")
    assert part.parent == tmp_path / "features" / "mfcc" and part.name.endswith("--d1g3st.parquet")
    for suffix in (".mp4", ".txt"):
        clip = clip_path(tmp_path / "media", session_id, suffix)
        assert clip.parent == tmp_path / "media" / "clips" and clip.suffix == suffix
        assert not clip.name.startswith(".")
