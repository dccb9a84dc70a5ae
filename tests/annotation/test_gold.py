"""Gold tasks: the file's checks, the draw, and gold tasks collecting their overlap on the real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from edu_affect_data.annotation import campaign as campaigns
from edu_affect_data.annotation.gold import GoldFileError, draw_gold, read_gold, read_gold_file
from edu_affect_data.annotation.options import GoldConfig
from edu_affect_data.annotation.overlap import server_overlaps
from edu_affect_data.stages.annotate import run_annotate
from tests.annotation.small_corpus import SmallCorpus


def gold_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("session_id,label\na,Bored\nb,Sleepy\n", r"gold.csv, line 3: label 'Sleepy' of b is not one of"),
        ("session_id,label\na,Bored\na,Curious\n", r"gold.csv, line 3: session a is listed twice"),
        ("session_id,label\n,Bored\n", r"gold.csv, line 2: empty session_id"),
        ("session,label\na,Bored\n", r"gold.csv: missing column\(s\) \['session_id'\]"),
        ("session_id,label\n", r"gold.csv: no gold sessions"),
        ("", r"gold.csv: not a readable CSV"),
    ],
)
def test_a_bad_gold_file_is_one_error_naming_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(GoldFileError, match=message):
        read_gold_file(gold_csv(tmp_path / "gold.csv", text))


def test_draw_takes_the_fraction_by_seed_and_refuses_sessions_of_another_build(tmp_path: Path) -> None:
    sessions = [f"s{i:02d}" for i in range(40)]
    path = gold_csv(tmp_path / "gold.csv", "session_id,label\n" + "".join(f"s{i:02d},Bored\n" for i in range(10)))
    drawn = draw_gold(GoldConfig(file=path, fraction=0.1), sessions, seed=0)
    assert len(drawn) == 4 and set(drawn) <= {f"s{i:02d}" for i in range(10)}
    assert drawn == draw_gold(GoldConfig(file=path, fraction=0.1), sessions, seed=0)
    assert drawn != draw_gold(GoldConfig(file=path, fraction=0.1), sessions, seed=1)
    assert len(draw_gold(GoldConfig(file=path, fraction=0.5), sessions, seed=0)) == 10  # the whole file
    with pytest.raises(GoldFileError, match=r"1 session\(s\) are not kept sessions of this build, e.g. \['s09'\]"):
        draw_gold(GoldConfig(file=path, fraction=0.1), sessions[:9], seed=0)


@pytest.mark.labelstudio
def test_gold_tasks_are_pushed_like_others_and_collect_their_overlap(
    build, small_corpus: SmallCorpus, tmp_path: Path
) -> None:
    config, paths = build
    gold_sessions = small_corpus.kept()[:2]
    path = gold_csv(
        tmp_path / "gold.csv",
        "session_id,label\n" + "".join(f"{s},{small_corpus.truth_of(s)}\n" for s in gold_sessions),
    )
    annotation = config.annotation.model_copy(
        update={
            "overlap": config.annotation.overlap.model_copy(update={"initial": 1, "max": 2}),
            "gold": GoldConfig(file=path, fraction=0.4, overlap=3),
        }
    )
    config = config.model_copy(update={"annotation": annotation})
    assert run_annotate(config, paths).complete
    assert read_gold(paths) == {s: small_corpus.truth_of(s) for s in gold_sessions}
    campaign = campaigns.open_campaign(config, paths)
    pulled = campaigns.pull(campaign)
    submitted = {t.session_id: t.submitted for t in pulled.tasks}
    assert {s: submitted[s] for s in gold_sessions} == dict.fromkeys(gold_sessions, 3)
    others = [s for s in submitted if s not in gold_sessions]
    assert others and all(submitted[s] in (1, 2) for s in others)
    overlaps = server_overlaps(campaign.ls, campaign.settings, campaign.project_id())
    assert overlaps == campaigns.required_annotations(campaign, pulled.tasks)

