"""Each mechanism's effect where its phenomenon is planted and where it is absent (the claims' control).

A failed ablation on the basic synthetic corpora cannot tell a broken mechanism from a phenomenon
that is not there (nothing in them needs cross-modal alignment or temporal integration). The
`claims` corpora plant one phenomenon per mechanism (`synth_truth.json` key `planted`: time-local
noise for MIE, audio-visual coincidences for CMAA, a persistent state behind weak per-step
evidence for TFL) and `claims-control` holds none of them, at the same sizes and seeds.

Effect of a mechanism on one corpus: per test session, the full model's correctness minus that of
the ablation switching the mechanism off (the other components on), averaged over the seeds both
ran; its mean with the cluster interval over speakers (`significance.mean_interval`). Contrast:
the same per-session effect, planted minus control, on the test sessions both corpora hold (the
control has the same recordings and speakers, so the same sessions when its build kept them).
Rule, fixed before any run: PASS when the planted effect's interval is above 0 and the contrast's
interval is above 0 (the mechanism helps, and helps more where its phenomenon is); FAIL otherwise;
"not evaluated" when a run, the control or the truth that says what is planted is missing. Whatever
the model does with the phenomena is the result: they are never tuned to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edu_emotionnet.claims import ablation_of
from edu_emotionnet.runs import ModelRuns
from edu_emotionnet.significance import (
    RESAMPLES,
    Interval,
    load_outputs,
    match_sessions,
    mean_interval,
)

PASS, FAIL, NOT_EVALUATED = "PASS", "FAIL", "not evaluated"
#: (ablation switch = truth key, display, the phenomenon planted for it).
MECHANISMS: tuple[tuple[str, str, str], ...] = (
    ("mie", "MIE", "time-local modality noise"),
    ("cmaa", "CMAA", "audio-visual coincidences"),
    ("tfl", "TFL feedback", "persistent state behind weak per-step evidence"),
)


@dataclass(frozen=True)
class Corpus:
    """One corpus's runs (grouped) and its `synth_truth.json` (None: not given)."""

    groups: list[ModelRuns]
    truth: Path | None
    data: Path | None = None


@dataclass(frozen=True)
class Effect:
    """Per test session: full − ablation correctness (mean over common seeds), with each session's speaker."""

    ids: list[str]
    values: np.ndarray
    groups: np.ndarray
    unit: str
    seeds: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class MechanismLine:
    mechanism: str
    phenomenon: str
    verdict: str
    planted: Interval | None = None
    control: Interval | None = None
    contrast: Interval | None = None
    note: str = ""


def phenomenon_present(truth: Path | None, switch: str) -> bool | str:
    """Whether `truth` says the phenomenon of `switch` is in its corpus, or why that is unknown.

    Corpora written before `planted` existed answer for MIE from their noise bursts only."""
    if truth is None:
        return "no truth file given"
    if not Path(truth).is_file():
        return f"{truth}: no such file"
    document: dict[str, Any] = json.loads(Path(truth).read_text())
    planted = document.get("planted")
    if planted is None:
        return bool(document.get("noise")) if switch == "mie" else f"{truth} records no planted phenomena (`planted`)"
    return bool(planted.get(switch, {}).get("present", False))


def effect(groups: list[ModelRuns], switch: str, data: Path | None, resamples: int, seed: int) -> tuple[Effect, Interval] | str:
    """The mechanism's per-session effect on one corpus and its interval, or why there is none."""
    full = next((g for g in groups if g.is_full_model), None)
    if full is None:
        return "no full-model run"
    ablation = ablation_of(full, groups, switch)
    if ablation is None:
        return f"no run with model.options.{switch}: false (the other components on)"
    seeds = sorted(set(full.by_seed()) & set(ablation.by_seed()))
    if not seeds:
        return f"no seed in common between {full.name} and {ablation.name}"
    a, b = load_outputs(full, seeds, data), load_outputs(ablation, seeds, data)
    if isinstance(a, str) or isinstance(b, str):
        return str(a if isinstance(a, str) else b)
    matched = match_sessions({**{f"{full.name} seed {s}": a[s] for s in seeds}, **{f"{ablation.name} seed {s}": b[s] for s in seeds}})
    if isinstance(matched, str):
        return matched
    per_seed = []
    for s in seeds:
        ra, rb = a[s].rows(matched.ids), b[s].rows(matched.ids)
        correct_full = (a[s].predicted[ra] == a[s].labels[ra]).astype(float)
        correct_ablation = (b[s].predicted[rb] == b[s].labels[rb]).astype(float)
        per_seed.append(correct_full - correct_ablation)
    values = np.mean(per_seed, axis=0)
    found = Effect(list(matched.ids), values, np.asarray(matched.groups), matched.unit, len(seeds), tuple(matched.notes))
    return found, mean_interval(values, found.groups, resamples, seed, unit=matched.unit)


def contrast(planted: Effect, control: Effect, resamples: int, seed: int) -> tuple[Interval, str] | str:
    """Planted − control per-session effect on the sessions both corpora hold (same id, same speaker)."""
    speaker_of = dict(zip(control.ids, control.groups, strict=True))
    position = {sid: i for i, sid in enumerate(control.ids)}
    common = [i for i, sid in enumerate(planted.ids) if sid in position and speaker_of[sid] == planted.groups[i]]
    if not common:
        return "the planted and control test splits share no session (same recordings and speakers expected)"
    values = np.array([planted.values[i] - control.values[position[planted.ids[i]]] for i in common])
    note = "" if len(common) == len(planted.ids) == len(control.ids) else (
        f"contrast on the {len(common)} sessions both test splits hold ({len(planted.ids)} planted, {len(control.ids)} control)")
    return mean_interval(values, planted.groups[common], resamples, seed, unit=planted.unit), note


def mechanism_lines(planted: Corpus, control: Corpus | None, resamples: int = RESAMPLES, seed: int = 0) -> list[MechanismLine]:
    """One line per mechanism, in `MECHANISMS` order."""
    return [_line(switch, display, phenomenon, planted, control, resamples, seed) for switch, display, phenomenon in MECHANISMS]


def _line(switch: str, display: str, phenomenon: str, planted: Corpus, control: Corpus | None, resamples: int, seed: int) -> MechanismLine:
    def missing(why: str, **found: Any) -> MechanismLine:
        return MechanismLine(display, phenomenon, NOT_EVALUATED, note=f"not evaluated: {why}", **found)

    present = phenomenon_present(planted.truth, switch)
    if isinstance(present, str) or not present:
        return missing(f"planted corpus: {present}" if isinstance(present, str) else f"{planted.truth} records no {phenomenon} (not a planted corpus)")
    on_planted = effect(planted.groups, switch, planted.data, resamples, seed)
    if isinstance(on_planted, str):
        return missing(f"planted runs: {on_planted}")
    planted_effect, planted_interval = on_planted
    notes = [f"{planted_effect.seeds} seeds", *list(planted_effect.notes)]
    if control is None:
        return missing("no control run (pass the claims-control runs with --control)", planted=planted_interval)
    absent = phenomenon_present(control.truth, switch)
    if isinstance(absent, str) or absent:
        why = f"control corpus: {absent}" if isinstance(absent, str) else f"{control.truth} says the {phenomenon} is present (not a control)"
        return missing(why, planted=planted_interval)
    on_control = effect(control.groups, switch, control.data, resamples, seed)
    if isinstance(on_control, str):
        return missing(f"control runs: {on_control}", planted=planted_interval)
    control_effect, control_interval = on_control
    difference = contrast(planted_effect, control_effect, resamples, seed)
    if isinstance(difference, str):
        return missing(difference, planted=planted_interval, control=control_interval)
    contrast_interval, contrast_note = difference
    verdict = PASS if planted_interval.low > 0 and contrast_interval.low > 0 else FAIL
    note = "; ".join(n for n in [*notes, f"control {control_effect.seeds} seeds", *control_effect.notes, contrast_note] if n)
    return MechanismLine(display, phenomenon, verdict, planted_interval, control_interval, contrast_interval, note)


def _pp(interval: Interval | None) -> str:
    if interval is None:
        return "–"
    return (f"{100 * interval.estimate:+.1f} pp [{100 * interval.low + 0.0:+.1f}, {100 * interval.high + 0.0:+.1f}] "
            f"({interval.units})")


def render(lines: list[MechanismLine]) -> list[str]:
    """Markdown of the planted-versus-control table and its rule."""
    out = ["### Mechanisms on planted phenomena and on their control", "",
           "| mechanism | phenomenon planted | effect on planted corpus | effect on control | planted − control | verdict | note |",
           "|---|---|---|---|---|---|---|"]
    for line in lines:
        verdict = f"**{line.verdict}**" if line.verdict in (PASS, FAIL) else line.verdict
        out.append(f"| {line.mechanism} | {line.phenomenon} | {_pp(line.planted)} | {_pp(line.control)} | {_pp(line.contrast)} | {verdict} | {line.note} |")
    out += [
        "",
        "Effect: per test session, accuracy of the full model − accuracy of the ablation switching the mechanism "
        "off, averaged over the seeds both ran, then over sessions; the interval resamples speakers (cluster t "
        "interval, the count beside it). The control corpus (`claims-control`) has the same recordings, speakers "
        "and draws with no phenomenon planted. Rule, fixed before any run: PASS when the effect on the planted "
        "corpus and the planted − control contrast (paired on the sessions both hold) both have intervals above 0.",
        "",
    ]
    return out
