"""IEMOCAP `dialog/EmoEvaluation/<dialog>.txt`: consensus and evaluator labels per utterance.

Layout (tabs as `\\t`): a `%` header line, then one block per utterance, blocks separated by blank
lines and grouped by speaker (all F turns, then all M: *not* time-sorted)::

    [12.3400 - 15.0125]\\tSes02M_script03_2_F017\\tfru\\t[2.0000, 3.5000, 3.0000]
    C-E1:\\tFrustration;\\t()
    C-E2:\\t;\\t()
    C-E3:\\tFrustration; Anger;\\t(sighs)
    C-F1:\\tNeutral;\\t()
    A-E2:\\tval 2; act 4; dom  3;\\t()

`C-E*` are categorical evaluators (several labels or none), `A-E*` dimensional ones (two spaces
before `dom` in the real files; any spacing is accepted), `C-F1`/`C-M1`/`A-F1`/`A-M1` the actor's
self-evaluation. Only the consensus line and the `C-E*` labels are kept; the other lines are
checked for syntax so a damaged file is reported, never half-read in silence. A line that does not
parse becomes a `Problem` carrying the utterance id of its block; the rest of the block still counts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from edu_affect_data.corpora.common import UnusableFile, read_source_text, readable_times
from edu_affect_data.corpora.records import Problem, SourceLabels

CONSENSUS_CODES = frozenset(
    {"neu", "hap", "sad", "ang", "exc", "fru", "sur", "fea", "dis", "oth", "xxx"}
)
#: Names of the consensus valence/activation/dominance averages (1.0-5.5) in `SourceLabels.scores`.
DIMENSIONS = ("valence", "activation", "dominance")
#: The Categorical files say `Neutral state` where EmoEvaluation says `Neutral`: one vocabulary out.
_LABEL_ALIASES = {"Neutral state": "Neutral"}

_NUM = r"(\d+(?:\.\d+)?)"
#: Times may be read negative, to be refused by `readable_times` like a transcript's.
_TIME = r"(-?\d+(?:\.\d+)?)"
_HEADER = re.compile(
    rf"^\[\s*{_TIME}\s*-\s*{_TIME}\s*\]\s+(\S+)\s+(\S+)\s+\[\s*{_NUM}\s*,\s*{_NUM}\s*,\s*{_NUM}\s*\]\s*$"
)
_EVALUATOR = re.compile(r"^([CA])-([EFM]\d+):(.*)$")
_COMMENT = re.compile(r"\s*\(.*\)\s*$")
_LABEL = re.compile(r"^[A-Za-z][A-Za-z ]*$")
_DIMENSIONS = re.compile(rf"^val\s+{_NUM}\s*;\s*act\s+{_NUM}\s*;\s*dom\s+{_NUM}\s*;?$")


@dataclass(frozen=True)
class EmoBlock:
    """One utterance's block: its times (recording seconds) and what the evaluators said."""

    utterance_id: str
    start_s: float
    end_s: float
    labels: SourceLabels
    line: int


@dataclass
class EmoEvaluation:
    blocks: dict[str, EmoBlock] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass
class _OpenBlock:
    utterance_id: str | None  # None: the header line itself did not parse
    start_s: float = 0.0
    end_s: float = 0.0
    category: str = ""
    vad: tuple[float, float, float] = (0.0, 0.0, 0.0)
    evaluator_labels: list[str] = field(default_factory=list)
    line: int = 0


def parse_emo_evaluation(path: Path, dialog: str) -> EmoEvaluation:
    """Every readable block of one dialog's EmoEvaluation file, and a Problem per bad line."""
    return _Parser(path, dialog).run()


class _Parser:
    """One pass over the file: a block opens at a `[start - end]` line and closes at a blank line."""

    def __init__(self, path: Path, dialog: str) -> None:
        self.path = path
        self.dialog = dialog
        self.result = EmoEvaluation()

    def report(self, number: int | None, reason: str, utterance_id: str | None) -> None:
        self.result.problems.append(
            Problem(str(self.path), number, reason, self.dialog, utterance_id)
        )

    def run(self) -> EmoEvaluation:
        try:
            lines = read_source_text(self.path).splitlines()
        except UnusableFile as exc:
            self.report(None, exc.describe("EmoEvaluation", "the dialog has no source labels"), None)
            return self.result
        block: _OpenBlock | None = None
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line:
                self.close(block)
                block = None
            elif line.startswith("%"):
                continue
            elif line.startswith("["):
                self.close(block)
                block = self.open_block(line, number)
            elif block is None:
                self.report(number, f"evaluator line outside any utterance block: {line!r}", None)
            elif block.utterance_id is None:
                self.result.skipped["iemocap_emo_lines_of_unreadable_block"] += 1
            else:
                reason = _read_evaluator_line(line, block)
                if reason is not None:
                    self.report(number, reason, block.utterance_id)
        self.close(block)
        return self.result

    def open_block(self, line: str, number: int) -> _OpenBlock:
        match = _HEADER.match(line)
        if match is None:
            guess = re.search(rf"{re.escape(self.dialog)}_\w+", line)
            self.report(
                number,
                f"malformed utterance line (want '[start - end]<TAB>id<TAB>code<TAB>[V, A, D]'): {line!r}",
                guess.group(0) if guess else None,
            )
            return _OpenBlock(None, line=number)
        start, end, utterance_id, code, v, a, d = match.groups()
        problem = None
        if not utterance_id.startswith(f"{self.dialog}_"):
            problem = f"utterance {utterance_id} does not belong to dialog {self.dialog}"
        elif code not in CONSENSUS_CODES:
            problem = f"unknown consensus code {code!r} (want one of {sorted(CONSENSUS_CODES)})"
        else:
            problem = readable_times(float(start), float(end))
        if problem is not None:
            self.report(number, problem, utterance_id)
            return _OpenBlock(None, line=number)
        vad = (float(v), float(a), float(d))
        return _OpenBlock(utterance_id, float(start), float(end), code, vad, line=number)

    def close(self, block: _OpenBlock | None) -> None:
        if block is None or block.utterance_id is None:
            return
        blocks = self.result.blocks
        if block.utterance_id in blocks:
            first = blocks[block.utterance_id].line
            self.report(
                block.line,
                f"second block for {block.utterance_id} (first at line {first})",
                block.utterance_id,
            )
            return
        labels = SourceLabels(
            category=block.category,
            scores=dict(zip(DIMENSIONS, block.vad, strict=True)),
            custom={"evaluator_labels": tuple(block.evaluator_labels)},
        )
        blocks[block.utterance_id] = EmoBlock(
            block.utterance_id, block.start_s, block.end_s, labels, block.line
        )


def _read_evaluator_line(line: str, block: _OpenBlock) -> str | None:
    """Adds a `C-E*` line's labels to the block; returns why the line is malformed, else None."""
    match = _EVALUATOR.match(line)
    if match is None:
        return f"not an evaluator line (want 'C-E1:', 'A-E2:', 'C-F1:' ...): {line!r}"
    kind, who, rest = match.groups()
    body = _COMMENT.sub("", rest).strip()
    if kind == "A":
        if _DIMENSIONS.match(body) is None:
            return f"malformed dimensional line (want 'val N; act N; dom N;'): {line!r}"
        return None
    labels = [token.strip() for token in body.split(";") if token.strip()]
    bad = [label for label in labels if not _LABEL.match(label)]
    if bad:
        return f"malformed categorical labels {bad}: {line!r}"
    if who.startswith("E"):
        block.evaluator_labels.extend(_LABEL_ALIASES.get(label, label) for label in labels)
    return None
