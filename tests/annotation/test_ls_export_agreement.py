"""`edu-data agreement` on a Label Studio JSON export: a hand-written one, and a real project's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from edu_affect_data.annotation import campaign as campaigns
from edu_affect_data.annotation import export
from edu_affect_data.annotation.agreement import compute_agreement, load_export
from edu_affect_data.annotation.client import LabelStudioSettings, user_emails
from edu_affect_data.annotation.people import ANNOTATION
from edu_affect_data.annotation.rounds import people_for
from edu_affect_data.cli import app

LEE = {"id": 8, "email": "lee@lab.example", "first_name": "Lee", "last_name": ""}


def choice(control: str, *labels: str) -> dict[str, Any]:
    return {"from_name": control, "to_name": "image", "type": "choices", "value": {"choices": list(labels)}}


def annotation(aid: int, user: int | dict, *result: dict[str, Any], cancelled: bool = False) -> dict[str, Any]:
    return {"id": aid, "completed_by": user, "result": list(result), "was_cancelled": cancelled,
            "lead_time": 3.0, "created_at": "2025-05-01T10:00:00Z"}  # fmt: skip


def hand_written_export() -> list[dict[str, Any]]:
    """Four tasks, two Choices controls (mood, certainty), user 8 inlined in some annotations only."""
    return [
        {"id": 14, "data": {"session_id": "s4", "image": "/data/4.jpg"}, "annotations": [
            annotation(112, 7, choice("certainty", "low")),  # no mood choice
            annotation(113, LEE, choice("mood", "foggy")),
            annotation(114, 9, choice("mood", "Cannot tell")),
        ]},
        {"id": 11, "data": {"session_id": "s1", "image": "/data/1.jpg"}, "annotations": [
            annotation(101, 7, choice("mood", "sunny"), choice("certainty", "high")),
            annotation(102, LEE, choice("mood", "rainy"), choice("certainty", "low")),
            annotation(103, 9, cancelled=True),
            annotation(104, 9, choice("mood", "sunny")),
        ]},
        {"id": 12, "data": {"session_id": "s2", "image": "/data/2.jpg"}, "annotations": [
            annotation(105, 7, choice("mood", "sunny")),
            annotation(106, 8, choice("mood", "sunny"), choice("certainty", "high")),  # Lee, by id only
            annotation(107, 9, choice("mood", "sunny")),
            annotation(108, 7, choice("mood", "rainy")),  # a second vote of user 7 on the task
        ]},
        {"id": 13, "data": {"image": "/data/3.jpg"}, "annotations": [  # no session_id: the unit is task 13
            annotation(109, 7, choice("mood", "rainy")),
            annotation(110, LEE, choice("mood", "rainy")),
            annotation(111, 9, choice("mood", "sunny", "rainy")),
        ]},
    ]  # fmt: skip


#: What a person reads off the export above, for the mood control.
MOOD_VOTES = [
    ("s1", "user-id:7", "sunny"), ("s1", "lee@lab.example", "rainy"), ("s1", "user-id:9", "sunny"),
    ("s2", "user-id:7", "sunny"), ("s2", "lee@lab.example", "sunny"), ("s2", "user-id:9", "sunny"),
    ("13", "user-id:7", "rainy"), ("13", "lee@lab.example", "rainy"),
    ("s4", "lee@lab.example", "foggy"), ("s4", "user-id:9", "Cannot tell"),
]  # fmt: skip


@pytest.fixture()
def export_file(tmp_path: Path) -> Path:
    path = tmp_path / "project-3-at-2025-05-01.json"
    path.write_text(json.dumps(hand_written_export()), encoding="utf-8")
    return path


def agreement_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["agreement", *args, "--format", "json", "--n-boot", "0"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_export_is_read_as_a_person_reads_it(export_file: Path) -> None:
    loaded = load_export(export_file, control="mood")
    key = ["session_id", "annotator"]
    expected = pd.DataFrame(MOOD_VOTES, columns=["session_id", "annotator", "label"])
    pd.testing.assert_frame_equal(
        loaded.table.sort_values(key).reset_index(drop=True), expected.sort_values(key).reset_index(drop=True)
    )
    assert loaded.dropped == {"cancelled": 1, "duplicate": 1, "no choice": 1, "several choices": 1}
    assert "1 task(s) without data.session_id are their own units, named by task id." in loaded.notes


def test_the_cli_measures_the_export_like_the_same_votes_as_a_table(export_file: Path, tmp_path: Path) -> None:
    data = agreement_json("--annotations", str(export_file), "--control", "mood")
    table = tmp_path / "votes.csv"
    pd.DataFrame(MOOD_VOTES, columns=["session_id", "annotator", "label"]).to_csv(table, index=False)
    same = agreement_json("--annotations", str(table), "--report-dir", str(tmp_path / "table-report"))
    for key in ("classes", "annotators", "n_sessions", "n_ratings", "cohen_kappa_pairwise", "fleiss_kappa",
                "krippendorff_alpha", "cannot_tell", "ratings_per_session", "consensus"):  # fmt: skip
        assert data[key] == same[key], key
    assert data["classes"] == ["foggy", "rainy", "sunny"] and data["n_sessions"] == 4
    assert data["cannot_tell"] == {"lee@lab.example": 0, "user-id:7": 0, "user-id:9": 1}
    assert data["dropped"] == {"cancelled": 1, "duplicate": 1, "no choice": 1, "several choices": 1}
    assert "4 annotation(s) of the export were dropped (cancelled: 1, duplicate: 1, no choice: 1, several choices: 1)." in data["notes"]
    markdown = (export_file.parent / "agreement" / "agreement.md").read_text()
    assert "| several choices | 1 |" in markdown


def test_several_controls_need_control(export_file: Path) -> None:
    result = CliRunner().invoke(app, ["agreement", "--annotations", str(export_file)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {export_file}: the results use several Choices controls (certainty, mood): "
        "pick one with --control NAME"
    )
    unknown = CliRunner().invoke(app, ["agreement", "--annotations", str(export_file), "--control", "weather"])
    assert unknown.exit_code == 2
    assert "no Choices control 'weather' in the export's results; found ['certainty', 'mood']" in unknown.stderr

    certainty = agreement_json("--annotations", str(export_file), "--control", "certainty")
    assert certainty["classes"] == ["high", "low"]
    assert certainty["ratings_per_annotator"] == {"lee@lab.example": 2, "user-id:7": 2}  # s1, s2 / s1, s4
    assert certainty["dropped"] == {"cancelled": 1, "no choice": 9}


def test_one_control_is_taken_and_classes_given_refuse_other_labels(tmp_path: Path) -> None:
    tasks = hand_written_export()
    for task in tasks:
        for item in task["annotations"]:
            item["result"] = [r for r in item["result"] if r["from_name"] == "mood"]
    path = tmp_path / "mood-only.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    assert agreement_json("--annotations", str(path))["n_ratings"] == 9
    result = CliRunner().invoke(app, ["agreement", "--annotations", str(path), "--classes", "sunny,rainy"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {path}: task 14, annotation 113: unknown label 'foggy'; "
        "expected one of ['sunny', 'rainy', 'Cannot tell']"
    )


def test_broken_exports_and_a_control_on_a_table_are_one_line_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": 1, "annotations": [', encoding="utf-8")
    result = CliRunner().invoke(app, ["agreement", "--annotations", str(broken)])
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {broken}: not JSON")
    broken.write_text('{"tasks": []}', encoding="utf-8")
    result = CliRunner().invoke(app, ["agreement", "--annotations", str(broken)])
    assert result.exit_code == 2 and "expected a JSON list of tasks, got an object" in result.stderr
    broken.write_text(json.dumps([{"id": 1, "annotations": [annotation(1, 7, cancelled=True)]}]), encoding="utf-8")
    result = CliRunner().invoke(app, ["agreement", "--annotations", str(broken)])
    assert result.exit_code == 2 and "no annotation chooses anything in a Choices control" in result.stderr
    table = tmp_path / "votes.csv"
    table.write_text("session_id,annotator,label\ns1,a,x\ns1,b,y\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["agreement", "--annotations", str(table), "--control", "mood"])
    assert result.exit_code == 2 and "a Choices control is chosen in a Label Studio .json export only" in result.stderr


@pytest.mark.labelstudio
def test_a_real_projects_export_gives_the_agreement_of_its_pull(
    build, ls_settings: LabelStudioSettings, tmp_path: Path
) -> None:
    config, paths = build
    campaign = campaigns.open_campaign(config, paths, ls_settings)
    campaigns.push(campaign)
    assert people_for(config.annotation.simulate).act(campaign, ANNOTATION) > 0
    path = tmp_path / "export.json"
    path.write_bytes(export.download_export(campaign.ls, ls_settings, campaign.project_id()))
    pulled = campaigns.pull(campaign).annotations
    assert len(pulled) >= 10

    from_file = agreement_json("--annotations", str(path), "--report-dir", str(tmp_path / "report"))
    from_pull = compute_agreement(pulled, classes=None, n_boot=0).to_json()
    # The export names annotators by user id (Label Studio does not inline them); the pull by pseudonym.
    emails = user_emails(campaign.ls, ls_settings)
    pseudonyms = campaign.pseudonyms()
    name = {f"user-id:{i}": pseudonyms.get(e) for i, e in emails.items() if pseudonyms.get(e)}
    assert sorted(name[a] for a in from_file["annotators"]) == from_pull["annotators"]
    for key in ("classes", "n_sessions", "n_ratings", "consensus", "ratings_per_session", "votes_per_session"):
        assert from_file[key] == from_pull[key], key
    for key in ("cohen_kappa_mean", "fleiss_kappa", "krippendorff_alpha", "observed_agreement"):
        assert from_file[key]["estimate"] == pytest.approx(from_pull[key]["estimate"], abs=1e-12), key
    pairs = {tuple(sorted((name[p["a"]], name[p["b"]]))): p for p in from_file["cohen_kappa_pairwise"]}
    assert len(pairs) == len(from_pull["cohen_kappa_pairwise"]) == 3
    for pair in from_pull["cohen_kappa_pairwise"]:
        mine = pairs[(pair["a"], pair["b"])]
        assert mine["n"] == pair["n"] and mine["kappa"] == pytest.approx(pair["kappa"], abs=1e-12)
    assert {name[a]: n for a, n in from_file["cannot_tell"].items()} == from_pull["cannot_tell"]
    assert from_file["dropped"] == {}
