"""What `edu-data predict` says: every step, then one verdict, as a table, JSON or CSV.

The verdict is the session prediction exactly as `evaluate` scores a session: the model's
`session_prediction` rule (`tfl.session_log_probs`: the last step's distribution, or the mean over
the steps) applied to the streamed step outputs, so the class printed for a test session is the
one its row of the confusion matrix counts. Each form names what it was run on (a dataset
session, with its split and dataset folder and true label; or a recording, with the picture's
region and the modalities found) and how the model was streamed (incrementally, or by re-running
the prefix for a model without a step-wise form).

`table` is for a person (stdout). `json` and `csv` are for programs: stdout holds the document
and nothing else, and what a person needs besides (the notes, the verdict line) goes to stderr.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from edu_affect_data.core.vocabulary import CLASSES
from edu_emotionnet.streaming import StepOutput
from edu_emotionnet.tfl import session_log_probs

#: `predict --format`.
OutputFormat = Literal["table", "json", "csv"]


@dataclass(frozen=True)
class Verdict:
    """The session's predicted class, its probability, the whole distribution, and the rule that made it."""

    label: str
    probability: float
    probs: dict[str, float]
    rule: str


def verdict_of(steps: list[StepOutput], session_prediction: str) -> Verdict:
    """The session prediction from the streamed steps, by the model's own rule (`tfl.session_log_probs`)."""
    if not steps:
        raise ValueError("no steps were streamed: the input is shorter than one step")
    probs = torch.tensor([[s.probs[c] for c in CLASSES] for s in steps], dtype=torch.float64)
    session = session_log_probs(probs.clamp_min(1e-12).log()[None], torch.ones(1, len(steps), dtype=torch.bool), session_prediction)[0].exp()
    best = int(session.argmax())
    rule = f"the last step's distribution (step {len(steps)})" if session_prediction == "last" else f"the mean over its {len(steps)} steps"
    return Verdict(CLASSES[best], float(session[best]), {c: float(p) for c, p in zip(CLASSES, session, strict=True)}, rule)


@dataclass(frozen=True)
class PredictionReport:
    """One `predict` run: what went in, how it streamed, every step and the verdict."""

    run: str
    #: What it was run on: `kind` "session" (session_id, split, dataset, true_label) or "media"
    #: (path, region, duration_s, modalities_present, features_from).
    source: dict[str, Any]
    streaming: str
    inputs: dict[str, str]
    steps: list[StepOutput]
    verdict: Verdict
    notes: list[str] = field(default_factory=list)

    def described(self) -> str:
        """What it was run on, in words (the verdict line's end)."""
        s = self.source
        if s["kind"] == "session":
            return f"session {s['session_id']} ({s['split']} split of {s['dataset']}; true label {s['true_label']})"
        present = ", ".join(s["modalities_present"]) or "no modality"
        return f"{s['path']} ({s['duration_s']:.2f} s, region {s['region']}; {present})"

    def verdict_line(self) -> str:
        v = self.verdict
        return f"verdict: {v.label} (probability {v.probability:.3f}, {v.rule}) on {self.described()}"

    def preamble(self) -> list[str]:
        """The lines before the steps: the input, the notes, how it streams."""
        s = self.source
        if s["kind"] == "session":
            first = f"session {s['session_id']}: true label {s['true_label']} ({s['split']} split of {s['dataset']})"
        else:
            first = (f"media {s['path']}: {s['duration_s']:.2f} s, modalities {', '.join(s['modalities_present']) or 'none'}; "
                     f"region {s['region']}; features as in {s['features_from']}")
        inputs = ", ".join(f"{m} {column}" for m, column in self.inputs.items())
        return [first, *(f"note: {n}" for n in self.notes), f"streaming: {self.streaming}; inputs: {inputs}"]

    def table(self) -> str:
        lines = [*self.preamble(), "step  " + " ".join(f"{c[:10]:>10}" for c in CLASSES) + "  prediction  weights  latency"]
        for s in self.steps:
            probs = " ".join(f"{s.probs[c]:10.3f}" for c in CLASSES)
            weights = " ".join(f"{m[0]}={w:.2f}" for m, w in s.weights.items()) if s.weights else "-"
            lines.append(f"{s.step + 1:>4}  {probs}  {s.label:<10}  {weights}  {s.latency_ms:.1f} ms")
        return "\n".join([*lines, self.verdict_line()])

    def json(self) -> str:
        """The whole prediction as one JSON document (steps numbered from 1, as in the table)."""
        document = {
            "run": self.run,
            "source": self.source,
            "streaming": self.streaming,
            "inputs": self.inputs,
            "notes": self.notes,
            "steps": [
                {"step": s.step + 1, "probs": s.probs, "prediction": s.label, "weights": s.weights, "latency_ms": s.latency_ms}
                for s in self.steps
            ],
            "verdict": {"label": self.verdict.label, "probability": self.verdict.probability,
                        "probs": self.verdict.probs, "rule": self.verdict.rule},
        }
        return json.dumps(document, indent=2)

    def csv(self) -> str:
        """One row per step: step, a probability column per class, prediction, a weight column per modality, latency_ms."""
        modalities = list(self.steps[0].weights) if self.steps and self.steps[0].weights else []
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["step", *CLASSES, "prediction", *(f"weight_{m}" for m in modalities), "latency_ms"])
        for s in self.steps:
            weights = [f"{(s.weights or {})[m]:.6f}" for m in modalities]
            writer.writerow([s.step + 1, *(f"{s.probs[c]:.6f}" for c in CLASSES), s.label, *weights, f"{s.latency_ms:.3f}"])
        return buffer.getvalue().rstrip("\n")

    def render(self, form: OutputFormat) -> tuple[str, list[str]]:
        """(stdout, stderr lines) for `form`: a table is all stdout; JSON or CSV alone on stdout, the rest on stderr."""
        if form == "table":
            return self.table(), []
        return (self.json() if form == "json" else self.csv()), [*self.preamble(), self.verdict_line()]
