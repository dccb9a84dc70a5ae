"""How readable the planted CMAA and TFL phenomena are, by simple classifiers, on `claims` and its control.

    .venv/bin/python bench/planted_readability.py            # plans both profiles (no media), ~30 s

Plans the two profiles (seed 0; nothing is rendered), takes the features a skeptical reader would
compute from `synth_truth.json` (`synth.phenomena.unit_cue_features`, `state_windows`) and prints the
5-fold cross-validated accuracy of scikit-learn's logistic regression against each unit's (or
session window's) latent class. These describe the data, not any model: the tests
(tests/synth/test_phenomena.py) hold the same figures to the design's bounds.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from edu_affect_data.synth.design import design_corpora
from edu_affect_data.synth.phenomena import state_windows, unit_cue_features
from edu_affect_data.synth.profiles import get_profile
from edu_affect_data.synth.truth import truth_document

#: Steps per session window: the demo pipeline's 12-s sessions on the 1-s grid.
SESSION_STEPS = 12


def accuracy(features: np.ndarray, labels: np.ndarray) -> float:
    return float(cross_val_score(LogisticRegression(max_iter=2000), features, labels, cv=5).mean())


def main() -> None:
    print("| profile | largest class | unit length alone | audio events alone | video events alone | "
          "coincidences | one state step | 12-step state mean |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ("claims", "claims-control"):
        profile = get_profile(name)
        document = truth_document(design_corpora(profile, 0), profile)
        features, latent, _ = unit_cue_features(document)
        step, mean, labels = state_windows(document, SESSION_STEPS)
        largest = max(float(np.mean(latent == c)) for c in set(latent))
        cells = [largest, *(accuracy(features[k], latent) for k in ("length", "audio", "video", "co")),
                 accuracy(step, labels), accuracy(mean, labels)]
        print(f"| {name} | " + " | ".join(f"{100 * c:.1f} %" for c in cells) + f" |  ({len(latent)} units, {len(labels)} windows)")


if __name__ == "__main__":
    main()
