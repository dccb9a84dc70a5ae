"""Write one IEMOCAP dialog in the release's layout and syntax (docs/FORMATS.md).

Every quirk a reader must survive is produced on purpose: prefix letter independent of the
speaker, `X` fragments, tags and a line without times in the transcription, EmoEvaluation blocks
grouped by speaker (not by time) with multi-label, empty and two-space `dom` lines, Sphinx-3
`.wdseg` alignments with fillers and pronunciation variants, one utterance without `.wdseg`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edu_affect_data.synth.media import truncate_data, write_divx_avi, write_garbage, write_wav
from edu_affect_data.synth.plan import RecordingPlan, UnitPlan, recording_rng
from edu_affect_data.synth.render import render_audio, render_frames
from edu_affect_data.synth.voice import SAMPLE_RATE

ROOT = "IEMOCAP_full_release"
EMO_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"
WDSEG_HEADER = "\tSFrm  EFrm    SegAScr Word"
#: The line without bracketed times that readers must skip and count.
NON_UTTERANCE_LINE = "M: [BREATHING]"
TRUNCATE_KEEP = 0.6


def dialog_paths(dialog: str) -> dict[str, str]:
    """Paths (relative to the corpora folder) of one dialog's files."""
    base = f"{ROOT}/Session{int(dialog[3:5])}"
    return {
        "wav": f"{base}/dialog/wav/{dialog}.wav",
        "avi": f"{base}/dialog/avi/DivX/{dialog}.avi",
        "transcription": f"{base}/dialog/transcriptions/{dialog}.txt",
        "emo": f"{base}/dialog/EmoEvaluation/{dialog}.txt",
        "categorical": f"{base}/dialog/EmoEvaluation/Categorical",
        "lab": f"{base}/dialog/lab",
        "sentences": f"{base}/sentences/wav/{dialog}",
        "alignment": f"{base}/sentences/ForcedAlignment/{dialog}",
    }


BROKEN_FILE = {
    "truncated_wav": "wav",
    "undecodable_video": "avi",
    "missing_transcript": "transcription",
    "malformed_emo_line": "emo",
}


def transcription_lines(plan: RecordingPlan) -> list[str]:
    lines = [
        f"{u.unit_id} [{u.start_s:08.4f}-{u.end_s:08.4f}]: {u.text}"
        for u in plan.transcribed_units()
    ]
    lines.insert(len(lines) // 2, NON_UTTERANCE_LINE)
    return lines


def _evaluator_lines(unit: UnitPlan, malformed: bool) -> list[str]:
    labels = unit.iemocap_labels
    assert labels is not None
    lines = [f"{v.name}:\t{'; '.join(v.labels)};\t({v.comment})" for v in labels.categorical]
    for k, d in enumerate(labels.dimensional):
        if malformed and k == 0:
            lines.append(f"{d.name}:\tval {d.vad[0]}; act")  # cut off mid-line
        else:
            lines.append(
                f"{d.name}:\tval {d.vad[0]}; act {d.vad[1]}; dom  {d.vad[2]};\t({d.comment})"
            )
    return lines


def emo_evaluation_text(plan: RecordingPlan) -> str:
    """Header, then blocks of all F turns, then all M turns, separated by blank lines."""
    annotated = [u for u in plan.transcribed_units() if u.annotated]
    blocks = []
    for letter in ("F", "M"):
        for unit in (u for u in annotated if u.letter == letter):
            labels = unit.iemocap_labels
            assert labels is not None
            v, a, d = labels.vad
            head = f"[{unit.start_s:.4f} - {unit.end_s:.4f}]\t{unit.unit_id}\t{labels.code}\t[{v:.4f}, {a:.4f}, {d:.4f}]"
            blocks.append(
                "\n".join([head, *_evaluator_lines(unit, unit.unit_id == plan.malformed_unit)])
            )
    return EMO_HEADER + "\n\n" + "\n\n".join(blocks) + "\n"


def categorical_texts(plan: RecordingPlan) -> dict[int, str]:
    """`<dialog>_e<k>_cat.txt` per categorical evaluator, in the files' own wording (`Neutral state`)."""
    per_evaluator: dict[int, list[str]] = {}
    for unit in (u for u in plan.transcribed_units() if u.annotated):
        assert unit.iemocap_labels is not None
        for vote in unit.iemocap_labels.categorical:
            if not vote.name.startswith("C-E"):
                continue
            words = ["Neutral state" if w == "Neutral" else w for w in vote.labels]
            per_evaluator.setdefault(int(vote.name[3:]), []).append(
                f"{unit.unit_id} :{'; '.join(words)}; ({vote.comment})"
            )
    return {k: "\n".join(lines) + "\n" for k, lines in sorted(per_evaluator.items())}


def wdseg_text(unit: UnitPlan, rng: np.random.Generator) -> str:
    lines = [WDSEG_HEADER]
    total = 0
    for row in unit.rows:
        score = -int((row.end_frame - row.start_frame + 1) * rng.integers(800, 4000))
        total += score
        lines.append(f"\t{row.start_frame:5d} {row.end_frame:5d} {score:10d} {row.token}")
    lines.append(f" Total score: {total:11d}")
    return "\n".join(lines) + "\n"


def lab_text(plan: RecordingPlan, letter: str) -> str:
    rows = [
        f"{u.start_s:.4f} {u.end_s:.4f} {u.unit_id}"
        for u in plan.transcribed_units()
        if u.letter == letter
    ]
    return "\n".join([f"{plan.recording_id}_{letter}.wav", *rows]) + "\n"


def write_dialog(plan: RecordingPlan, out: Path, seed: int) -> None:
    """Render and write every file of one dialog under `out` (the corpora folder)."""
    paths = {k: out / v for k, v in dialog_paths(plan.recording_id).items()}
    rng = recording_rng(seed, plan.recording_id, 5)
    audio = render_audio(plan, seed)
    write_wav(paths["wav"], audio)
    for unit in plan.transcribed_units():
        clip = audio[round(unit.start_s * SAMPLE_RATE) : round(unit.end_s * SAMPLE_RATE)]
        write_wav(paths["sentences"] / f"{unit.unit_id}.wav", clip)
        if unit.aligned:
            target = paths["alignment"] / f"{unit.unit_id}.wdseg"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(wdseg_text(unit, rng))
    if "undecodable_video" in plan.broken:
        paths["avi"].parent.mkdir(parents=True, exist_ok=True)
        write_garbage(paths["avi"], rng)
    else:
        write_divx_avi(paths["avi"], render_frames(plan, seed), plan.frame_size, paths["wav"])
    if "truncated_wav" in plan.broken:
        truncate_data(paths["wav"], TRUNCATE_KEEP)
    if "missing_transcript" not in plan.broken:
        paths["transcription"].parent.mkdir(parents=True, exist_ok=True)
        paths["transcription"].write_text("\n".join(transcription_lines(plan)) + "\n")
    paths["emo"].parent.mkdir(parents=True, exist_ok=True)
    paths["emo"].write_text(emo_evaluation_text(plan))
    paths["categorical"].mkdir(parents=True, exist_ok=True)
    for k, text in categorical_texts(plan).items():
        (paths["categorical"] / f"{plan.recording_id}_e{k}_cat.txt").write_text(text)
    for letter in ("F", "M"):
        lab = paths["lab"] / f"Ses{plan.session:02d}_{letter}" / f"{plan.recording_id}.lab"
        lab.parent.mkdir(parents=True, exist_ok=True)
        lab.write_text(lab_text(plan, letter))
