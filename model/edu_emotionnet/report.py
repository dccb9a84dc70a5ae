"""`edu-data report RUNS... --out REPORT`: the paper's tables (mean +- std over seeds) and figures.

Runs are found by their results.json anywhere under the given folders and grouped by config
name (`edu_emotionnet.runs`). Table I compares every model, Table II unimodal with fusion models,
Table III the ablations of the full model; which model is in which table is its arch's
`ReportPlace` in the registry. Then the paired tests of the full model against every other model
(`edu_emotionnet.significance`), the paper's claims checked on synthetic data
(`edu_emotionnet.claims`) and the figures (Fig. 3-6, `edu_emotionnet.figures`). Nothing here is
chosen by a test score: rows follow the runs (full model first, then folder order), Fig. 4's
comparison model is named (`--baseline`, default: the run of the registry's Fig. 4 model).

The report opens with its provenance: what its datasets' cards say of them (synthetic corpora,
simulated annotators, overlap, reviewer, the code that built them: `stages.provenance`) and the
code that wrote the report, so no figure below can be read without knowing what it was measured on.
"""

from __future__ import annotations

from pathlib import Path

from edu_affect_data.core.atomic import atomic_write_text
from edu_affect_data.core.provenance import code_version
from edu_affect_data.stages.card import stats_from_card
from edu_affect_data.stages.provenance import describe_code, summary_lines
from edu_emotionnet import claims, figures, mechanisms, significance, tuning
from edu_emotionnet.run_dataset import RUN_DATASET, RunDataset, Warn, check_override, tell
from edu_emotionnet.runs import ModelRuns, collect_runs


def _pm(runs: ModelRuns, key: str) -> str:
    mean, std = runs.summary(key)
    return f"{100 * mean:.1f} ± {100 * std:.1f}"


def _table(rows: list[ModelRuns], extra: dict[str, str] | None = None) -> str:
    head = "| model | run | seeds | accuracy (%) | macro-F1 (%) |" + (" Δ macro-F1 vs full |" if extra else "")
    rule = "|---|---|---|---|---|" + ("---|" if extra else "")
    lines = [head, rule]
    for runs in rows:
        cells = f"| {runs.display} | {runs.name} | {len(runs.results)} | {_pm(runs, 'accuracy')} | {_pm(runs, 'macro_f1')} |"
        lines.append(cells + (f" {extra.get(runs.name, '')} |" if extra else ""))
    return "\n".join(lines)


def table_ii_rows(groups: list[ModelRuns]) -> list[ModelRuns]:
    """Table II: the unimodal models, then the fusion models with the full model last (the paper's order)."""
    members = [g for g in groups if g.table_ii_group is not None]
    return sorted(members, key=lambda g: (g.table_ii_group != "unimodal", g.is_full_model))


def build_tables(groups: list[ModelRuns]) -> dict[str, str]:
    """Markdown of Tables I, II and III (a table is left out when its models are absent)."""
    full = next((g for g in groups if g.is_full_model), None)
    tables = {"I": _table(groups)}
    table_ii = table_ii_rows(groups)
    unimodal = [g for g in table_ii if g.table_ii_group == "unimodal"]
    if unimodal or len(table_ii) > 1:  # a unimodal row, or fusion models to compare
        tables["II"] = _table(table_ii)
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


def provenance_lines(groups: list[ModelRuns], data: Path | None) -> list[str]:
    """The report's opening section: each dataset the runs were scored on, as its card describes it
    (each run's own, found from any folder: `ModelRuns.dataset_of`), and the runs whose dataset is not found."""
    found = [(g, folder, g.dataset_of(folder, data)) for g in groups for folder in g.run_dirs]
    datasets = sorted({d for _, _, d in found if isinstance(d, Path)})
    unfound = [f"- {g.name}: {d}" for g, _, d in found if isinstance(d, str)]  # the reason names the run folder
    lines = ["## Provenance", "", f"Report written by {describe_code(code_version().to_json())}.", ""]
    if unfound:
        lines += ["Runs whose dataset is not found (what they were measured on is not known here):", "", *unfound, ""]
    if not datasets:
        return lines if unfound else [*lines, "The runs name no dataset (`data`): what they were measured on is not known here.", ""]
    for dataset in datasets:
        card = Path(dataset) / "README.md"
        try:
            record = stats_from_card(card.read_text(encoding="utf-8")).get("provenance") if card.is_file() else None
        except ValueError as exc:
            record, problem = None, f"its card cannot be read ({exc})"
        else:
            problem = "no dataset card (pass --data)" if not card.is_file() else "its card records no provenance (published before it was recorded: publish again)"
        lines.append(f"Dataset `{dataset.name}`:" if isinstance(record, dict) else f"Dataset `{dataset.name}`: {problem}.")
        if isinstance(record, dict):
            recorded = record.get("build_config") == "build_config.json"
            lines += [*summary_lines(record), "- Build configuration: " + (
                "in full in the dataset card (`README.md`, \"How it was built\")." if recorded else "not recorded in full (published outside `edu-data build`)."), ""]
        else:
            lines.append("")
    return lines


def write_report(
    paths: list[Path], out: Path, baseline: str | None = None, truth: Path | None = None, data: Path | None = None,
    *, resamples: int | None = None, control: list[Path] | None = None, control_truth: Path | None = None,
    control_data: Path | None = None, warn: Warn | None = None,
) -> Path:
    """Write REPORT/report.md and its PNG figures; returns the report path.

    `baseline`: Fig. 4's comparison model, a run name (None: the run of the model whose registry
    place has the `figure_4` role, HybridFusion); `truth`: the corpora's `synth_truth.json` for
    claim (a); `data`: one dataset folder for every run instead of each run's own (found from any
    folder, `run_dataset`; a `data` that is not a folder is a `DatasetNotFound`); `resamples`:
    bootstrap resamples (tests use fewer); `control`, `control_truth`, `control_data`: the
    the mechanism table's runs on the control corpus (`claims-control`), its truth and dataset, for each
    mechanism's effect where its phenomenon is absent (`mechanisms`). `warn` gets one line per claim
    not evaluated (with why) and per run whose dataset may not be the one it was trained on.
    """
    if data is not None:
        check_override(data)
    groups = collect_runs(paths)
    differing: dict[Path, list[Path]] = {}  # a dataset whose shards differ from what runs recorded -> those runs
    for group in groups:
        for folder in group.run_dirs:
            found = group.located(folder) if data is None else None
            if isinstance(found, RunDataset) and found.warning:
                differing.setdefault(found.path, []).append(folder)
    for dataset, folders in differing.items():
        tell(warn, f"{dataset}: not the dataset {len(folders)} run(s) were trained on (e.g. {folders[0]}): its shards "
                   f"differ from those recorded in their {RUN_DATASET}; rebuilt or replaced since")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = build_tables(groups)
    drawn, notes = figures.draw_all(groups, out, baseline, truth, data)
    draws = resamples or significance.RESAMPLES
    comparisons = significance.compare_all(groups, draws, data=data)
    claim_lines = claims.evaluate_claims(groups, comparisons, truth, data, resamples=draws)
    control_corpus = mechanisms.Corpus(collect_runs(control), control_truth, control_data) if control else None
    mechanism_lines = mechanisms.mechanism_lines(mechanisms.Corpus(groups, truth, data), control_corpus, draws)
    if warn is not None:
        for line in claim_lines:
            if line.verdict == claims.NOT_EVALUATED:
                warn(f"claim {line.claim}: {line.note}")
    full = next((g for g in groups if g.is_full_model), None)
    lines = ["# Edu-EmotionNet: results", "", *provenance_lines(groups, data)]
    lines.append(f"Runs: {', '.join(f'{g.name} ({len(g.results)} seeds)' for g in groups)}. ")
    lines.append("Checkpoints chosen on validation macro-F1 (ties: lower validation loss); the test split was scored once per run.\n")
    for key, table in tables.items():
        lines += [f"## {_TITLES[key]}", "", table, ""]
    lines += ["## Model sizes", "", model_sizes(groups, full), ""]
    lines += ["## Tuning", "", *tuning.render(groups)]
    lines += ["## Paired tests: the full model against every other model", ""]
    lines += significance.render(comparisons, full.name if full else "full")
    lines += ["## Paper claims on synthetic data", ""]
    lines += claims.render(claim_lines)
    lines += mechanisms.render(mechanism_lines)
    if drawn or notes:
        lines += ["## Figures", ""]
        lines += [f"![{figure.caption.split(':')[0]}]({figure.name})\n\n*{figure.caption}*\n" for figure in drawn]
        lines += [f"{note}.\n" for note in notes]
    # Written last, in one piece: a report.md on disk is a finished report.
    return atomic_write_text(out / "report.md", "\n".join(lines))
