"""The synthetic IEMOCAP release has the real layout and every syntax quirk of docs/FORMATS.md."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import cv2
import pytest
import soundfile as sf

ROOT = "IEMOCAP_full_release"
TRANSCRIPT_LINE = re.compile(
    r"^(Ses0\d[FM]_\w+_[FM](?:\d{3}|XX\d)) \[(\d{3}\.\d{4})-(\d{3}\.\d{4})\]: (.+)$"
)
CONSENSUS = re.compile(
    r"^\[(\d+\.\d{4}) - (\d+\.\d{4})\]\t(Ses0\d[FM]_\w+_[FM]\d{3})\t(neu|hap|sad|ang|exc|fru|sur|fea|dis|oth|xxx)\t"
    r"\[(\d\.\d{4}), (\d\.\d{4}), (\d\.\d{4})\]$"
)
CATEGORICAL = re.compile(r"^C-(E\d|F1|M1):\t((?:[A-Z][a-z]+; )*[A-Z][a-z]+;|;)\t\([^)]*\)$")
DIMENSIONAL = re.compile(r"^A-(E\d|F1|M1):\tval \d; act \d; dom  \d;\t\([^)]*\)$")
WDSEG_ROW = re.compile(r"^\t[ \d]{5} [ \d]{5} [ \-\d]{10} (\S+)$")


def _dialogs(root: Path) -> dict[str, Path]:
    return {p.stem: p.parent.parent.parent for p in root.glob(f"{ROOT}/Session*/dialog/wav/*.wav")}


def test_release_layout_and_dialog_names(tiny_corpora: Path) -> None:
    assert (tiny_corpora / ROOT / "Documentation" / "README.txt").is_file()
    names = set(_dialogs(tiny_corpora))
    assert any(re.fullmatch(r"Ses0\dM_impro0\d[ab]", n) for n in names), names
    assert any(re.fullmatch(r"Ses0\d[FM]_script0\d_\db", n) for n in names), names
    for name, session in _dialogs(tiny_corpora).items():
        assert session.name == f"Session{int(name[3:5])}"
        assert (session / "dialog" / "avi" / "DivX" / f"{name}.avi").is_file()
        assert (session / "dialog" / "EmoEvaluation" / f"{name}.txt").is_file()
        assert list(
            (session / "dialog" / "EmoEvaluation" / "Categorical").glob(f"{name}_e*_cat.txt")
        )
        for letter in "FM":
            lab = session / "dialog" / "lab" / f"Ses{name[3:5]}_{letter}" / f"{name}.lab"
            lines = lab.read_text().splitlines()
            assert all(
                re.fullmatch(rf"\d+\.\d{{4}} \d+\.\d{{4}} {name}_{letter}(\d{{3}}|XX\d)", x)
                for x in lines[1:]
            ), lab


def test_both_actors_speak_in_every_dialog_whatever_the_prefix(tiny_corpora: Path) -> None:
    differs = 0
    for name, session in _dialogs(tiny_corpora).items():
        emo = (session / "dialog" / "EmoEvaluation" / f"{name}.txt").read_text()
        ids = re.findall(rf"\t({name}_[FM]\d{{3}})\t", emo)
        assert {i[-4] for i in ids} == {"F", "M"}, name
        differs += sum(i[-4] != name[5] for i in ids)
    assert differs > 0


def test_transcriptions_have_times_tags_fragments_and_a_non_utterance_line(
    tiny_corpora: Path,
) -> None:
    lines = [
        line
        for path in tiny_corpora.glob(f"{ROOT}/Session*/dialog/transcriptions/*.txt")
        for line in path.read_text().splitlines()
    ]
    parsed = [TRANSCRIPT_LINE.match(x) for x in lines]
    assert any(m is None for m in parsed), "a line without bracketed times"
    good = [m for m in parsed if m]
    assert len(good) >= len(lines) - 10
    assert any("[LAUGHTER]" in m.group(4) or "[BREATHING]" in m.group(4) for m in good)
    assert any(re.search(r"_[FM]XX\d$", m.group(1)) for m in good)
    assert all(float(m.group(2)) < float(m.group(3)) for m in good)


def test_emo_evaluation_blocks(tiny_corpora: Path, truth: dict) -> None:
    malformed = {b["unit"] for b in truth["broken_files"] if b["kind"] == "malformed_emo_line"}
    seen_multi = seen_empty = seen_self = False
    bad_lines = []
    for path in tiny_corpora.glob(f"{ROOT}/Session*/dialog/EmoEvaluation/*.txt"):
        text = path.read_text()
        assert text.startswith("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n")
        blocks = text.split("\n", 2)[2].strip("\n").split("\n\n")
        heads = [CONSENSUS.match(b.splitlines()[0]) for b in blocks]
        assert all(heads), path
        letters = [h.group(3)[-4] for h in heads if h]
        assert letters == sorted(letters), f"{path}: blocks grouped F then M"
        starts = [float(h.group(1)) for h in heads if h]
        assert starts != sorted(starts), f"{path}: blocks are not in time order"
        for block, head in zip(blocks, heads, strict=True):
            assert head is not None
            for line in block.splitlines()[1:]:
                if CATEGORICAL.match(line):
                    seen_multi |= line.count(";") >= 2
                    seen_empty |= "\t;\t" in line
                    seen_self |= line.startswith(("C-F1", "C-M1"))
                elif not DIMENSIONAL.match(line):
                    bad_lines.append((head.group(3), line))
    assert seen_multi and seen_empty and seen_self
    assert {unit for unit, _ in bad_lines} == malformed


def test_categorical_files_use_neutral_state(tiny_corpora: Path) -> None:
    text = "".join(
        p.read_text()
        for p in tiny_corpora.glob(f"{ROOT}/Session*/dialog/EmoEvaluation/Categorical/*.txt")
    )
    assert "Neutral state" in text
    assert re.search(r"^Ses0\d[FM]_\w+_[FM]\d{3} :.*; \(.*\)$", text, re.M)


def test_wdseg_sphinx_form_and_one_missing(tiny_corpora: Path) -> None:
    missing = 0
    variants = False
    for wav in tiny_corpora.glob(f"{ROOT}/Session*/sentences/wav/*/*.wav"):
        seg = wav.parents[2] / "ForcedAlignment" / wav.parent.name / f"{wav.stem}.wdseg"
        if not seg.exists():
            missing += 1
            continue
        lines = seg.read_text().splitlines()
        assert lines[0] == "\tSFrm  EFrm    SegAScr Word"
        assert re.fullmatch(r" Total score: [ \-\d]{11}", lines[-1])
        rows = [WDSEG_ROW.match(x) for x in lines[1:-1]]
        assert all(rows), seg
        tokens = [r.group(1) for r in rows if r]
        assert tokens[0] == "<s>" and tokens[-1] == "</s>"
        variants |= any(re.fullmatch(r"[A-Z']+\(\d\)", t) for t in tokens)
        frames = [(int(x[1:6]), int(x[7:12]), int(x[13:23])) for x in lines[1:-1]]
        assert all(score < 0 for _, _, score in frames)
        assert frames[0][0] == 0 and all(b[0] == a[1] + 1 for a, b in itertools.pairwise(frames))
        info = sf.info(wav)
        assert abs((frames[-1][1] + 1) * 0.01 - info.duration) < 0.011, (
            "frames count from the utterance wav start"
        )
    assert missing >= 1 and variants


def test_wav_parameters(tiny_corpora: Path) -> None:
    for wav in list(tiny_corpora.glob(f"{ROOT}/Session*/**/*.wav"))[:40]:
        info = sf.info(wav)
        assert (info.samplerate, info.channels, info.subtype, info.format) == (
            16000,
            1,
            "PCM_16",
            "WAV",
        ), wav


def test_avi_is_divx_at_29_97(tiny_corpora: Path, truth: dict) -> None:
    undecodable = {
        b["recording"] for b in truth["broken_files"] if b["kind"] == "undecodable_video"
    }
    checked = 0
    for avi in tiny_corpora.glob(f"{ROOT}/Session*/dialog/avi/DivX/*.avi"):
        if avi.stem in undecodable:
            continue
        header = avi.read_bytes()[:4096]
        assert header[:4] == b"RIFF" and header[8:12] == b"AVI "
        assert header[header.index(b"vids") + 4 : header.index(b"vids") + 8] == b"DX50", (
            "stream handler"
        )
        assert header[header.index(b"strf") + 24 : header.index(b"strf") + 28] == b"DX50", (
            "biCompression"
        )
        cap = cv2.VideoCapture(str(avi))
        # OpenCV's FFmpeg backend reports the MPEG-4 part 2 decoder's own tag, not the file's.
        assert int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little") in (b"DX50", b"FMP4")
        assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(30000 / 1001, abs=1e-3)
        ok, frame = cap.read()
        assert ok and frame.shape[1] > frame.shape[0]
        cap.release()
        checked += 1
    assert checked >= 3
