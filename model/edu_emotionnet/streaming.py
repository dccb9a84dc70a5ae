"""Streaming inference: feed a session step by step, get y^_t and the modality weights at once.

Every model here is causal (tested), so the output for step t computed from the inputs received
so far equals the offline output for step t. The predictor keeps the received inputs and re-runs
the model on that prefix at each step: exact by construction, and at <= ~30 steps per session
cheap enough (per-step latency is reported) without a key/value cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from edu_emotionnet.batch import MFCC_HOP_S, step_of
from edu_emotionnet.checkpoint import load_trained
from edu_emotionnet.config import CLASSES
from edu_emotionnet.data import collate


@dataclass(frozen=True)
class StepFeatures:
    """The inputs that arrived during one step (any of them may be empty or None)."""

    mfcc: torch.Tensor | None = None  # (n, 40): the step's 10 ms frames, in order
    frames: torch.Tensor | None = None  # (k, 3, S, S) uint8, S = the run's frame_size
    frame_times: torch.Tensor | None = None  # (k,) seconds from session start
    frame_available: torch.Tensor | None = None  # (k,) bool
    tokens: torch.Tensor | None = None  # (m, H) token embeddings
    token_end_s: torch.Tensor | None = None  # (m,) seconds from session start
    token_mask: torch.Tensor | None = None  # (m,) bool: False for special tokens


@dataclass(frozen=True)
class StepOutput:
    step: int
    probs: dict[str, float]
    label: str
    weights: dict[str, float] | None
    latency_ms: float


class StreamingPredictor:
    """`StreamingPredictor(run_dir).step(features_for_step) -> StepOutput`; `reset()` between sessions."""

    def __init__(self, run_dir: Path, device: str = "cpu") -> None:
        trained = load_trained(Path(run_dir), device)
        self.model, self.config, self.text_dim = trained.model, trained.config, trained.text_dim
        self.device = torch.device(device)
        self.modalities = self.model.modalities
        self.reset()

    def reset(self) -> None:
        self._received: dict[str, list[torch.Tensor]] = {}
        self._steps = 0

    def _append(self, key: str, value: torch.Tensor | None) -> None:
        if value is not None:
            self._received.setdefault(key, []).append(value)

    def _joined(self, key: str, empty: torch.Tensor) -> torch.Tensor:
        parts = self._received.get(key)
        return torch.cat(parts) if parts else empty

    def _item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"session_id": "stream", "label": 0, "n_steps": self._steps}
        if "audio" in self.modalities:
            item["mfcc"] = self._joined("mfcc", torch.zeros(0, 40))
        if "video" in self.modalities:
            size = self.config.model.video.frame_size
            item["frames"] = self._joined("frames", torch.zeros(0, 3, size, size, dtype=torch.uint8))
            item["frame_times"] = self._joined("frame_times", torch.zeros(0))
            item["frame_available"] = self._joined("frame_available", torch.zeros(0, dtype=torch.bool))
        if "text" in self.modalities:
            # Nothing said yet: one masked slot, so the text encoder never sees an empty sequence.
            item["tokens"] = self._joined("tokens", torch.zeros(1, self.text_dim))
            item["token_end_s"] = self._joined("token_end_s", torch.zeros(1))
            item["token_mask"] = self._joined("token_mask", torch.zeros(1, dtype=torch.bool))
        return item

    @torch.no_grad()
    def step(self, features: StepFeatures) -> StepOutput:
        started = time.perf_counter()
        for key in ("mfcc", "frames", "frame_times", "frame_available", "tokens", "token_end_s", "token_mask"):
            self._append(key, getattr(features, key))
        self._steps += 1
        output = self.model(collate([self._item()]).to(self.device))
        t = self._steps - 1
        probs = output.step_log_probs[0, t].float().exp().cpu()
        weights = None
        if output.weights is not None:
            weights = {m: float(w) for m, w in zip(self.modalities, output.weights[0, t].cpu(), strict=True)}
        latency = (time.perf_counter() - started) * 1000
        return StepOutput(t, {c: float(p) for c, p in zip(CLASSES, probs, strict=True)}, CLASSES[int(probs.argmax())], weights, latency)


def session_steps(item: dict[str, Any], step_s: float) -> list[StepFeatures]:
    """Split one dataset session (a SessionDataset item) into what arrives in each step.

    Tokens keep their order: a token goes to the step its end time falls in, never earlier than
    the token before it; special tokens ride with their neighbour; trailing padding is not sent.
    """
    n = int(item["n_steps"])
    parts: list[dict[str, list[int]]] = [{} for _ in range(n)]

    def assign(key: str, steps: torch.Tensor) -> None:
        for index, s in enumerate(steps.tolist()):
            parts[s].setdefault(key, []).append(index)

    if "mfcc" in item:
        frames = torch.arange(item["mfcc"].shape[0], dtype=torch.float32)
        assign("audio", step_of(frames * MFCC_HOP_S, step_s, n))
    if "frame_times" in item:
        assign("video", step_of(item["frame_times"], step_s, n))
    if "token_mask" in item:
        mask, ends = item["token_mask"], item["token_end_s"]
        real = mask.nonzero().flatten()
        last = int(real.max()) if len(real) else -1
        current, steps = 0, []
        for k in range(last + 1):
            if bool(mask[k]):
                current = max(current, int(step_of(ends[k : k + 1], step_s, n)))
            steps.append(current)
        assign("text", torch.tensor(steps, dtype=torch.long))
    out = []
    for part in parts:
        fields: dict[str, Any] = {}
        if "audio" in part:
            fields["mfcc"] = item["mfcc"][part["audio"]]
        if "video" in part:
            idx = part["video"]
            fields.update(frames=item["frames"][idx], frame_times=item["frame_times"][idx], frame_available=item["frame_available"][idx])
        if "text" in part:
            idx = part["text"]
            fields.update(tokens=item["tokens"][idx].float(), token_end_s=item["token_end_s"][idx], token_mask=item["token_mask"][idx])
        out.append(StepFeatures(**fields))
    return out


def find_session(run_dir: Path, session: str, data: Path | None = None) -> dict[str, Any]:
    """A dataset session as a model input item: by session id, or `split:row` (e.g. `test:3`)."""
    from edu_emotionnet.config import config_from_dict
    from edu_emotionnet.data import SPLITS, session_datasets

    stored = torch.load(Path(run_dir) / "best.pt", map_location="cpu", weights_only=False)["config"]
    config = config_from_dict(stored)
    data = data or config.data
    if data is None:
        raise ValueError(f"{run_dir}: no dataset in the run's config; pass --data")
    model = config.model
    datasets, _ = session_datasets(data, model.modalities, model.step_s, model.video.frame_size, config.cache_dir)
    split, sep, row = session.partition(":")
    if sep and split in SPLITS and row.isdigit():
        return datasets[split][int(row)]
    for name in SPLITS:
        ids = datasets[name].rows["session_id"]
        if session in ids:
            return datasets[name][list(ids).index(session)]
    raise KeyError(f"session {session!r} is in none of {SPLITS} of {data}")


def stream_session(run_dir: Path, session: str, data: Path | None = None) -> tuple[dict[str, Any], list[StepOutput]]:
    """`edu-data predict`: run a dataset session through the streaming predictor step by step."""
    predictor = StreamingPredictor(run_dir)
    item = find_session(run_dir, session, data)
    return item, [predictor.step(features) for features in session_steps(item, predictor.config.model.step_s)]
