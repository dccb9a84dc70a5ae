"""The report's planted-versus-control table, on fabricated runs whose answers are known.

Two worlds of 96 test sessions (24 speakers x 4), three seeds, the full model and its three single
ablations (`tests.model.fabricated_runs`): on the planted corpus each ablation is wrong on its own
~30 % of the sessions, on the control only the -CMAA ablation is (so CMAA helps as much without its
phenomenon: FAIL), the others equal the full model (PASS). Truth files carry the `planted` flags
the way `edu-data synth` writes them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from edu_emotionnet.mechanisms import FAIL, NOT_EVALUATED, PASS, Corpus, mechanism_lines
from edu_emotionnet.runs import collect_runs
from typer.testing import CliRunner

from edu_affect_data.cli import app
from tests.model.fabricated_runs import write_places, write_run

N, SPEAKERS, RESAMPLES = 96, 24, 1000
LABELS = np.arange(N) % 4
ABLATIONS = {"mie": "ablation_no_mie.yaml", "cmaa": "ablation_no_cmaa.yaml", "tfl": "ablation_no_tfl.yaml"}
#: Which sessions each ablation gets wrong (fixed draws, ~30 %).
WRONG = {name: np.random.default_rng(k).random(N) < 0.3 for k, name in enumerate(ABLATIONS)}


def speakers() -> list[str]:
    return [f"spk{i // (N // SPEAKERS):02d}" for i in range(N)]


#: One noise burst (claim (a) reads it; the table needs only `planted`).
BURST = {"corpus": "iemocap", "recording": "rec0", "modality": "audio", "start_s": 1.0, "end_s": 2.0, "region": "full", "kind": "audio_noise"}


def truth(path: Path, present: bool) -> Path:
    planted = {name: {"present": present, "events": True} for name in ("cmaa", "tfl")}
    path.write_text(json.dumps({"profile": "claims" if present else "claims-control", "seed": 0, "faults": [],
                                "noise": [BURST] if present else [], "planted": {"mie": {"present": present}, **planted}}))
    return path


def world(root: Path, planted: bool, seeds: tuple[int, ...] = (0, 1, 2)) -> tuple[Path, Path]:
    """(runs, synth_truth.json) of the planted corpus or of its control."""
    data = write_places(root / "dataset", [{"session_id": f"test_{i:04d}", "corpus": "iemocap", "source_id": f"rec{i}",
                                            "start_s": 0.0, "end_s": 6.0} for i in range(N)])
    runs = root / "runs"
    for s in seeds:
        write_run(runs / "edu_emotionnet", "edu_emotionnet.yaml", s, LABELS, LABELS, data=data, speakers=speakers())
        for name, variant in ABLATIONS.items():
            wrong = WRONG[name] if planted or name == "cmaa" else np.zeros(N, dtype=bool)
            predicted = np.where(wrong, (LABELS + 1) % 4, LABELS)
            write_run(runs / f"no_{name}", variant, s, LABELS, predicted, data=data, speakers=speakers())
    return runs, truth(root / "synth_truth.json", planted)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("mechanisms")
    return {"planted": world(root / "planted", True), "control": world(root / "control", False)}


def test_effects_on_planted_and_control_decide_each_mechanism(worlds: dict[str, tuple[Path, Path]]) -> None:
    (runs, truth_path), (control_runs, control_truth) = worlds["planted"], worlds["control"]
    lines = {line.mechanism: line for line in mechanism_lines(
        Corpus(collect_runs([runs]), truth_path), Corpus(collect_runs([control_runs]), control_truth), RESAMPLES)}
    assert list(lines) == ["MIE", "CMAA", "TFL feedback"]
    for switch, name in (("mie", "MIE"), ("tfl", "TFL feedback")):
        line = lines[name]
        assert line.verdict == PASS, line
        assert line.planted is not None and line.control is not None and line.contrast is not None
        assert line.planted.estimate == pytest.approx(WRONG[switch].mean())  # full always right
        assert line.control.estimate == 0.0
        assert line.contrast.estimate == pytest.approx(WRONG[switch].mean())
        assert line.planted.clusters == SPEAKERS and line.planted.sessions == N
    cmaa = lines["CMAA"]
    assert cmaa.verdict == FAIL  # helps, but as much where nothing needs it
    assert cmaa.planted is not None and cmaa.planted.low > 0
    assert cmaa.contrast is not None and cmaa.contrast.estimate == 0.0


def test_absent_control_or_wrong_truth_is_said_not_guessed(worlds: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    (runs, truth_path), (control_runs, control_truth) = worlds["planted"], worlds["control"]
    planted = Corpus(collect_runs([runs]), truth_path)
    alone = mechanism_lines(planted, None, RESAMPLES)
    assert all(line.verdict == NOT_EVALUATED and "no control run" in line.note for line in alone)
    assert all(line.planted is not None and line.planted.low > 0 for line in alone)  # the planted effect is still shown
    swapped = mechanism_lines(Corpus(collect_runs([control_runs]), control_truth), Corpus(collect_runs([runs]), truth_path), RESAMPLES)
    assert all(line.verdict == NOT_EVALUATED and "(not a planted corpus)" in line.note for line in swapped)
    both_planted = mechanism_lines(planted, Corpus(collect_runs([control_runs]), truth_path), RESAMPLES)
    assert all("is present (not a control)" in line.note for line in both_planted)
    old = tmp_path / "old_truth.json"
    old.write_text(json.dumps({"noise": [BURST], "faults": []}))  # before `planted` existed
    lines = {line.mechanism: line for line in mechanism_lines(Corpus(collect_runs([runs]), old), None, RESAMPLES)}
    assert "no control run" in lines["MIE"].note
    assert "records no planted phenomena" in lines["CMAA"].note


@pytest.mark.slow
def test_report_command_renders_the_table(worlds: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    (runs, truth_path), (control_runs, control_truth) = worlds["planted"], worlds["control"]
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(runs), "--out", str(out), "--truth", str(truth_path),
                                      "--control", str(control_runs), "--control-truth", str(control_truth)])
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    assert "### Mechanisms on planted phenomena and on their control" in report
    rows = [line for line in report.splitlines() if line.startswith("| MIE |") or line.startswith("| CMAA |") or line.startswith("| TFL feedback |")]
    assert len(rows) == 3
    assert "**PASS**" in rows[0] and "**FAIL**" in rows[1] and "**PASS**" in rows[2]
    assert f"{SPEAKERS} speakers, {N} sessions" in rows[0]
