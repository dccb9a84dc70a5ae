"""`edu-data report RUNS... --out REPORT`: the paper's tables (mean +- std over seeds) and figures.

Runs are found by their results.json anywhere under the given folders and grouped by config
name; seeds of one name are its repetitions. Table I compares every model, Table II unimodal
with fusion models, Table III the ablations of the full model. Then the paired tests of the full
model against every other model (`edu_emotionnet.significance`), the paper's claims checked on
synthetic data (`edu_emotionnet.claims`) and the figures (Fig. 3-6, `edu_emotionnet.figures`).
Nothing here is chosen by a test score: rows follow the runs (full model first, then folder
order), Fig. 4's comparison model is named (`--baseline`, default `hybrid_fusion`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edu_emotionnet.evaluate import RESULTS
from edu_emotionnet.figures import DEFAULT_BASELINE
from edu_emotionnet.registry import Family, UnknownModelError, model_spec


@dataclass
class ModelRuns:
    """All seeds of one configuration; `family` (the registry's) places it in the tables."""

    name: str
    arch: str
    flags: dict[str, bool]
    results: list[dict[str, Any]] = field(default_factory=list)
    run_dirs: list[Path] = field(default_factory=list)

    @property
    def family(self) -> Family:
        return model_spec(self.arch).family

    @property
    def is_full_model(self) -> bool:
        return self.family == "full" and all(self.flags.values())

    @property
    def is_ablation(self) -> bool:
        return self.family == "full" and not all(self.flags.values())

    def values(self, key: str) -> np.ndarray:
        return np.array([r["test"][key] for r in self.results], dtype=float)

    def summary(self, key: str) -> tuple[float, float]:
        values = self.values(key)
        return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def collect_runs(paths: list[Path]) -> list[ModelRuns]:
    """Group every results.json under `paths` by config name (order: full model first, then as found)."""
    groups: dict[str, ModelRuns] = {}
    for root in paths:
        root = Path(root)
        if not root.exists():
            raise FileNotFoundError(f"{root}: no such run folder")
        found = sorted(root.rglob(RESULTS)) if root.is_dir() else []
        if not found:
            raise FileNotFoundError(f"{root}: no {RESULTS} under it (train first)")
        for path in found:
            result = json.loads(path.read_text())
            try:
                model_spec(result["arch"])
            except UnknownModelError as exc:
                raise UnknownModelError(f"{path}: {exc} (is the package that registers it installed?)") from exc
            model = result["config"]["model"]
            flags = {k: bool(model[k]) for k in ("cmaa", "mie", "tfl")}
            group = groups.setdefault(result["name"], ModelRuns(result["name"], result["arch"], flags))
            group.results.append(result)
            group.run_dirs.append(path.parent)
    return sorted(groups.values(), key=lambda g: not g.is_full_model)


def _pm(runs: ModelRuns, key: str) -> str:
    mean, std = runs.summary(key)
    return f"{100 * mean:.1f} ± {100 * std:.1f}"


def _table(rows: list[ModelRuns], extra: dict[str, str] | None = None) -> str:
    head = "| model | seeds | accuracy (%) | macro-F1 (%) |" + (" Δ macro-F1 vs full |" if extra else "")
    rule = "|---|---|---|---|" + ("---|" if extra else "")
    lines = [head, rule]
    for runs in rows:
        cells = f"| {runs.name} | {len(runs.results)} | {_pm(runs, 'accuracy')} | {_pm(runs, 'macro_f1')} |"
        lines.append(cells + (f" {extra.get(runs.name, '')} |" if extra else ""))
    return "\n".join(lines)


def build_tables(groups: list[ModelRuns]) -> dict[str, str]:
    """Markdown of Tables I, II and III (a table is left out when its models are absent)."""
    full = next((g for g in groups if g.is_full_model), None)
    tables = {"I": _table(groups)}
    unimodal = [g for g in groups if g.family == "unimodal"]
    fusion = [g for g in groups if g.family == "fusion"] + ([full] if full else [])
    if unimodal or len(fusion) > 1:
        tables["II"] = _table(unimodal + fusion)
    ablations = [g for g in groups if g.is_ablation]
    if full and ablations:
        base = full.summary("macro_f1")[0]
        deltas = {g.name: f"{100 * (g.summary('macro_f1')[0] - base):+.1f}" for g in ablations}
        tables["III"] = _table([full, *ablations], {full.name: "", **deltas})
    return tables


_TITLES = {
    "I": "Table I: Edu-EmotionNet against the baselines (test split, mean ± std over seeds)",
    "II": "Table II: unimodal against fusion models",
    "III": "Table III: ablations (each removes one component of the full model)",
}


def model_sizes(groups: list[ModelRuns], full: ModelRuns | None) -> str:
    """Parameter counts of the trained models, as each run's trainer counted them (`results.json`)."""
    from edu_emotionnet.model_size import ModelSize, parameter_table

    rows = [ModelSize(g.name, g.arch, int(g.results[0]["parameters"])) for g in groups if "parameters" in g.results[0]]
    reference = full.name if full is not None and any(r.name == full.name for r in rows) else None
    return parameter_table(rows, reference=reference)


def write_report(
    paths: list[Path], out: Path, baseline: str | None = DEFAULT_BASELINE, truth: Path | None = None, data: Path | None = None,
    *, resamples: int | None = None,
) -> Path:
    """Write REPORT/report.md and its PNG figures; returns the report path.

    `baseline`: Fig. 4's comparison model, a run name (None: `DEFAULT_BASELINE`, hybrid_fusion);
    `truth`: the corpora's `synth_truth.json` for claim (a); `data`: the dataset folder when the
    runs' `config.data` no longer points at it; `resamples`: bootstrap resamples (tests use fewer).
    """
    from edu_emotionnet import claims, figures, significance

    groups = collect_runs(paths)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = build_tables(groups)
    drawn, notes = figures.draw_all(groups, out, baseline or DEFAULT_BASELINE)
    draws = resamples or significance.RESAMPLES
    comparisons = significance.compare_all(groups, draws)
    claim_lines = claims.evaluate_claims(groups, comparisons, truth, data, resamples=draws)
    full = next((g for g in groups if g.is_full_model), None)
    lines = ["# Edu-EmotionNet: results", ""]
    lines.append(f"Runs: {', '.join(f'{g.name} ({len(g.results)} seeds)' for g in groups)}. ")
    lines.append("Checkpoints chosen on validation macro-F1 (ties: lower validation loss); the test split was scored once per run.\n")
    for key, table in tables.items():
        lines += [f"## {_TITLES[key]}", "", table, ""]
    lines += ["## Model sizes", "", model_sizes(groups, full), ""]
    lines += ["## Paired tests: the full model against every other model", ""]
    lines += significance.render(comparisons, full.name if full else "full")
    lines += ["## Paper claims on synthetic data", ""]
    lines += claims.render(claim_lines)
    if drawn or notes:
        lines += ["## Figures", ""]
        lines += [f"![{caption}]({name})\n\n*{caption}*\n" for name, caption in drawn]
        lines += [f"{note}.\n" for note in notes]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report
