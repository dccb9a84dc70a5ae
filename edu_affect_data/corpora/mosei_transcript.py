"""The segmented transcript of one MOSEI video -> its segments, each damaged line a Problem.

`Raw/Transcript/Segmented/Combined/<vid>.txt` holds one `<vid>___<seg>___<start>___<end>___<text>`
line per segment. Parsing it is the one part of the MOSEI reader that works on text rather than
on files and CSDs, and the part with the most rules (see the module docstring of `mosei`), so it
lives here on its own; `mosei_video` calls `parse_segments` for each video.
"""

from __future__ import annotations

import math
from pathlib import Path

from edu_affect_data.corpora.common import (
    BadLine,
    RecordingResult,
    Span,
    claim,
    locate_bad_line,
    readable_times,
    same_unit,
)
from edu_affect_data.corpora.csd import split_key
from edu_affect_data.corpora.mosei_align import LabelRow, Segment
from edu_affect_data.corpora.records import Problem


def parse_segments(
    text: str, path: Path, video_id: str, rows: list[LabelRow], result: RecordingResult
) -> list[Segment]:
    """Segments of one transcript (its text, read by `read_source_text`), time-sorted.

    Each unreadable line is a Problem, and its segment is still placed (`common.locate_bad_line`,
    the label rows that no readable line describes as the label entries): its session becomes an
    `error` naming the file and line, and no session is re-cut around a missing segment. A placed
    segment whose index cannot be read is named after its line, `<vid>_line<N>`.
    """
    prefix = f"{video_id}___"
    segments: list[Segment] = []
    bad: list[BadLine] = []
    seen: dict[int, Segment] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parsed = _parse_segment_line(line.rstrip("\r\n"), prefix, video_id, number, seen)
        if isinstance(parsed, Segment):
            seen[parsed.index] = parsed
            segments.append(parsed)
        else:
            bad.append(parsed)
    readable = [(seg.line or 0, Span(seg.utterance_id, seg.start_s, seg.end_s)) for seg in segments]
    free = [
        Span(_aligned_id(video_id, row), row.start_s, row.end_s)
        for row in rows
        if not any(same_unit((row.start_s, row.end_s), (seg.start_s, seg.end_s)) for seg in segments)
    ]
    taken = {seg.utterance_id for seg in segments}
    for damaged in bad:
        placed = locate_bad_line(damaged, readable, free)
        if placed is None:
            reason = f"{damaged.reason}; its segment cannot be placed, so every session of the video is an error"
            result.problems.append(Problem(str(path), damaged.line, reason, video_id))
            continue
        if placed.unit_id in taken and any(placed is span for _, span in readable):
            # an exact repeat of a readable line: that segment is the damaged one
            result.problems.append(Problem(str(path), damaged.line, damaged.reason, video_id, placed.unit_id))
            continue
        free = claim(free, placed)
        named = placed.unit_id is not None and placed.unit_id not in taken
        unit_id = placed.unit_id if named and placed.unit_id is not None else f"{video_id}_line{damaged.line}"
        reason = f"{damaged.reason} (placed as {unit_id} at {placed.start_s:g}-{placed.end_s:g} s)"
        result.problems.append(Problem(str(path), damaged.line, reason, video_id, unit_id))
        index = int(unit_id[len(video_id) + 1 :]) if named else -1
        segments.append(Segment(unit_id, index, placed.start_s, placed.end_s, damaged.text, damaged.line))
        taken.add(unit_id)
    return sorted(segments, key=lambda s: (s.start_s, s.index))


def _aligned_id(video_id: str, row: LabelRow) -> str | None:
    """The segment id a label row names (`<vid>[k]` keys of an SDK-aligned CSD), else None."""
    index = split_key(row.key)[1]
    return None if index is None else f"{video_id}_{index}"


def _parse_segment_line(
    line: str, prefix: str, video_id: str, number: int, seen: dict[int, Segment]
) -> Segment | BadLine:
    """One `<vid>___<seg>___<start>___<end>___<text>` line, or what of it is readable."""
    if not line.startswith(prefix):
        return BadLine(number, f"line does not start with '{prefix}': {line.strip()[:120]!r}", None, None, None, "")
    parts = line[len(prefix) :].split("___", 3)
    if len(parts) != 4:
        reason = f"want '<vid>___<seg>___<start>___<end>___<text>': {line.strip()[:120]!r}"
        return BadLine(number, reason, None, None, None, "")
    index_text, start_text, end_text, text = parts
    text = " ".join(text.split())
    index = int(index_text) if index_text.strip().isdigit() else None
    try:
        start, end = float(start_text), float(end_text)
    except ValueError:
        start = end = math.nan
    times_problem = readable_times(start, end) if not math.isnan(start) else "start or end is not a number"
    written = f"{video_id}_{index_text.strip()}"
    if index is None:
        reason = f"segment index {index_text!r} is not a number"
    elif times_problem is not None:
        reason = f"segment {index}: {times_problem}"
    elif index in seen:
        reason = f"segment {index} listed twice (first at line {seen[index].line})"
    else:
        return Segment(written, index, start, end, text, number)
    reason = f"{reason}: {line.strip()[:120]!r}"
    unit_id = written if index is not None and index not in seen else None
    times = (start, end) if times_problem is None else None
    return BadLine(number, reason, written, unit_id, times, text)
