"""The paper's claims checked with power: Table I and the claims section on >= 300 test sessions (by hand).

    .venv/bin/python bench/claims.py --out /tmp/bench-claims            # planted + control: synth, build, train, one report
    .venv/bin/python bench/claims.py --out /tmp/bench-claims --seeds 0,1,2 --profile claims --jobs 2
    .venv/bin/python bench/claims.py --out /tmp/bench-claims --no-control   # the planted corpus only
    .venv/bin/python bench/claims.py --out /tmp/bench-claims --audio-inputs # + MFCC vs eGeMAPS, the window

The demo's 40 test sessions cannot separate models a few points apart. This bench synthesizes the
`claims` profile (the demo's look and its planted time-local noise, about seven times the
recordings), builds the dataset with the demo pipeline's features (frame embeddings at 5 fps), and
trains the claims suite (`model/configs/suite_claims.yaml`: the demo suite's rows of Table I at the
CPU size, the ablations, the unimodal and fusion baselines, each with the same tuning grid chosen
on validation) on it, then writes the report with the claims section
checked against `synth_truth.json`.

The claims corpora plant one phenomenon per mechanism (docs/synthetic.md: time-local noise for MIE,
audio-visual coincidences for CMAA, a persistent state for TFL). Unless `--no-control`, the same is
done for the control profile (`claims-control`: same recordings, speakers and seeds, no phenomenon)
under OUT/control/, and the report's mechanism table compares each mechanism's effect (full model
− its ablation) on the two. The control trains only the runs that table compares (`--control-suite`,
default `model/configs/suite_claims_control.yaml`: the full model and the MIE, CMAA and TFL-feedback
ablations, with the same grid), about a quarter of the planted suite's training. With `--audio-inputs` the
planted corpus's dataset also holds eGeMAPS (issue 23: about 1.8 s of one core per 30 s of audio),
`model/configs/suite_audio_inputs.yaml` trains on it into OUT/runs-inputs and `bench/audio_inputs.py`
prints MFCC against eGeMAPS and the attention window's effect, with speaker-bootstrap intervals.

Bench-only switch: the annotation stages are skipped and every kept session is labelled with its
planted truth (`bench/stage_cpu.py:label_from_truth`, the majority latent emotion of its units), because
what is measured here is the models, not the annotators (the annotation campaign has its own bench,
`bench/adaptive_overlap.py`). Everything else is the production code path.

Training runs the suite's models in `--jobs` parallel processes (default: one per core; the CPU
configs train on one thread each), each model's tuning trials and seeds in one of them. Prints the wall time of each phase, the number of sessions per split, and the report's Table I,
paired tests and claims section. Target of issue 10: >= 300 test sessions, under an hour here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from stage_cpu import label_from_truth  # the planted labels (bench-only switch)

from edu_affect_data.config import load_config
from edu_affect_data.core.artifacts import BuildPaths

REPO = Path(__file__).resolve().parents[1]


def build_dataset(out: Path, profile: str, workers: int, extra: dict[str, object] | None = None) -> tuple[Path, Path]:
    """Synthesize, ingest, label from truth, split, features, publish; (dataset folder, truth file).

    `extra`: more `--set` keys for the demo pipeline (e.g. the eGeMAPS extractor)."""
    from edu_affect_data.stages.features.run import run_features
    from edu_affect_data.stages.ingest import run_ingest
    from edu_affect_data.stages.publish import run_publish
    from edu_affect_data.stages.split import run_split
    from edu_affect_data.synth import synthesize

    corpora = out / "corpora"
    truth = corpora / "synth_truth.json"
    if not truth.exists():
        synthesize(corpora, profile, 0, overwrite=True)
    elif (found := json.loads(truth.read_text())).get("profile") != profile or "planted" not in found:
        raise SystemExit(f"{truth}: corpora of profile {found.get('profile')!r} without the planted phenomena' record, "
                         f"not {profile!r}: use a fresh --out")
    config = load_config(
        REPO / "pipelines" / "demo.yaml",
        {
            "corpora.iemocap": str(corpora / "IEMOCAP_full_release"),
            "corpora.mosei": str(corpora / "CMU_MOSEI"),
            "features.workers": workers,
            **(extra or {}),
        },
    )
    paths = BuildPaths(out / "build")
    dataset = paths.out / "dataset"
    if (dataset / "README.md").exists():
        return dataset, truth
    for name, step in (
        ("ingest", lambda: run_ingest(config, paths)),
        ("labels from truth", lambda: label_from_truth(paths, truth, None)),
        ("split", lambda: run_split(config, paths)),
        ("features", lambda: run_features(config, paths)),
        ("publish", lambda: run_publish(config, paths)),
    ):
        started = time.perf_counter()
        step()
        print(f"  {name}: {time.perf_counter() - started:.0f} s", flush=True)
    return dataset, truth


def split_sizes(paths: BuildPaths) -> dict[str, int]:
    assignment = pq.read_table(paths.assignment, columns=["split"]).column("split").to_pylist()
    return {split: assignment.count(split) for split in ("train", "validation", "test", "excluded")}


def train_suite(dataset: Path, runs: Path, suite: Path, seeds: list[str], jobs: int) -> None:
    """`edu-data experiments` of `suite` on `dataset` into `runs`, its models split among `jobs` processes.

    The CPU configs train on one thread: one process per core keeps every core busy. Split by model,
    not by seed: a model's tuning trials (`runs/<name>/search/`) and then its seeds train in one
    process, so no two processes ever train in the same run folder, and the search of a tuned suite
    runs in parallel too.
    """
    from edu_emotionnet.experiments import load_suite

    edu_data = str(Path(sys.executable).with_name("edu-data"))
    names = [config.name for config in load_suite(suite, {"data": str(dataset)})]
    groups = [",".join(names[i::jobs]) for i in range(min(jobs, len(names)))]
    processes = [
        subprocess.Popen([edu_data, "experiments", str(suite), "--set", f"data={dataset}", "--out", str(runs),
                          "--seeds", ",".join(seeds), "--only", group])
        for group in groups
    ]
    failed = [p.args for p in processes if p.wait() != 0]
    if failed:
        raise SystemExit(f"training failed: {failed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-claims"))
    parser.add_argument("--profile", default="claims")
    parser.add_argument("--control-profile", default="claims-control", help="the corpus with no planted phenomenon")
    parser.add_argument("--no-control", action="store_true", help="skip the control corpus (the mechanism table then says so)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--workers", type=int, default=2, help="feature extraction workers")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="training processes (the suite's models split among them)")
    parser.add_argument("--suite", type=Path, default=REPO / "model" / "configs" / "suite_claims.yaml")
    parser.add_argument("--control-suite", type=Path, default=REPO / "model" / "configs" / "suite_claims_control.yaml",
                        help="what the control corpus trains: the mechanism table's runs")
    parser.add_argument(
        "--audio-inputs", action="store_true",
        help="also extract eGeMAPS on the planted corpus and train model/configs/suite_audio_inputs.yaml on it "
        "(MFCC vs eGeMAPS, the attention window's effect: bench/audio_inputs.py)",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    edu_data = str(Path(sys.executable).with_name("edu-data"))
    started = time.perf_counter()
    # (label, profile, folder): the planted corpus where earlier versions of this bench left it.
    corpora = [("planted", args.profile, args.out)] + ([] if args.no_control else [("control", args.control_profile, args.out / "control")])
    built: dict[str, tuple[Path, Path]] = {}
    for label, profile, folder in corpora:
        print(f"== dataset ({label}: profile {profile})", flush=True)
        extra: dict[str, object] = {"features.extractors.egemaps": {}} if args.audio_inputs and label == "planted" else {}
        built[label] = build_dataset(folder, profile, args.workers, extra)
        sizes = split_sizes(BuildPaths(folder / "build"))
        print(f"  sessions per split: {sizes}; {time.perf_counter() - started:.0f} s", flush=True)
        if sizes["test"] < 300:
            print(f"  WARNING: {sizes['test']} test sessions, fewer than the 300 the bench is for", flush=True)
    datasets_done = time.perf_counter()

    for label, _, folder in corpora:
        suite = args.control_suite if label == "control" else args.suite
        print(f"== training the suite ({label}: {suite.name})", flush=True)
        phase = time.perf_counter()
        train_suite(built[label][0], folder / "runs", suite, args.seeds.split(","), args.jobs)
        print(f"  {time.perf_counter() - phase:.0f} s", flush=True)
    if args.audio_inputs:
        print("== training the audio-inputs suite (planted)", flush=True)
        phase = time.perf_counter()
        inputs_suite = REPO / "model" / "configs" / "suite_audio_inputs.yaml"
        train_suite(built["planted"][0], args.out / "runs-inputs", inputs_suite, args.seeds.split(","), args.jobs)
        print(f"  {time.perf_counter() - phase:.0f} s", flush=True)
    trained = time.perf_counter()

    print("== report", flush=True)
    report = args.out / "report"
    command = [edu_data, "report", str(args.out / "runs"), "--out", str(report), "--truth", str(built["planted"][1])]
    if "control" in built:
        command += ["--control", str(args.out / "control" / "runs"), "--control-truth", str(built["control"][1])]
    subprocess.run(command, check=True)
    print((report / "report.md").read_text())
    if args.audio_inputs:
        subprocess.run([sys.executable, str(REPO / "bench" / "audio_inputs.py"), str(args.out / "runs-inputs"),
                        "--data", str(built["planted"][0])], check=True)
    print(
        f"wall time: datasets {datasets_done - started:.0f} s, training {trained - datasets_done:.0f} s, "
        f"report {time.perf_counter() - trained:.0f} s, total {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
