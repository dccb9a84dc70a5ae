"""The paper's claims, checked on synthetic corpora whose truth is known ("Paper claims on synthetic data").

One line per claim: the measured figure, its 95 % interval and PASS/FAIL by a rule fixed here in
advance (never tuned to the outcome). A claim whose inputs are missing (no truth file, a run
absent, one seed and no per-session outputs) reads "not evaluated: <why>", never PASS.

(a) MIE down-weights a modality while it is noisy (paper Fig. 3): per test session and modality m,
    mean MIE weight of m on the steps overlapping a planted burst of m minus its mean weight on the
    session's other steps, averaged over the full model's seeds, then over sessions; interval over
    speakers. PASS when the interval is below 0 (per modality, and pooled).
(b) The full model beats every unimodal baseline and early/late fusion (Table II): PASS when every
    difference in test macro-F1 is positive and significant at the paper's Table II level
    (`CLAIM_B_ALPHA`, Holm-adjusted p < 0.01) on every paired test of `edu_emotionnet.significance`
    that could be computed (t-test over seeds, bootstrap over
    speakers).
(c) Each ablation lowers macro-F1 (Table III): per ablation, PASS when ablation - full is negative
    and significant (Holm-adjusted p < 0.05).
(d) At 60 % missing modalities accuracy drops less for the full model than for late fusion
    (Fig. 5): drop = accuracy at rate 0 - accuracy at rate 0.6 (`robustness.modality`); measured
    drop(late fusion) - drop(full), averaged over paired seeds; PASS when its interval is above 0.
(e) TFL makes predictions temporally coherent: prediction flips per session (the step argmax
    changing between consecutive steps), full model - (-TFL feedback ablation: the feedback alone
    switched off, the KL consistency term kept, so the claim is not true by construction), paired over test sessions
    and seeds; PASS when the interval is below 0.

The section ends with `mechanisms`' table: each mechanism's effect (full − ablation) on the corpus
where its phenomenon is planted and on the control where it is absent (`synth_truth.json` `planted`).

Every interval resamples test speakers, each with all of its test sessions, and is the cluster t
interval of `significance.mean_interval` / `significance.paired_bootstrap`; each is printed with
its number of speakers. Runs are compared on the test sessions all of them scored
(`significance.match_sessions`: the others are named in the note).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edu_emotionnet.evaluate import robustness_key
from edu_emotionnet.registry import ReportRole, models_with_role
from edu_emotionnet.runs import ModelRuns
from edu_emotionnet.significance import (
    ALPHA,
    RESAMPLES,
    Comparison,
    Interval,
    Matched,
    SessionOutputs,
    load_outputs,
    match_sessions,
    mean_interval,
)

PASS, FAIL, NOT_EVALUATED = "PASS", "FAIL", "not evaluated"
#: Claim (d): the missing rate compared with the clean pass (the model compared against holds the
#: registry's `claim_d` role).
MISSING_RATE = 0.6
#: Claim (b)'s significance level: the paper's Table II reports its gains over the unimodal and
#: early/late fusion baselines at p < 0.01 (Table I and the ablations at p < 0.05, `ALPHA`).
CLAIM_B_ALPHA = 0.01
#: Claim (e) is about the temporal feedback loop: the full model's option that switches it off.
FEEDBACK_SWITCH = "tfl"
#: The optional dataset column saying which half of a two-speaker video a session is (IEMOCAP).
REGION_COLUMN = "video_region"


@dataclass(frozen=True)
class ClaimLine:
    claim: str  # "(a) audio"
    verdict: str  # PASS, FAIL or "not evaluated"
    value: float | None = None  # the measured figure (units: see `measured`)
    low: float | None = None  # its 95 % interval
    high: float | None = None
    measured: str = ""  # the figure in words
    note: str = ""  # what else a reader must know (why not evaluated, which test decided)
    units: str = ""  # what the interval resampled: "8 speakers, 40 sessions"


def _missing(claim: str, why: str) -> ClaimLine:
    return ClaimLine(claim, NOT_EVALUATED, note=f"not evaluated: {why}")


def _interval_below_zero(claim: str, interval: Interval, measured: str, note: str = "") -> ClaimLine:
    verdict = PASS if interval.high < 0 else FAIL
    return ClaimLine(claim, verdict, interval.estimate, interval.low, interval.high, measured, note, interval.units)


def _joined(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


# --- (a) MIE weights during planted noise -------------------------------------------------------------


@dataclass(frozen=True)
class SessionPlace:
    """Where a test session lies in its recording (dataset columns)."""

    corpus: str
    recording: str
    start_s: float
    end_s: float
    region: str | None  # `video_region` when the dataset has it


def load_noise(truth: Path | None) -> list[dict[str, Any]] | str:
    """The planted bursts of `synth_truth.json` (key `noise`), or why there are none."""
    if truth is None:
        return "no truth file given (--truth synth_truth.json)"
    if not Path(truth).is_file():
        return f"{truth}: no such file"
    document = json.loads(Path(truth).read_text())
    if not document.get("noise"):
        return f"{truth} records no time-local noise (`noise`): corpora generated without noise bursts"
    return list(document["noise"])


def split_places(data_dir: Path) -> tuple[dict[str, SessionPlace], bool] | str:
    """session id -> place for the test split (only the metadata columns are read), and whether the
    dataset says each session's video region."""
    import pyarrow.parquet as pq

    from edu_affect_data.core.parquet import read_table

    files = sorted(Path(data_dir).glob("data/test-*"))
    if not files:
        return f"dataset {data_dir}: no data/test-* files"
    places: dict[str, SessionPlace] = {}
    has_region = all(REGION_COLUMN in pq.read_schema(f).names for f in files)
    columns = ["session_id", "corpus", "source_id", "start_s", "end_s"] + ([REGION_COLUMN] if has_region else [])
    for f in files:
        for row in read_table(f, columns).to_pylist():
            places[str(row["session_id"])] = SessionPlace(
                str(row["corpus"]), str(row["source_id"]), float(row["start_s"]), float(row["end_s"]),
                str(row[REGION_COLUMN]) if has_region else None,
            )
    return places, has_region


def burst_steps(place: SessionPlace, bursts: list[dict[str, Any]], modality: str, n_steps: int, step_s: float) -> np.ndarray:
    """(n_steps,) bool: the steps of the session's grid that overlap a burst of `modality`.

    Step t covers [start_s + t step_s, start_s + (t+1) step_s), cut at the session's end. A burst's
    `region` left/right names one speaker of a two-speaker recording (IEMOCAP: an occluded face, that
    speaker's garbled words), so it applies to the session of that `video_region` only; when the
    dataset does not say a session's region (`place.region` None) it applies to every session of the
    recording. Region `full` (audio, MOSEI) applies to every session of the recording.
    """
    hit = np.zeros(n_steps, dtype=bool)
    starts = place.start_s + step_s * np.arange(n_steps)
    ends = np.minimum(starts + step_s, place.end_s)
    for b in bursts:
        if b["modality"] != modality or b["corpus"] != place.corpus or b["recording"] != place.recording:
            continue
        region = b.get("region", "full")
        if region not in (None, "full") and place.region is not None and region != place.region:
            continue
        hit |= (float(b["start_s"]) < ends) & (float(b["end_s"]) > starts)
    return hit


def weight_dips(full: ModelRuns | None, truth: Path | None, data: Path | None, resamples: int = RESAMPLES, seed: int = 0) -> list[ClaimLine]:
    """Claim (a), one line per modality of the full model and one pooled."""
    if full is None:
        return [_missing("(a) MIE weight lower during planted noise", "no full-model run")]
    noise = load_noise(truth)
    if isinstance(noise, str):
        return [_missing("(a) MIE weight lower during planted noise", noise)]
    runs = full.by_seed()
    outputs = load_outputs(full, sorted(runs), data)
    if isinstance(outputs, str):
        return [_missing("(a) MIE weight lower during planted noise", outputs)]
    matched = match_sessions({f"{full.name} seed {s}": o for s, o in outputs.items()})
    if isinstance(matched, str):
        return [_missing("(a) MIE weight lower during planted noise", matched)]
    speaker_of = dict(zip(matched.ids, matched.groups, strict=True))
    # (session, modality) -> per-seed differences; sessions pooled over seeds afterwards.
    diffs: dict[tuple[str, str], list[float]] = defaultdict(list)
    notes: set[str] = set(matched.notes)
    by_recording: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for b in noise:
        by_recording[(str(b["corpus"]), str(b["recording"]))].append(b)
    modalities: tuple[str, ...] = ()
    places_of: dict[Path, tuple[dict[str, SessionPlace], bool] | str] = {}
    for s, out in outputs.items():
        result, folder = runs[s]
        directory = full.dataset_of(folder, data)
        if out.weights is None:
            return [_missing("(a) MIE weight lower during planted noise", f"{full.name} seed {s} saved no MIE weights")]
        if isinstance(directory, str):
            return [_missing("(a) MIE weight lower during planted noise", directory)]
        if not directory.is_dir():
            return [_missing("(a) MIE weight lower during planted noise", f"dataset {directory} not found (pass --data)")]
        if directory not in places_of:
            places_of[directory] = split_places(directory)
        found = places_of[directory]
        if isinstance(found, str):
            return [_missing("(a) MIE weight lower during planted noise", found)]
        places, has_region = found
        if not has_region and any(b.get("region") in ("left", "right") for b in noise):
            notes.add(f"the dataset has no `{REGION_COLUMN}` column: one speaker's (left/right) bursts applied to both speakers' sessions")
        step_s = float(result["config"]["model"]["step_s"])
        modalities = out.modalities
        unplaced = [sid for sid in out.session_ids if sid not in places]
        if len(unplaced) == len(out.session_ids):
            return [_missing("(a) MIE weight lower during planted noise", f"none of the test sessions is in dataset {directory} (pass --data)")]
        if unplaced:
            notes.add(f"{len(unplaced)} of {len(out.session_ids)} test sessions not in dataset {directory}: left out")
        for i, sid in enumerate(out.session_ids):
            if sid not in places or sid not in speaker_of:
                continue
            weights = out.weights[i][~np.isnan(out.weights[i][:, 0])].astype(float)
            bursts = by_recording.get((places[sid].corpus, places[sid].recording), [])
            for k, m in enumerate(modalities):
                burst = burst_steps(places[sid], bursts, m, len(weights), step_s)
                available = weights[:, k] > 0  # MIE multiplies by availability: 0 exactly where m was missing
                inside, outside = burst & available, ~burst & available
                if inside.any() and outside.any():
                    diffs[(sid, m)].append(float(weights[inside, k].mean() - weights[outside, k].mean()))
    lines = []
    per_session: dict[str, list[float]] = defaultdict(list)
    for m in modalities:
        values = {sid: float(np.mean(v)) for (sid, mm), v in diffs.items() if mm == m}
        for sid, v in values.items():
            per_session[sid].append(v)
        claim = f"(a) MIE weight of {m} lower during its planted noise"
        if not values:
            lines.append(_missing(claim, f"no test session has steps both in and out of a planted {m} burst"))
            continue
        lines.append(_weight_line(claim, values, speaker_of, matched.unit, resamples, seed, "; ".join(sorted(notes))))
    claim = "(a) MIE weight lower during planted noise, all modalities pooled"
    if not per_session:
        lines.append(_missing(claim, "no test session overlaps a planted burst"))
    else:
        pooled = {sid: float(np.mean(v)) for sid, v in per_session.items()}
        lines.append(_weight_line(claim, pooled, speaker_of, matched.unit, resamples, seed, "; ".join(sorted(notes))))
    return lines


def _weight_line(
    claim: str, values: dict[str, float], speaker_of: dict[str, Any], unit: str, resamples: int, seed: int, note: str
) -> ClaimLine:
    """One (a) line: per-session weight differences, their mean and its interval over speakers."""
    interval = mean_interval(np.array(list(values.values())), np.array([speaker_of[sid] for sid in values]), resamples, seed, unit=unit)
    measured = f"weight in burst − outside: {interval.estimate:+.3f} over {len(values)} sessions"
    return _interval_below_zero(claim, interval, measured, note)


# --- (b), (c) from the paired tests --------------------------------------------------------------------


def _test_note(c: Comparison) -> str:
    parts = [f"t-test p (Holm) {c.p_holm:.2g}" if c.p_holm is not None else f"no t-test ({c.t.reason})",
             f"bootstrap p (Holm) {c.boot_p_holm:.2g}" if c.boot_p_holm is not None else f"no bootstrap ({c.boot_reason})"]
    return ", ".join([*parts, *([c.note] if c.note else [])])


def beats_baselines(groups: list[ModelRuns], comparisons: list[Comparison], alpha: float = CLAIM_B_ALPHA) -> ClaimLine:
    """Claim (b) on the macro-F1 comparisons."""
    claim = "(b) full model beats every unimodal baseline and early/late fusion"
    absent = _absent(groups, "claim_b")
    if absent:
        return _missing(claim, f"no run of {', '.join(absent)}")
    names = {g.name for g in groups if g.has_role("claim_b")}
    rows = [c for c in comparisons if c.other in names]
    untested = [c for c in rows if c.significant(alpha) is None]
    if not rows or untested:
        return _missing(claim, "; ".join(f"{c.other}: {_test_note(c)}" for c in untested) or "no full-model run")
    weakest = min(rows, key=lambda c: c.t.mean_diff)
    failing = [c for c in rows if not (c.t.mean_diff > 0 and c.significant(alpha))]
    measured = (f"Δ macro-F1 (full − baseline) {100 * min(c.t.mean_diff for c in rows):+.1f} to "
                f"{100 * max(c.t.mean_diff for c in rows):+.1f} pp over {len(rows)} baselines; smallest vs {weakest.other}")
    note = "; ".join(f"{c.other}: Δ {100 * c.t.mean_diff:+.1f} pp, {_test_note(c)}" for c in rows)
    low, high = (weakest.boot.low, weakest.boot.high) if weakest.boot else (None, None)
    verdict = FAIL if failing else PASS
    if failing:
        note = f"not positive and significant at {alpha:g}: {', '.join(c.other for c in failing)}. " + note
    return ClaimLine(claim, verdict, weakest.t.mean_diff, low, high, measured, note, weakest.boot.units if weakest.boot else "")


def _absent(groups: list[ModelRuns], role: ReportRole) -> list[str]:
    """The registered models holding `role` that no run is of."""
    return [arch for arch in models_with_role(role) if not any(g.arch == arch and g.has_role(role) for g in groups)]


def ablation_of(full: ModelRuns, groups: list[ModelRuns], switch: str) -> ModelRuns | None:
    """The run of `full`'s arch with exactly its component `switch` off (the other components on)."""
    return next((g for g in groups if g.arch == full.arch and g.switched_off == (switch,)), None)


def ablations_lower(full: ModelRuns, groups: list[ModelRuns], comparisons: list[Comparison], alpha: float = ALPHA) -> list[ClaimLine]:
    """Claim (c): one line per component of the full model switched off (ablation - full, macro-F1)."""
    by_name = {c.other: c for c in comparisons}
    lines = []
    for switch, label in full.place.ablations.items():
        claim = f"(c) ablation {label} lowers macro-F1"
        runs = ablation_of(full, groups, switch)
        if runs is None or runs.name not in by_name:
            lines.append(_missing(claim, f"no run with model.options.{switch}: false (the other components on)" if runs is None else "no full-model run"))
            continue
        c = by_name[runs.name]
        significant = c.significant(alpha)
        if significant is None:
            lines.append(_missing(claim, f"{runs.name}: {_test_note(c)}"))
            continue
        value = -c.t.mean_diff
        low, high = (-c.boot.high, -c.boot.low) if c.boot else (None, None)
        verdict = PASS if value < 0 and significant else FAIL
        measured = f"Δ macro-F1 ({runs.name} − full) {100 * value:+.1f} pp over {len(c.seeds)} seeds"
        lines.append(ClaimLine(claim, verdict, value, low, high, measured, _test_note(c), c.boot.units if c.boot else ""))
    return lines


# --- (d) missing modalities --------------------------------------------------------------------------


def _accuracy_at(result: dict[str, Any], rate: float) -> float | None:
    rows = result.get("robustness", {}).get("modality", [])
    return next((float(r["accuracy"]) for r in rows if math.isclose(float(r["rate"]), rate, abs_tol=1e-9)), None)


def graceful_degradation(
    full: ModelRuns | None, groups: list[ModelRuns], resamples: int = RESAMPLES, seed: int = 0, data: Path | None = None
) -> ClaimLine:
    """Claim (d): drop(late fusion) - drop(full) of accuracy from rate 0 to 0.6 (whole modalities missing)."""
    claim = f"(d) accuracy at {100 * MISSING_RATE:.0f} % missing modalities drops less than late fusion's"
    late = next((g for g in groups if g.has_role("claim_d")), None)
    if full is None or late is None:
        return _missing(claim, "no full-model run" if full is None else f"no run of {', '.join(models_with_role('claim_d')) or 'a claim (d) model'}")
    mine, theirs = full.by_seed(), late.by_seed()
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        return _missing(claim, f"no seed in common with {late.name}")
    drops = []
    for s in seeds:
        values = [_accuracy_at(runs[s][0], rate) for runs in (mine, theirs) for rate in (0.0, MISSING_RATE)]
        if any(v is None for v in values):
            return _missing(claim, f"seed {s}: no rate 0 and {MISSING_RATE:g} rows in robustness.modality (eval.missing_rates)")
        f0, f6, l0, l6 = (float(v) for v in values)  # type: ignore[arg-type]
        drops.append(((f0 - f6), (l0 - l6)))
    full_drop, late_drop = (float(np.mean(x)) for x in zip(*drops, strict=True))
    value = late_drop - full_drop
    measured = f"accuracy drop 0 → {100 * MISSING_RATE:.0f} %: full {100 * full_drop:.1f} pp, {late.name} {100 * late_drop:.1f} pp; difference {100 * value:+.1f} pp"
    interval = _session_drop_interval(full, late, seeds, resamples, seed, data)
    if isinstance(interval, str):
        if len(seeds) < 2:
            return ClaimLine(claim, NOT_EVALUATED, value, None, None, measured, f"not evaluated: 1 seed and {interval}")
        from scipy import stats

        per_seed = np.array([late_d - full_d for full_d, late_d in drops])
        if np.allclose(per_seed, per_seed[0], rtol=0, atol=1e-12):
            return ClaimLine(claim, NOT_EVALUATED, value, None, None, measured,
                             f"not evaluated: the difference is the same for every seed (no t interval) and {interval}")
        low, high = stats.t.interval(0.95, len(per_seed) - 1, loc=per_seed.mean(), scale=stats.sem(per_seed))
        note, units = f"interval: t over {len(seeds)} seeds ({interval})", f"{len(seeds)} seeds"
    else:
        (low, high), units = (interval[0].low, interval[0].high), interval[0].units
        note = _joined(f"interval: speaker bootstrap over test sessions, {len(seeds)} seeds", interval[1])
    return ClaimLine(claim, PASS if low > 0 else FAIL, value, float(low), float(high), measured, note, units)


def _session_drop_interval(
    full: ModelRuns, late: ModelRuns, seeds: list[int], resamples: int, seed: int, data: Path | None
) -> tuple[Interval, str] | str:
    """The interval over speakers of [late fusion's - the full model's] per-session accuracy drop, and
    the note on its sessions; or why there is none."""
    key = robustness_key("modality", MISSING_RATE)
    a, b = load_outputs(full, seeds, data), load_outputs(late, seeds, data)
    if isinstance(a, str) or isinstance(b, str):
        return str(a if isinstance(a, str) else b)
    if not all(key in o.robustness for o in [*a.values(), *b.values()]):
        return f"no per-session predictions at {key} in {full.name}'s or {late.name}'s test outputs (evaluate again)"
    matched = _matched(full, a, late, b)
    if isinstance(matched, str):
        return matched
    per_session = []
    for s in seeds:
        ra, rb = a[s].rows(matched.ids), b[s].rows(matched.ids)
        correct = [(o.predicted[r] == o.labels[r]).astype(float) - (o.robustness[key][r] == o.labels[r]).astype(float)
                   for o, r in ((a[s], ra), (b[s], rb))]
        per_session.append(correct[1] - correct[0])
    return mean_interval(np.mean(per_session, axis=0), matched.groups, resamples, seed, unit=matched.unit), matched.note


def _matched(full: ModelRuns, a: dict[int, SessionOutputs], other: ModelRuns, b: dict[int, SessionOutputs]) -> Matched | str:
    """`significance.match_sessions` over the seeds of two runs."""
    return match_sessions({**{f"{full.name} seed {s}": o for s, o in a.items()}, **{f"{other.name} seed {s}": o for s, o in b.items()}})


# --- (e) prediction flips ---------------------------------------------------------------------------


def prediction_flips(step_probs: np.ndarray) -> np.ndarray:
    """(N, T, C) step probabilities (NaN past a session's end) -> (N,) argmax changes between consecutive steps."""
    valid = ~np.isnan(step_probs[..., 0])
    top = np.where(valid, np.nan_to_num(step_probs, nan=-1.0).argmax(-1), -1)
    changes = (top[:, 1:] != top[:, :-1]) & valid[:, 1:] & valid[:, :-1]
    return changes.sum(axis=1)


def fewer_flips(
    full: ModelRuns | None, groups: list[ModelRuns], resamples: int = RESAMPLES, seed: int = 0, data: Path | None = None
) -> ClaimLine:
    claim = "(e) TFL reduces prediction flips per session"
    no_tfl = ablation_of(full, groups, FEEDBACK_SWITCH) if full is not None else None
    if full is None or no_tfl is None:
        return _missing(claim, "no full-model run" if full is None else f"no -TFL feedback run (model.options.{FEEDBACK_SWITCH}: false)")
    seeds = sorted(set(full.by_seed()) & set(no_tfl.by_seed()))
    if not seeds:
        return _missing(claim, f"no seed in common with {no_tfl.name}")
    a, b = load_outputs(full, seeds, data), load_outputs(no_tfl, seeds, data)
    if isinstance(a, str) or isinstance(b, str):
        return _missing(claim, str(a if isinstance(a, str) else b))
    matched = _matched(full, a, no_tfl, b)
    if isinstance(matched, str):
        return _missing(claim, matched)
    ids = matched.ids
    flips_full = np.mean([prediction_flips(a[s].step_probs[a[s].rows(ids)]) for s in seeds], axis=0)
    flips_ablation = np.mean([prediction_flips(b[s].step_probs[b[s].rows(ids)]) for s in seeds], axis=0)
    interval = mean_interval(flips_full - flips_ablation, matched.groups, resamples, seed, unit=matched.unit)
    measured = (f"flips per session: full {flips_full.mean():.2f}, {no_tfl.name} {flips_ablation.mean():.2f}; "
                f"difference {interval.estimate:+.2f} over {len(ids)} sessions, {len(seeds)} seeds")
    return _interval_below_zero(claim, interval, measured, _joined("interval: speaker bootstrap over test sessions", matched.note))


# --- the section ------------------------------------------------------------------------------------


def evaluate_claims(
    groups: list[ModelRuns], comparisons: dict[str, list[Comparison]], truth: Path | None = None, data: Path | None = None,
    *, alpha: float = ALPHA, resamples: int = RESAMPLES, seed: int = 0,
) -> list[ClaimLine]:
    """Every claim line, in the order (a)-(e). `comparisons`: `significance.compare_all(groups)`."""
    full = next((g for g in groups if g.is_full_model), None)
    macro = comparisons.get("macro_f1", [])
    return [
        *weight_dips(full, truth, data, resamples, seed),
        beats_baselines(groups, macro, min(alpha, CLAIM_B_ALPHA)) if full else _missing("(b) full model beats every unimodal baseline and early/late fusion", "no full-model run"),
        *(ablations_lower(full, groups, macro, alpha) if full else [_missing("(c) each ablation lowers macro-F1", "no full-model run")]),
        graceful_degradation(full, groups, resamples, seed, data),
        fewer_flips(full, groups, resamples, seed, data),
    ]


def _interval(line: ClaimLine) -> str:
    if line.low is None or line.high is None:
        return "–"
    scale, digits = (1, 3) if line.claim.startswith("(a)") else (1, 2) if line.claim.startswith("(e)") else (100, 1)
    low, high = scale * line.low + 0.0, scale * line.high + 0.0  # + 0.0: no "-0.0"
    interval = f"[{low:+.{digits}f}, {high:+.{digits}f}]" + (" pp" if scale == 100 else "")
    return f"{interval} ({line.units})" if line.units else interval


def render(lines: list[ClaimLine]) -> list[str]:
    """Markdown of the section's table and the claims' definitions."""
    out = ["| claim | measured | 95 % interval (clusters) | verdict | note |", "|---|---|---|---|---|"]
    for line in lines:
        verdict = f"**{line.verdict}**" if line.verdict in (PASS, FAIL) else line.verdict
        out.append(f"| {line.claim} | {line.measured or '–'} | {_interval(line)} | {verdict} | {line.note or ''} |")
    out += [
        "",
        "Rules, fixed before any run: (a) PASS when the interval of "
        "[mean MIE weight of the modality on steps overlapping its planted bursts − on the session's other "
        "steps] is below 0; steps where the modality was unavailable (weight exactly 0) are left out, so the "
        "figure measures the learned gate, not the availability mask. (b) PASS when every difference is "
        f"positive and significant at the paper's Table II level (Holm-adjusted p < {CLAIM_B_ALPHA:g}); (c) PASS "
        "per ablation when ablation − full is negative and significant "
        f"(significant: Holm-adjusted p < {ALPHA:g} for (c); for both, on every test that could be computed, the paired t-test over "
        "seeds and the paired speaker bootstrap; intervals: the bootstrap's). (d) PASS when the "
        "interval of drop(late fusion) − "
        f"drop(full) from 0 to {100 * MISSING_RATE:.0f} % missing modalities is above 0. (e) PASS when the "
        "interval of flips(full) − flips(−TFL feedback; the KL term kept) per session is below 0. Every interval resamples test speakers, "
        "each with all of its test sessions (the count is next to it), and is the cluster t interval "
        "(difference ± t(G−1) × bootstrap standard error × √(G/(G−1)), G speakers; `core.stats`).",
        "",
    ]
    return out
