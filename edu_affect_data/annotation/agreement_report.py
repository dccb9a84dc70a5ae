"""The inter-annotator agreement report: its data and its JSON and Markdown forms.

What `compute_agreement` returns and what `live`, the CLI and the aggregate stage read. Writing a
report to a folder and drawing its figures is `agreement_files`'s, so this module needs no
matplotlib and no file system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edu_affect_data.core.stats import Proportion, format_number, json_number
from edu_affect_data.core.vocabulary import ABSTAIN


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% percentile-bootstrap interval over sessions."""

    estimate: float
    ci_low: float
    ci_high: float

    def to_json(self) -> dict[str, float | None]:
        return {
            "estimate": json_number(self.estimate),
            "ci_low": json_number(self.ci_low),
            "ci_high": json_number(self.ci_high),
        }

    def __str__(self) -> str:
        return f"{format_number(self.estimate)} [{format_number(self.ci_low)}, {format_number(self.ci_high)}]"


@dataclass(frozen=True)
class PairKappa:
    """Cohen's kappa of two annotators on the ``n`` sessions both labelled."""

    a: str
    b: str
    kappa: float
    n: int
    ci_low: float
    ci_high: float

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "kappa": json_number(self.kappa),
            "n": self.n,
            "ci_low": json_number(self.ci_low),
            "ci_high": json_number(self.ci_high),
        }


@dataclass(frozen=True)
class GoldAccuracy:
    """One annotator's labels on gold sessions: ``correct`` of ``rated``, Wilson 95% interval.

    ``rated`` counts class votes only; abstentions on gold are counted apart (``abstained``), as
    everywhere else they are missing ratings rather than errors.
    """

    annotator: str
    #: Correct of rated class votes, with its Wilson interval (``core.stats.Proportion``).
    score: Proportion
    abstained: int

    @property
    def correct(self) -> int:
        return self.score.count

    @property
    def rated(self) -> int:
        return self.score.n

    @property
    def accuracy(self) -> float:
        return self.score.estimate

    @property
    def ci_low(self) -> float:
        return self.score.ci_low

    @property
    def ci_high(self) -> float:
        return self.score.ci_high

    def to_json(self) -> dict[str, Any]:
        return {
            "annotator": self.annotator,
            "correct": self.correct,
            "rated": self.rated,
            "abstained": self.abstained,
            "accuracy": json_number(self.accuracy),
            "ci_low": json_number(self.ci_low),
            "ci_high": json_number(self.ci_high),
        }


def per_session_text(counts: dict[int, int], noun: str = "rating") -> str:
    """{2: 180, 3: 55} -> '2 ratings: 180 sessions, 3 ratings: 55 sessions'."""
    return ", ".join(f"{k} {noun}{'s' if k != 1 else ''}: {v} session{'s' if v != 1 else ''}"
                     for k, v in counts.items()) or "none"


@dataclass(frozen=True)
class AgreementReport:
    """Inter-annotator agreement of one annotation round.

    ``consensus`` maps each session with a consensus to it (the strict-majority rule of
    ``majority``, the one that publishes labels). ``confusion[annotator]`` is a K x K count matrix,
    rows = consensus label, columns = that annotator's label, in ``classes`` order, over the sessions
    with a consensus. "Cannot tell" votes are not ratings of the statistics (``cannot_tell`` counts
    them per annotator), though they count against a majority. Fleiss' kappa needs the same
    number of raters per session: it uses the ``fleiss_n_sessions`` sessions with the modal number of
    ratings (``fleiss_raters``); Cohen's kappa and Krippendorff's alpha use every session.
    ``ratings_per_session`` says how many sessions had how many ratings (abstentions not counted;
    ``votes_per_session`` counts them), so a mix of 2 and 3 ratings is visible.

    ``gold_accuracy`` measures each annotator on the gold sessions (known labels); those sessions
    are left out of every other figure (``gold_left_out``) unless ``gold_included``. ``dropped``
    counts annotations of a Label Studio export that were not ratings, by why.
    """

    classes: list[str]
    annotators: list[str]
    n_sessions: int
    n_ratings: int
    cohen_kappa_mean: Estimate
    cohen_kappa_pairwise: list[PairKappa]
    per_class_kappa: dict[str, Estimate]
    fleiss_kappa: Estimate
    fleiss_n_sessions: int
    fleiss_raters: int
    krippendorff_alpha: Estimate
    observed_agreement: Estimate
    confusion: dict[str, list[list[int]]]
    ratings_per_annotator: dict[str, int]
    cannot_tell: dict[str, int]
    n_boot: int
    seed: int
    notes: list[str] = field(default_factory=list)
    consensus: dict[str, str] = field(default_factory=dict)
    abstain: str = ABSTAIN
    ratings_per_session: dict[int, int] = field(default_factory=dict)
    votes_per_session: dict[int, int] = field(default_factory=dict)
    gold_accuracy: list[GoldAccuracy] = field(default_factory=list)
    gold_sessions: int = 0
    gold_left_out: int = 0
    gold_included: bool = False
    dropped: dict[str, int] = field(default_factory=dict)
    #: Krippendorff's coincidence matrix (classes x classes): every ordered pair of two ratings of
    #: one session, weighted 1/(m-1) for a session of m ratings; sessions of one rating add nothing.
    #: It needs no consensus, so unlike `confusion` it is not biased when a session's own votes
    #: decide its consensus (adaptive overlap, two ratings).
    coincidence: list[list[float]] = field(default_factory=list)
    #: Only each session's first this many ratings entered (`agreement.first_ratings`); None: all.
    first_ratings: int | None = None

    @property
    def n_annotators(self) -> int:
        return len(self.annotators)

    def kappa_matrix(self) -> np.ndarray:
        """Symmetric annotators x annotators pairwise kappa, 1 on the diagonal, NaN without overlap."""
        index = {name: i for i, name in enumerate(self.annotators)}
        matrix = np.full((self.n_annotators, self.n_annotators), np.nan)
        np.fill_diagonal(matrix, 1.0)
        for pair in self.cohen_kappa_pairwise:
            matrix[index[pair.a], index[pair.b]] = matrix[index[pair.b], index[pair.a]] = pair.kappa
        return matrix

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN written as null)."""
        return {
            "n_sessions": self.n_sessions,
            "n_annotators": self.n_annotators,
            "n_ratings": self.n_ratings,
            "classes": self.classes,
            "annotators": self.annotators,
            "cohen_kappa_mean": self.cohen_kappa_mean.to_json(),
            "cohen_kappa_pairwise": [pair.to_json() for pair in self.cohen_kappa_pairwise],
            "per_class_kappa": {
                label: value.to_json() for label, value in self.per_class_kappa.items()
            },
            "fleiss_kappa": {
                **self.fleiss_kappa.to_json(),
                "n_sessions": self.fleiss_n_sessions,
                "raters_per_session": self.fleiss_raters,
            },
            "krippendorff_alpha": self.krippendorff_alpha.to_json(),
            "observed_agreement": self.observed_agreement.to_json(),
            "confusion": {
                name: {
                    "labels": self.classes,
                    "rows": "consensus",
                    "columns": "annotator",
                    "matrix": matrix,
                }
                for name, matrix in self.confusion.items()
            },
            "consensus": self.consensus,
            "ratings_per_annotator": self.ratings_per_annotator,
            "abstain": self.abstain,
            "cannot_tell": self.cannot_tell,
            "ratings_per_session": {str(k): v for k, v in self.ratings_per_session.items()},
            "votes_per_session": {str(k): v for k, v in self.votes_per_session.items()},
            "gold": {
                "sessions": self.gold_sessions,
                "left_out_of_agreement": self.gold_left_out,
                "included_in_agreement": self.gold_included,
                "interval": "wilson 95%",
                "accuracy": [entry.to_json() for entry in self.gold_accuracy],
            },
            "dropped": self.dropped,
            "coincidence": {
                "labels": self.classes,
                "matrix": self.coincidence,
                "what": "Krippendorff's coincidences: ordered pairs of ratings of one session, weighted 1/(m-1)",
            },
            "bootstrap": {
                "n_boot": self.n_boot,
                "seed": self.seed,
                "level": 0.95,
                "unit": "session",
            },
            "notes": self.notes,
        }

    def summary_rows(self) -> list[tuple[str, Estimate]]:
        """(statistic name, estimate) in display order, shared by the Markdown and terminal views."""
        return [
            ("Cohen's kappa (mean over pairs)", self.cohen_kappa_mean),
            (
                f"Fleiss' kappa ({self.fleiss_n_sessions} sessions x {self.fleiss_raters} raters)",
                self.fleiss_kappa,
            ),
            ("Krippendorff's alpha (nominal)", self.krippendorff_alpha),
            ("Observed agreement (mean pairwise)", self.observed_agreement),
        ]

    def _gold_markdown(self) -> list[str]:
        if not self.gold_accuracy:
            return []
        kept = "included in" if self.gold_included else "left out of"
        lines = [
            "",
            "## Accuracy on gold sessions",
            "",
            f"{self.gold_sessions} gold session(s) with votes, {kept} the agreement figures above. "
            "95% Wilson intervals.",
            "",
            f"| annotator | correct | rated | accuracy | 95% CI | {self.abstain} |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {g.annotator} | {g.correct} | {g.rated} | {format_number(g.accuracy)} | "
            f"[{format_number(g.ci_low)}, {format_number(g.ci_high)}] | {g.abstained} |"
            for g in self.gold_accuracy
        ]
        return lines

    def to_markdown(self) -> str:
        """The report as Markdown tables."""
        lines = [
            "# Inter-annotator agreement",
            "",
            f"{self.n_sessions} sessions, {self.n_annotators} annotators, {self.n_ratings} ratings. "
            f"95% intervals: percentile bootstrap over sessions, {self.n_boot} resamples, seed {self.seed}.",
            "",
            f"Ratings per session: {per_session_text(self.ratings_per_session)} "
            f"('{self.abstain}' not counted; with them: {per_session_text(self.votes_per_session, 'vote')}).",
            "",
            "| statistic | estimate | 95% CI |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {name} | {format_number(e.estimate)} | [{format_number(e.ci_low)}, {format_number(e.ci_high)}] |"
            for name, e in self.summary_rows()
        ]
        lines += [
            "",
            "## Cohen's kappa per annotator pair",
            "",
            "| a | b | n | kappa | 95% CI |",
            "|---|---|---:|---:|---:|",
        ]
        lines += [
            f"| {p.a} | {p.b} | {p.n} | {format_number(p.kappa)} | [{format_number(p.ci_low)}, {format_number(p.ci_high)}] |"
            for p in self.cohen_kappa_pairwise
        ]
        lines += [
            "",
            "## Per-class kappa (one vs rest, mean over pairs)",
            "",
            "| class | kappa | 95% CI |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {label} | {format_number(e.estimate)} | [{format_number(e.ci_low)}, {format_number(e.ci_high)}] |"
            for label, e in self.per_class_kappa.items()
        ]
        lines += [
            "",
            "## Annotators",
            "",
            f"| annotator | ratings | {self.abstain} |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {name} | {self.ratings_per_annotator[name]} | {self.cannot_tell[name]} |"
            for name in self.annotators
        ]
        lines += self._gold_markdown()
        if self.dropped:
            lines += [
                "",
                "## Annotations dropped from the export",
                "",
                "| why | annotations |",
                "|---|---:|",
            ]
            lines += [f"| {why} | {count} |" for why, count in self.dropped.items()]
        if self.coincidence:
            lines += [
                "",
                "## Coincidences: which labels the ratings of one session pair with",
                "",
                "Krippendorff's coincidence matrix (`coincidence.png`): every ordered pair of two ratings of one "
                "session, weighted 1/(m-1) for a session of m ratings; the diagonal is agreement. No consensus "
                "enters it, so it is fair under adaptive overlap, where a session's own two votes often decide "
                "its consensus.",
                "",
                "| rating \\ other rating | " + " | ".join(self.classes) + " |",
                "|---|" + "---:|" * len(self.classes),
            ]
            lines += [
                f"| {label} | " + " | ".join(f"{value:.1f}" for value in row) + " |"
                for label, row in zip(self.classes, self.coincidence, strict=True)
            ]
        lines += [
            "",
            "## Confusion against the consensus (rows: consensus, columns: annotator)",
            "",
            f"{len(self.consensus)} of {self.n_sessions} sessions have a consensus (strict majority of all "
            f"votes, '{self.abstain}' included, the rule that publishes labels).",
        ]
        for name, matrix in self.confusion.items():
            lines += [
                "",
                f"### {name}",
                "",
                "| consensus \\ annotator | " + " | ".join(self.classes) + " |",
                "|---|" + "---:|" * len(self.classes),
            ]
            lines += [
                f"| {label} | " + " | ".join(str(v) for v in row) + " |"
                for label, row in zip(self.classes, matrix, strict=True)
            ]
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"
