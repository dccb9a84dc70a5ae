"""The planted phenomena of the `claims` profile (CMAA coincidences, TFL persistent state) and their
control: recorded in `synth_truth.json`, readable exactly as designed, and in the media where recorded.

Readability is checked the way a skeptical reader would: simple classifiers (sklearn logistic
regression, 5-fold cross-validation) on per-unit or per-step features computed from the recorded
event times and state values, against the label each unit really has (its speaker's latent class).
The unit's length carries a little class information of its own (the expressed phrases of each
class differ in length), so "uninformative" means "no better than the unit's length alone".
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

import edu_affect_data.synth.profiles as profiles
from edu_affect_data.build import run_build
from edu_affect_data.config import load_config
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.synth import synthesize
from edu_affect_data.synth.design import design_corpora
from edu_affect_data.synth.phenomena import (
    BAND_GREY,
    LIGHT_LEVELS,
    band_rows,
    class_of_coincidence,
    event_sound,
    state_corner,
    state_windows,
    unit_cue_features,
)
from edu_affect_data.synth.plan import RecordingPlan
from edu_affect_data.synth.profiles import (
    CLAIMS,
    DEMO,
    TINY,
    CmaaShape,
    Profile,
    TflShape,
    get_profile,
)
from edu_affect_data.synth.render import _regions, render_audio, render_frames
from edu_affect_data.synth.truth import truth_document
from edu_affect_data.synth.voice import SAMPLE_RATE

REPO = Path(__file__).resolve().parents[2]
#: Steps per session for the TFL check: the demo pipeline's 12-s sessions on the 1-s grid.
SESSION_STEPS = 12
#: Accuracy a feature set may gain over its reference and still count as "no better" (about three
#: standard errors of a cross-validated accuracy over the ~4,000 units of the claims plan).
SAME = 0.02


def control_of(profile: Profile, name: str) -> Profile:
    """`profile` with every phenomenon absent, the way `claims-control` is made from `claims`."""
    assert profile.cmaa is not None and profile.tfl is not None
    return dataclasses.replace(profile, name=name, noise=None, cmaa=dataclasses.replace(profile.cmaa, coupled=False),
                               tfl=dataclasses.replace(profile.tfl, coupled=False))


@pytest.fixture(scope="module")
def claims_plans() -> dict[str, dict[str, Any]]:
    """`synth_truth.json` of the claims corpus and of its control, from the plans (nothing rendered):
    about 4,000 units each, enough for the classifiers to tell a few points from chance."""
    out = {}
    for name in ("claims", "claims-control"):
        profile = get_profile(name)
        out[name] = truth_document(design_corpora(profile, 0), profile)
    return out


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    """The same for the demo's size (a few seconds): the demo with the claims' phenomena, and its control."""
    planted = dataclasses.replace(DEMO, name="demo-planted", cmaa=CLAIMS.cmaa, tfl=CLAIMS.tfl)
    return {name: truth_document(design_corpora(profile, 0), profile)
            for name, profile in (("claims", planted), ("claims-control", control_of(planted, "demo-control")))}


def test_claims_control_is_claims_with_every_phenomenon_absent() -> None:
    assert CLAIMS.noise is not None and CLAIMS.cmaa is not None and CLAIMS.tfl is not None
    assert CLAIMS.cmaa.coupled and CLAIMS.tfl.coupled
    assert get_profile("claims-control") == control_of(CLAIMS, "claims-control")


def _accuracy(features: np.ndarray, labels: np.ndarray) -> float:
    return float(cross_val_score(LogisticRegression(max_iter=2000), features, labels, cv=5).mean())


def test_truth_records_what_is_planted_and_the_control_differs_only_in_the_coding(documents: dict[str, dict[str, Any]]) -> None:
    planted, control = documents["claims"], documents["claims-control"]
    assert planted["planted"]["mie"] == {"present": True} and control["planted"]["mie"] == {"present": False}
    for name in ("cmaa", "tfl"):
        assert planted["planted"][name]["present"] and planted["planted"][name]["coupled"]
        assert not control["planted"][name]["present"] and control["planted"][name]["events"]
    assert planted["noise"] and not control["noise"]
    # Same sizes, same seed scheme: the same units, events and scatter; only the coded class differs.
    assert [u["id"] for u in planted["units"]] == [u["id"] for u in control["units"]]
    assert len(planted["coincidences"]) == len(control["coincidences"]) > 400
    moved = 0
    for a, b in zip(planted["coincidences"], control["coincidences"], strict=True):
        assert a["unit"] == b["unit"] and a["region"] == b["region"]
        assert sorted(e["start_s"] for e in a["events"]) == sorted(e["start_s"] for e in b["events"])
        moved += a["coded"] != b["coded"]
        for doc in (a, b):  # the coincident pair is the coded class's, the others lie apart
            (pair,) = [(x, y) for x in doc["events"] for y in doc["events"]
                       if x["modality"] == "audio" and y["modality"] == "video" and abs(x["start_s"] - y["start_s"]) <= 0.1 + 1e-9]
            assert class_of_coincidence(pair[0]["kind"], pair[1]["kind"]) == doc["coded"]
            apart = [abs(x["start_s"] - y["start_s"]) for x in doc["events"] for y in doc["events"]
                     if x["modality"] == "audio" and y["modality"] == "video" and (x, y) != pair]
            assert min(apart) >= 1.2 - 0.1 - 1e-9
    assert moved > len(planted["coincidences"]) / 2
    separation = planted["planted"]["tfl"]["separation"]
    for a, b in zip(planted["states"], control["states"], strict=True):
        assert (a["recording"], a["speaker"]) == (b["recording"], b["speaker"])
        scatter_a = np.array(a["values"]) - state_corner(a["coded"], separation)
        scatter_b = np.array(b["values"]) - state_corner(b["coded"], separation)
        np.testing.assert_allclose(scatter_a, scatter_b, atol=2e-4)
    latent = {(u["recording"], u["speaker"]): u["emotion"] for u in planted["units"]}
    assert all(s["coded"] == latent[(s["recording"], s["speaker"])] for s in planted["states"])


@pytest.mark.slow
def test_cmaa_cue_is_readable_only_from_the_coincidence_and_only_when_planted(claims_plans: dict[str, dict[str, Any]]) -> None:
    for name, present in (("claims", True), ("claims-control", False)):
        features, latent, coded = unit_cue_features(claims_plans[name])
        length_only = _accuracy(features["length"], latent)
        chance = max(float(np.mean(latent == c)) for c in set(latent))
        assert length_only < chance + 0.04, (name, length_only, chance)
        for modality in ("audio", "video"):
            assert _accuracy(features[modality], latent) < length_only + SAME, (name, modality)
        co = _accuracy(features["co"], latent)
        if present:  # units express the latent in their coincidence with the profile's 0.75
            assert co > length_only + 0.35, (name, co, length_only)
        else:
            assert co < length_only + SAME, (name, co, length_only)
    # On the control the coded class is independent of everything else: one modality's events say
    # nothing about it, their coincidence says all of it.
    features, _, coded = unit_cue_features(claims_plans["claims-control"])
    chance = max(float(np.mean(coded == c)) for c in set(coded))
    for modality in ("audio", "video"):
        assert _accuracy(features[modality], coded) < chance + 0.03, modality
    assert _accuracy(features["co"], coded) > 0.99


@pytest.mark.slow
def test_tfl_state_is_weak_per_step_and_strong_over_a_session_only_when_planted(claims_plans: dict[str, dict[str, Any]]) -> None:
    for name, present in (("claims", True), ("claims-control", False)):
        step, mean, labels = state_windows(claims_plans[name], SESSION_STEPS)
        assert len(labels) > 2000
        chance = max(float(np.mean(labels == c)) for c in set(labels))
        per_step, per_session = _accuracy(step, labels), _accuracy(mean, labels)
        if present:  # designed: 38 % per step, 72 % over 12 steps (profiles.TflShape)
            assert chance + 0.05 < per_step < chance + 0.2, (per_step, chance)
            assert per_session > 0.65 and per_session > per_step + 0.25, (per_session, per_step)
        else:
            assert per_step < chance + 0.04 and per_session < chance + 0.04, (per_step, per_session, chance)


# ------------------------------------------------------------------------------------ the media
PLANTED_TINY = dataclasses.replace(TINY, name="tiny-planted", cmaa=CmaaShape(), tfl=TflShape())


def _mosei_plan() -> RecordingPlan:
    """A MOSEI recording of the planted tiny profile without faults (they would hide what is checked)."""
    corpus = design_corpora(dataclasses.replace(PLANTED_TINY, fault_rounds=0, broken_files=False), 0)
    return next(r for r in corpus.mosei if r.coincidences)


def test_audio_events_are_in_the_wav_exactly_where_recorded() -> None:
    plan = _mosei_plan()
    bare = dataclasses.replace(plan, coincidences=[], states=[])
    difference = render_audio(plan, 0).astype(np.float64) - render_audio(bare, 0)
    expected = np.zeros_like(difference)
    for event in (e for c in plan.coincidences for e in c.events if e.modality == "audio"):
        i0, i1 = round(event.start_s * SAMPLE_RATE), round(event.end_s * SAMPLE_RATE)
        expected[i0:i1] += event_sound(event.kind, i1 - i0)
    np.testing.assert_allclose(difference, expected, atol=1e-6)
    assert np.count_nonzero(expected) > 0


def test_state_band_and_lights_are_in_the_frames_exactly_where_recorded() -> None:
    plan = _mosei_plan()
    bare = dataclasses.replace(plan, coincidences=[], states=[])
    (track,) = plan.states
    events = [e for c in plan.coincidences for e in c.events if e.modality == "video"]
    band = band_rows(plan.frame_size[1])
    columns = _regions(plan)["full"]
    lit = 0
    for (index, frame), (_, clean) in zip(render_frames(plan, 0), render_frames(bare, 0), strict=True):
        t = index / plan.fps
        value = track.values[min(int(t / track.step_s), len(track.values) - 1)]
        top = frame[:band, columns].astype(float).mean(axis=(0, 1))
        expected = np.clip(BAND_GREY + track.levels * value, 0, 255)
        assert abs(top[0] - expected[0]) < 3 and abs(top[2] - expected[1]) < 3, (t, top, expected)  # BGR; sensor noise +-4
        shift = frame[band:].astype(float).mean() - clean[band:].astype(float).mean()
        showing = [e for e in events if e.start_s - 1e-6 <= t < e.end_s - 1e-6]
        if showing:
            lit += 1
            sign = 1 if showing[0].kind == "flash" else -1
            assert sign * shift > 0.6 * LIGHT_LEVELS, (t, shift)
        else:
            assert np.array_equal(frame[band:], clean[band:]), t
    assert lit > 10


@pytest.mark.slow
def test_gap_filter_keeps_the_same_sessions_with_the_phenomena(
    tiny_corpora: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(profiles.PROFILES, PLANTED_TINY.name, PLANTED_TINY)
    planted = synthesize(tmp_path / "planted", PLANTED_TINY.name, 0)
    truth = json.loads((planted / "synth_truth.json").read_text())
    assert truth["coincidences"] and truth["states"]

    def sessions(corpora: Path, out: Path) -> list[tuple[Any, ...]]:
        config = load_config(REPO / "pipelines" / "demo.yaml", {"corpora.iemocap": str(corpora / "IEMOCAP_full_release"),
                                                                 "corpora.mosei": str(corpora / "CMU_MOSEI")})
        assert run_build(config, out, until="ingest").complete
        rows = pq.read_table(BuildPaths(out).sessions).to_pylist()
        columns = ("session_id", "start_s", "end_s", "status", "gap_audio_s", "gap_video_s", "gap_text_s")
        return [tuple(r[c] for c in columns) for r in rows]

    assert sessions(tiny_corpora, tmp_path / "clean") == sessions(planted, tmp_path / "planted-build")
