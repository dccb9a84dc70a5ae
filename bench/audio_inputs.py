"""MFCC against eGeMAPS as the audio input, and the attention window's effect, from finished runs.

    .venv/bin/edu-data experiments model/configs/suite_audio_inputs.yaml --set data=OUT/build/dataset \\
        --out OUT/runs-inputs --seeds 0,1,2
    .venv/bin/python bench/audio_inputs.py OUT/runs-inputs --data OUT/build/dataset

Reads each run's `results.json` and `test_outputs.npz` (the test split, scored once) and prints, per
configuration, test macro-F1 and accuracy as mean ± std over seeds, then each comparison as the
difference of the seed-averaged metric on the same test sessions with a 95 % percentile interval from
a bootstrap over **speakers** (all of a speaker's sessions drawn together: sessions of one speaker are
not independent, docs/NOTES "clustered data"), and its two-sided bootstrap p. The demo's test split
is 40 sessions of a few speakers: read the intervals, not the point estimates.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
from edu_emotionnet.significance import SessionOutputs, weighted_metric

from edu_affect_data.core.stats import BootstrapDistribution, bootstrap

#: (label, configuration a, configuration b): each comparison is a - b.
COMPARISONS = (
    ("audio-only: eGeMAPS - MFCC", "audio_only_egemaps", "audio_only"),
    ("full model: eGeMAPS - MFCC", "edu_emotionnet_egemaps", "edu_emotionnet"),
    ("full model: 10-s window - no window", "edu_emotionnet", "edu_emotionnet_no_window"),
)
METRICS = ("macro_f1", "accuracy")


def runs_of(root: Path) -> dict[str, dict[int, Path]]:
    """configuration name -> seed -> run folder (those with results.json)."""
    found: dict[str, dict[int, Path]] = {}
    for results in sorted(root.glob("*/seed*/results.json")):
        data = json.loads(results.read_text())
        found.setdefault(data["name"], {})[int(data["seed"])] = results.parent
    return found


def speakers_of(data: Path) -> dict[str, str]:
    import datasets

    test = datasets.load_dataset(str(data), data_files={"test": "data/test-*"})["test"]
    return dict(zip(test["session_id"], test["speaker_id"], strict=True))


def speaker_bootstrap(
    labels: np.ndarray, predicted_a: np.ndarray, predicted_b: np.ndarray, groups: list[str], metric: str, resamples: int
) -> BootstrapDistribution:
    """(S, N) labels and predictions of two configurations for S seeds on the same N sessions: the
    seed-averaged `metric`(a) - `metric`(b), resampling speakers (`groups`) with all their sessions."""
    def difference(counts: np.ndarray) -> np.ndarray:
        return np.mean([weighted_metric(counts, labels[k], predicted_a[k], metric)
                        - weighted_metric(counts, labels[k], predicted_b[k], metric) for k in range(len(labels))], axis=0)

    return bootstrap(difference, labels.shape[1], resamples, 0, groups=groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="the dataset the runs were trained on (speaker ids)")
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()

    runs = runs_of(args.runs)
    for name, seeds in sorted(runs.items()):
        results = [json.loads((folder / "results.json").read_text()) for folder in seeds.values()]
        cells = []
        for metric in METRICS:
            values = [r["test"][metric] for r in results]
            spread = statistics.stdev(values) if len(values) > 1 else float("nan")
            cells.append(f"{metric} {statistics.mean(values):.3f} ± {spread:.3f}")
        audio = results[0].get("inputs", {}).get("audio", {}).get("column", "-")
        print(f"{name:<26} seeds {sorted(seeds)}  audio {audio:<8} " + ", ".join(cells))
    speaker = speakers_of(args.data)
    for label, a, b in COMPARISONS:
        if a not in runs or b not in runs:
            print(f"{label}: not run ({a} or {b} missing)")
            continue
        seeds = sorted(set(runs[a]) & set(runs[b]))
        outputs = {name: [SessionOutputs.load(runs[name][s]) for s in seeds] for name in (a, b)}
        ids = list(outputs[a][0].session_ids)
        groups = [speaker[s] for s in ids]
        labels = np.stack([o.labels[o.rows(ids)] for o in outputs[a]])
        predicted = {name: np.stack([o.predicted[o.rows(ids)] for o in outputs[name]]) for name in (a, b)}
        for metric in METRICS:
            dist = speaker_bootstrap(labels, predicted[a], predicted[b], groups, metric, args.resamples)
            low, high = dist.interval()
            print(f"{label:<38} {metric:<8} {dist.estimate:+.3f} [{low:+.3f}, {high:+.3f}] p {dist.p_value():.2f} "
                  f"({len(ids)} test sessions, {len(set(groups))} speakers, seeds {seeds})")


if __name__ == "__main__":
    main()
