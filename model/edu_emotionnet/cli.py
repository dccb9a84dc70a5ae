"""The model's `edu-data` commands: train, experiments, evaluate, report, predict.

They join the data package's app through the entry-point group `edu_affect_data.commands`
(pyproject.toml: `model = "edu_emotionnet.cli:register"`), which `edu_affect_data.cli` loads:
the data package never imports this package, and the commands still read `edu-data train ...`.
Each body parses, calls one `edu_emotionnet` function and prints. Nothing heavy is imported at
module level (torch and friends inside the commands, the app's type only for mypy), so
`edu-data --help` stays fast and loading this module never imports `edu_affect_data.cli` back.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer

if TYPE_CHECKING:
    from edu_affect_data.cli.errors import Typer

#: Exceptions of this package (by `module.QualName`, subclasses included) that mean "fix what you
#: gave and rerun": exit 2 and one line, without a traceback. Named, not imported, so deciding an
#: exit status never imports torch. (A training config's `TrainConfigError` is a `ConfigError`,
#: which the data package's own list names.)
USER_ERRORS = (
    "edu_emotionnet.media_input.MediaInputError",
    "edu_emotionnet.runs.DuplicateRunError",
    # A run folder's checkpoint that is damaged, missing or from another version (it names the file).
    "edu_emotionnet.checkpoint.CheckpointError",
    # A dataset folder that is missing or does not hold the published format.
    "edu_emotionnet.data.DatasetFormatError",
    # `predict RUN SESSION` with a session id or split:row the dataset does not have.
    "edu_emotionnet.streaming.SessionNotFound",
)

SET_HELP = "Override a config value, dotted key=YAML value (repeatable): --set data=out/dataset --set train.epochs=3"


def _seeds(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise typer.BadParameter(f"--seeds {text!r}: expected integers like 0,1,2") from exc


def _overrides(pairs: list[str] | None) -> dict:
    from edu_emotionnet.config import parse_overrides

    return parse_overrides(pairs or [])  # a TrainConfigError: one line, exit 2 (cli.errors)


def _summary(name: str, results: list[dict]) -> None:
    for r in results:
        if r:
            test = r["test"]
            typer.echo(f"{name} seed {r['seed']}: test accuracy {test['accuracy']:.3f}, macro-F1 {test['macro_f1']:.3f} (best epoch {r['best_epoch']})")


def register(app: Typer) -> None:
    """Add the model's commands to `app` (the `edu-data` app) and name its user errors there."""
    app.add_user_errors(*USER_ERRORS)
    app.command("train")(train_command)
    app.command("experiments")(experiments_command)
    app.command("evaluate")(evaluate_command)
    app.command("report")(report_command)
    app.command("predict")(predict_command)


def train_command(
    config: Path = typer.Argument(..., exists=True, dir_okay=False, help="Training config, e.g. model/configs/edu_emotionnet.yaml (a suite_*.yaml is for `experiments`)."),
    set_: list[str] = typer.Option(None, "--set", help=SET_HELP),
    out: Path | None = typer.Option(None, "--out", help="Run folder (default runs/<name>)."),
    seeds: str | None = typer.Option(None, "--seeds", help="Comma-separated seeds: one run per seed under RUN/seed<k>/."),
    resume: bool = typer.Option(True, "--resume/--no-resume", metavar="", help="Continue from RUN/ckpt.pt when it exists."),
) -> None:
    """Train Edu-EmotionNet or a baseline; best checkpoint on validation macro-F1, test scored once."""
    from edu_emotionnet.config import load_train_config
    from edu_emotionnet.train import train_seeds

    cfg = load_train_config(config, _overrides(set_))
    run = out or Path("runs") / cfg.name
    _summary(cfg.name, train_seeds(cfg, run, _seeds(seeds), resume=resume))
    typer.echo(f"run folder: {run}")


def experiments_command(
    suite: Path = typer.Argument(..., exists=True, dir_okay=False, help="Suite (model/configs/suite_demo.yaml)."),
    set_: list[str] = typer.Option(None, "--set", help=SET_HELP + " (applied to every run)"),
    out: Path = typer.Option(..., "--out", help="Folder receiving one run folder per model."),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Comma-separated seeds."),
    only: str | None = typer.Option(
        None, "--only", help="Comma-separated run names: train only these (processes sharing a suite split it by model)."
    ),
) -> None:
    """Train every model of a suite for every seed, one after the other."""
    from edu_emotionnet.experiments import run_suite

    names = [name.strip() for name in only.split(",") if name.strip()] if only is not None else None
    folders = run_suite(suite, out, _seeds(seeds), _overrides(set_), names)
    typer.echo(f"{len(folders)} models trained under {out}: {', '.join(f.name for f in folders)}")


DATA_HELP = "Dataset folder instead of the run's own (default: where the run recorded it, from any folder; see docs/training.md)."


def _warn(message: str) -> None:
    """A warning: one line on stderr, never on stdout (which JSON and CSV output keep to themselves)."""
    typer.echo(f"warning: {message}", err=True)


def evaluate_command(
    run: Path = typer.Argument(..., exists=True, file_okay=False, help="A finished run folder (holds best.pt)."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
) -> None:
    """Accuracy, macro-F1, per-class F1, confusion matrix and missing-modality robustness into RUN/results.json."""
    from edu_emotionnet.evaluate import evaluate_run

    results = evaluate_run(run, data=data, warn=_warn)
    test = results["test"]
    typer.echo(f"test accuracy {test['accuracy']:.3f}, macro-F1 {test['macro_f1']:.3f}")
    for kind, rows in results["robustness"].items():
        typer.echo(f"  {kind} drop: " + ", ".join(f"{100 * r['rate']:.0f}%: {r['accuracy']:.3f}" for r in rows))


def report_command(
    runs: list[Path] = typer.Argument(..., exists=True, help="Run folders (searched for results.json)."),
    out: Path = typer.Option(..., "--out", help="Report folder (report.md and PNG figures)."),
    baseline: str | None = typer.Option(None, "--baseline", help="Run name of Fig. 4's comparison model, never chosen by score (default: hybrid_fusion, as in the paper; absent: Fig. 4 not drawn)."),
    truth: Path | None = typer.Option(None, "--truth", exists=True, dir_okay=False, help="The corpora's synth_truth.json: checks claim (a) against the planted noise (default: claim (a) not evaluated)."),
    data: Path | None = typer.Option(None, "--data", help="Dataset folder for every run (default: each run's own, found from any folder)."),
    control: list[Path] | None = typer.Option(None, "--control", exists=True, help="Run folders of the same suite on the control corpus (profile claims-control): each mechanism's effect with its phenomenon absent (repeatable)."),
    control_truth: Path | None = typer.Option(None, "--control-truth", exists=True, dir_okay=False, help="The control corpus's synth_truth.json (says that no phenomenon is planted)."),
    control_data: Path | None = typer.Option(None, "--control-data", exists=True, file_okay=False, help="The control's dataset folder (default: each control run's config data)."),
) -> None:
    """Markdown tables (mean ± std over seeds), paired tests, the paper's claims on synthetic data, and the paper's figures.

    A claim that cannot be evaluated says why, in the report and in one line on stderr.
    """
    from edu_emotionnet.report import write_report

    report = write_report(runs, out, baseline, truth, data, control=control or None, control_truth=control_truth,
                          control_data=control_data, warn=_warn)
    typer.echo(f"report: {report}")


def predict_command(
    run: Path = typer.Argument(..., exists=True, file_okay=False, help="A finished run folder."),
    session: str = typer.Argument(..., help="A media file (video with audio, or audio), a session id of the dataset, or split:row (e.g. test:3)."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP + " For media, its card gives the feature parameters."),
    transcript: Path | None = typer.Option(None, "--transcript", exists=True, dir_okay=False, help="Media only: plain text, or one 'start end word' per line (seconds)."),
    video: Path | None = typer.Option(None, "--video", exists=True, dir_okay=False, help="Media only: a separate video for an audio-only MEDIA."),
    pipeline: Path | None = typer.Option(None, "--pipeline", exists=True, dir_okay=False, help="Media only: the build's pipeline YAML, when the dataset card records no configuration."),
    text_model: str | None = typer.Option(None, "--text-model", help="Media only: the text model (local folder or name) instead of the dataset's."),
    region: Literal["left", "right", "full"] | None = typer.Option(None, "--region", help="Media only: the speaker's part of the picture, left|right (half of a side-by-side video, as IEMOCAP's) or full (default: full, with a warning for a side-by-side video)."),
    form: Literal["table", "json", "csv"] = typer.Option("table", "--format", help="table (for a person), json or csv (stdout holds only the document; notes and the verdict line go to stderr)."),
) -> None:
    """Stream one session or a raw recording through the causal model step by step: y^_t, modality weights, latency; then the verdict."""
    from edu_emotionnet.config import CLASSES
    from edu_emotionnet.prediction import PredictionReport, verdict_of

    source: dict[str, object]
    if Path(session).is_file():
        from edu_emotionnet.media_input import MediaInputError, stream_media

        try:
            media, settings, predictor, steps = stream_media(
                run, Path(session), video=video, transcript=transcript, data=data, pipeline=pipeline,
                text_model=text_model, region=region, warn=_warn,
            )
        except MediaInputError as exc:
            raise typer.BadParameter(str(exc)) from exc
        source = {"kind": "media", "path": session, "video": None if video is None else str(video), "region": region or "full",
                  "duration_s": media.duration_s, "modalities_present": list(media.modalities_present), "features_from": settings.source}
        notes = list(media.notes)
    else:
        from edu_emotionnet.streaming import stream_session

        if region is not None:
            raise typer.BadParameter("media only: a dataset session already is its speaker's region", param_hint="--region")
        found, predictor, steps = stream_session(run, session, data, warn=_warn)
        source = {"kind": "session", "session_id": found.item["session_id"], "split": found.split,
                  "dataset": str(found.dataset), "true_label": CLASSES[found.item["label"]]}
        notes = []
    report = PredictionReport(
        str(run), source, predictor.mode, {m: spec.column for m, spec in predictor.model.inputs.specs.items()},
        steps, verdict_of(steps, predictor.model.session_prediction), notes,
    )
    stdout, stderr = report.render(form)
    for line in stderr:
        typer.echo(line, err=True)
    typer.echo(stdout)
