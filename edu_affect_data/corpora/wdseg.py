"""IEMOCAP word alignments: Sphinx-3 `.wdseg` files under `sentences/ForcedAlignment/`.

A file looks like (tabs as `\\t`)::

    \\tSFrm  EFrm    SegAScr Word
    \\t    0    11    -184022 <s>
    \\t   12    47    -521312 WHY
    \\t   48    60    -190203 STOP(2)
     Total score:    -2318826

Frames are 10 ms counted from the start of the utterance's own wav, so recording time is
`utterance start + SFrm * 0.01` and the end is `utterance start + (EFrm + 1) * 0.01` (EFrm is the
last frame *inside* the word). Sentence markers and silences are alignment bookkeeping, not
words; Sphinx filler tokens (`++LAUGHTER++`) are non-speech like the transcript's `[LAUGHTER]`
tags, so they are dropped too. Pronunciation variants `WORD(2)` are the word `WORD`.
"""

from __future__ import annotations

import re
from pathlib import Path

from edu_affect_data.corpora.common import LineError
from edu_affect_data.corpora.records import Word

FRAME_S = 0.01
NON_WORDS = frozenset({"<s>", "</s>", "<sil>"})
_VARIANT = re.compile(r"\(\d+\)$")
_FILLER = re.compile(r"^\+\+.*\+\+$")


def clean_word(token: str) -> str | None:
    """The spoken word of an alignment token, or None for markers, silences and fillers."""
    if token in NON_WORDS or _FILLER.match(token):
        return None
    return _VARIANT.sub("", token) or None


def read_wdseg(path: Path, utterance_start_s: float) -> tuple[Word, ...]:
    """Words of one `.wdseg` file in recording time; raises `LineError` on the first bad line."""
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LineError(None, f"cannot read alignment: {exc}") from exc
    words: list[Word] = []
    seen_header = seen_total = False
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if seen_total:
            raise LineError(number, f"text after the 'Total score' line: {line.strip()!r}")
        if fields[:2] == ["SFrm", "EFrm"]:
            if seen_header or words:
                raise LineError(number, "header line not at the top")
            seen_header = True
            continue
        if fields[:2] == ["Total", "score:"]:
            if len(fields) != 3 or not _is_int(fields[2]):
                raise LineError(number, f"malformed total line: {line.strip()!r}")
            seen_total = True
            continue
        if not seen_header:
            raise LineError(number, "missing 'SFrm EFrm SegAScr Word' header")
        if len(fields) != 4 or not all(_is_int(f) for f in fields[:3]):
            raise LineError(number, f"expected 'SFrm EFrm SegAScr Word', got {line.strip()!r}")
        first, last = int(fields[0]), int(fields[1])
        if first < 0 or last < first:
            raise LineError(number, f"frame range {first}-{last} is not a forward range")
        word = clean_word(fields[3])
        if word is not None:
            words.append(
                Word(
                    word,
                    round(utterance_start_s + first * FRAME_S, 6),
                    round(utterance_start_s + (last + 1) * FRAME_S, 6),
                )
            )
    if not seen_header:
        raise LineError(None, "empty alignment (no header)")
    if not seen_total:
        raise LineError(len(lines), "truncated alignment: no 'Total score' line")
    return tuple(words)


def _is_int(text: str) -> bool:
    return re.fullmatch(r"[+-]?\d+", text) is not None
