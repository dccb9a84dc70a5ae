"""Do the planted CMAA lights and TFL state band survive the demo pipeline's frozen frame embedder?

    .venv/bin/python bench/planted_embeddings.py      # ~6 min on 2 busy cores (renders and embeds ~1,100 frames)

Renders 6 MOSEI-style recordings of 40 s at the claims profile's 160x120 (no faults), keeps the frames
at the demo pipeline's 5 fps, resizes them to 112 px (INTER_AREA) and embeds them with the default
embedder (EfficientNet-Lite0, `features.extractors.frames.embedder`), then asks linear read-outs,
trained on 5 recordings and scored on the held-out one (grouped folds: other speakers, other
looks): ridge regression of each frame's state value (the band colour's two axes), and logistic
regression of which light (flash, shadow, none) the frame shows. A property of the data as the
dataset stores it, not of any model.
"""

from __future__ import annotations

import dataclasses
import time

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import GroupKFold, cross_val_predict, cross_val_score

from edu_affect_data.stages.features.embedder import EmbedderOptions, ImageEmbedder
from edu_affect_data.synth.design import design_corpora
from edu_affect_data.synth.profiles import CLAIMS, TINY, MoseiShape
from edu_affect_data.synth.render import render_frames

FPS, SIZE, EVERY = 5.0, 112, 3  # the demo pipeline's frame rate and embedder size; 15 fps / 3


def main() -> None:
    profile = dataclasses.replace(TINY, name="embeddings-probe", fault_rounds=0, broken_files=False,
                                  mosei=MoseiShape(videos=6, video_s=40.0, frame_size=(160, 120), fps=FPS * EVERY),
                                  cmaa=CLAIMS.cmaa, tfl=CLAIMS.tfl)
    embedder = ImageEmbedder(EmbedderOptions(size=SIZE, device="cpu"))
    embeddings, state, light, group = [], [], [], []
    started = time.perf_counter()
    for g, plan in enumerate(design_corpora(profile, 0).mosei):
        (track,) = plan.states
        events = [e for c in plan.coincidences for e in c.events if e.modality == "video"]
        pixels = []
        for index, frame in render_frames(plan, 0):
            if index % EVERY:
                continue
            t = index / plan.fps
            pixels.append(cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), (SIZE, SIZE), interpolation=cv2.INTER_AREA))
            state.append(track.values[min(int(t / track.step_s), len(track.values) - 1)])
            showing = [e.kind for e in events if e.start_s - 1e-6 <= t < e.end_s - 1e-6]
            light.append(showing[0] if showing else "none")
            group.append(g)
        embeddings.append(embedder.embed(np.array(pixels)).astype(np.float32))
    x, values, kinds, groups = np.concatenate(embeddings), np.array(state), np.array(light), np.array(group)
    folds = GroupKFold(n_splits=len(set(group)))
    print(f"{len(x)} frames of {len(set(group))} recordings rendered and embedded in {time.perf_counter() - started:.0f} s; "
          f"lights: {', '.join(f'{k} {int((kinds == k).sum())}' for k in sorted(set(light)))}")
    predicted = cross_val_predict(RidgeCV(alphas=np.logspace(-1, 4, 12)), x, values, groups=groups, cv=folds)
    for axis, colour in enumerate(("blue", "red")):
        r = float(np.corrcoef(predicted[:, axis], values[:, axis])[0, 1])
        print(f"state axis {axis} ({colour}): correlation of the held-out read-out with the frame's value {r:.2f}")
    accuracy = cross_val_score(LogisticRegression(max_iter=3000), x, kinds, groups=groups, cv=folds).mean()
    print(f"light shown (flash / shadow / none): held-out accuracy {100 * accuracy:.1f} % (none alone: {100 * float(np.mean(kinds == 'none')):.1f} %)")


if __name__ == "__main__":
    main()
