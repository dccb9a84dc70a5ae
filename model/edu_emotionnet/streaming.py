"""Streaming inference: feed a session step by step, get y^_t and the modality weights at once.

Every model here is causal (tested), so the output for step t computed from the inputs received
so far equals the offline output for step t. A model that streams (`AffectModel.streams`: the full
model, its ablations and every built-in baseline) runs incrementally: step t costs the work of the
inputs that arrived during step t, each module carrying what later steps need in its slot of a
`StreamState` (the encoders' and attentions' keys/values, the recurrent and feedback states), by
the same code as the whole-session forward, and equal to it within 1e-5 (tested at every step).
With `model.attention_window_s` the kept keys are bounded, so a step costs the same at any length.
A model without a step-wise form is streamed by re-running the model over the received prefix
(`StreamingPredictor.incremental` is False, and `predict` says so), exact by construction but
O(t) per step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from edu_emotionnet.attention import StreamState
from edu_emotionnet.batch import Batch, step_of
from edu_emotionnet.checkpoint import (
    BEST,
    BEST_KEYS,
    RETRAIN,
    load_trained,
    read_checkpoint,
    stored_config,
)
from edu_emotionnet.config import CLASSES, TrainConfig
from edu_emotionnet.data import collate
from edu_emotionnet.outputs import AffectModel
from edu_emotionnet.run_dataset import Warn, locate_dataset, tell

#: Per-frame columns of a session item, split over the steps by `frame_times`.
FRAME_KEYS = ("frames", "frame_embeddings", "frame_times", "frame_available")
TOKEN_KEYS = ("tokens", "token_end_s", "token_mask")


@dataclass(frozen=True)
class StepFeatures:
    """The inputs that arrived during one step (any of them may be empty or None)."""

    audio: torch.Tensor | None = None  # (n, width): the step's audio frames (`model.inputs.audio`), in order
    frames: torch.Tensor | None = None  # (k, 3, S, S) uint8, S = the run's frame_size
    frame_embeddings: torch.Tensor | None = None  # (k, D): stored frame embeddings (video input `embeddings`)
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
        self._setup(trained.model, trained.config, device)

    @classmethod
    def for_model(cls, model: AffectModel, config: TrainConfig, device: str = "cpu", *, incremental: bool = True) -> StreamingPredictor:
        """A predictor over a model in memory (benchmarks, tests); `incremental=False` forces prefix re-runs."""
        predictor = cls.__new__(cls)
        predictor._setup(model.to(device).eval(), config, device, incremental=incremental)
        return predictor

    def _setup(self, model: AffectModel, config: TrainConfig, device: str, *, incremental: bool = True) -> None:
        self.model, self.config = model, config
        self.device = torch.device(device)
        self.modalities = self.model.modalities
        #: True: step t costs only the new inputs (the model's `step`); False: the prefix is re-run.
        self.incremental = incremental and model.streams
        self.reset()

    @property
    def mode(self) -> str:
        """How this predictor streams, in words (printed by `predict`)."""
        if self.incremental:
            return "incremental: each step computes only its new inputs (the model's step-wise form)"
        if not self.model.streams:
            return f"prefix re-run: {type(self.model).__name__} has no step-wise form, so each step re-runs the model over the inputs so far (O(t) per step)"
        return "prefix re-run (forced)"

    def reset(self) -> None:
        self._received: dict[str, list[torch.Tensor]] = {}
        self._steps = 0
        self._state: StreamState | None = self.model.init_state() if self.incremental else None

    def _append(self, key: str, value: torch.Tensor | None) -> None:
        if value is not None:
            self._received.setdefault(key, []).append(value)

    def _joined(self, key: str, empty: torch.Tensor) -> torch.Tensor:
        parts = self._received.get(key)
        return torch.cat(parts) if parts else empty

    def _empty(self) -> dict[str, torch.Tensor]:
        """What each input looks like when nothing of it arrived: zero elements of the right width."""
        empty: dict[str, torch.Tensor] = {}
        inputs = self.model.inputs
        if "audio" in self.modalities:
            empty["audio"] = torch.zeros(0, inputs.width("audio"))
        if "video" in self.modalities:
            video = self.config.model.video
            if video.input == "embeddings":
                empty["frame_embeddings"] = torch.zeros(0, inputs.width("video"))
            else:
                empty["frames"] = torch.zeros(0, 3, video.frame_size, video.frame_size, dtype=torch.uint8)
            empty["frame_times"] = torch.zeros(0)
            empty["frame_available"] = torch.zeros(0, dtype=torch.bool)
        if "text" in self.modalities:
            empty["tokens"] = torch.zeros(0, inputs.width("text"))
            empty["token_end_s"] = torch.zeros(0)
            empty["token_mask"] = torch.zeros(0, dtype=torch.bool)
        return empty

    def _item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"session_id": "stream", "label": 0, "n_steps": self._steps}
        for key, empty in self._empty().items():
            item[key] = self._joined(key, empty)
        if "text" in self.modalities and not self._received.get("tokens"):
            # Nothing said yet: one masked slot, so the text encoder never sees an empty sequence.
            item.update(tokens=torch.zeros(1, self.model.inputs.width("text")), token_end_s=torch.zeros(1),
                        token_mask=torch.zeros(1, dtype=torch.bool))
        return item

    def _chunk(self, features: StepFeatures) -> Batch:
        """The step's own elements as a one-session batch, every sequence exactly as long as what arrived."""
        values: dict[str, Any] = {"labels": torch.zeros(1, dtype=torch.long), "n_steps": torch.ones(1, dtype=torch.long)}
        for key, empty in self._empty().items():
            value = getattr(features, key)
            values[key] = (value if value is not None else empty).to(self.device)[None]
        if "audio" in values:
            values["audio"] = values["audio"].float()
            values["audio_mask"] = torch.ones(values["audio"].shape[:2], dtype=torch.bool, device=self.device)
        if "frame_available" in values:
            values["frame_mask"] = values.pop("frame_available")
        if "tokens" in values:
            values["tokens"] = values["tokens"].float()
        return Batch(**values)

    @torch.no_grad()
    def step(self, features: StepFeatures) -> StepOutput:
        started = time.perf_counter()
        t = self._steps
        self._steps += 1
        if self._state is not None:
            output = self.model.step(self._chunk(features), self._state)
            row = 0
        else:
            for key in ("audio", *FRAME_KEYS, *TOKEN_KEYS):
                self._append(key, getattr(features, key))
            output = self.model(collate([self._item()]).to(self.device))
            row = t
        probs = output.step_log_probs[0, row].float().exp().cpu()
        weights = None
        if output.weights is not None:
            weights = {m: float(w) for m, w in zip(self.modalities, output.weights[0, row].cpu(), strict=True)}
        latency = (time.perf_counter() - started) * 1000
        return StepOutput(t, {c: float(p) for c, p in zip(CLASSES, probs, strict=True)}, CLASSES[int(probs.argmax())], weights, latency)


def token_delivery_steps(ends: torch.Tensor, mask: torch.Tensor, step_s: float, n_steps: int) -> torch.Tensor:
    """The step each token up to the last real one is heard in: its end's step, never earlier than the
    token before it (words are heard in order); special tokens ride with the token before them."""
    real = mask.nonzero().flatten()
    last = int(real.max()) if len(real) else -1
    current, steps = 0, []
    for k in range(last + 1):
        if bool(mask[k]):
            current = max(current, int(step_of(ends[k : k + 1], step_s, n_steps)))
        steps.append(current)
    return torch.tensor(steps, dtype=torch.long)


def session_steps(item: dict[str, Any], step_s: float, audio_period_s: float | None = None) -> list[StepFeatures]:
    """Split one dataset session (a SessionDataset item) into what arrives in each step; audio frame
    n is timed n * `audio_period_s` (the run's `ModelInputs.period_s("audio")`).

    Tokens keep their order (`token_delivery_steps`); trailing padding is not sent. A token heard
    in a later step than its own end's (an earlier token ends after it) is delivered with the
    middle of that step as its time, so the stream never places an element in a step whose output
    was already given (`batch.LateInputError`).
    """
    n = int(item["n_steps"])
    parts: list[dict[str, list[int]]] = [{} for _ in range(n)]

    def assign(key: str, steps: torch.Tensor) -> None:
        for index, s in enumerate(steps.tolist()):
            parts[s].setdefault(key, []).append(index)

    token_steps = torch.zeros(0, dtype=torch.long)
    if "audio" in item:
        if audio_period_s is None:
            raise ValueError("the item has audio: session_steps needs its frame period (audio_period_s)")
        frames = torch.arange(item["audio"].shape[0], dtype=torch.float32)
        assign("audio", step_of(frames * audio_period_s, step_s, n))
    if "frame_times" in item:
        assign("video", step_of(item["frame_times"], step_s, n))
    if "token_mask" in item:
        token_steps = token_delivery_steps(item["token_end_s"], item["token_mask"], step_s, n)
        assign("text", token_steps)
    out = []
    for part in parts:
        values: dict[str, Any] = {}
        if "audio" in part:
            values["audio"] = item["audio"][part["audio"]]
        if "video" in part:
            idx = part["video"]
            values.update({key: item[key][idx] for key in FRAME_KEYS if key in item})
        if "text" in part:
            tokens = torch.tensor(part["text"])
            ends, steps = item["token_end_s"][tokens], token_steps[tokens]
            late = step_of(ends, step_s, n) < steps
            ends = torch.where(late, (steps.to(ends.dtype) + 0.5) * step_s, ends)
            values.update(tokens=item["tokens"][tokens].float(), token_end_s=ends, token_mask=item["token_mask"][tokens])
        out.append(StepFeatures(**values))
    return out


class SessionNotFound(LookupError):
    """`predict`'s SESSION names no session of the dataset; the message says what the dataset holds."""


@dataclass(frozen=True)
class FoundSession:
    """A dataset session as a model input item, and where it was read."""

    item: dict[str, Any]
    split: str
    dataset: Path


def find_session(
    run_dir: Path, session: str, data: Path | None = None, config: TrainConfig | None = None, *, warn: Warn | None = None
) -> dict[str, Any]:
    """A dataset session as a model input item: by session id, or `split:row` (e.g. `test:3`).

    `config` is the run's (read from its `best.pt` when not given); the dataset is `data` when
    given, else the run's own wherever the command runs from (`run_dataset.locate_dataset`).
    """
    return locate_session(run_dir, session, data, config, warn=warn).item


def locate_session(
    run_dir: Path, session: str, data: Path | None = None, config: TrainConfig | None = None, *, warn: Warn | None = None
) -> FoundSession:
    """`find_session`, with the split and the dataset folder it was found in."""
    from edu_emotionnet.data import SPLITS, session_datasets

    if config is None:
        path = Path(run_dir) / BEST
        config = stored_config(path, read_checkpoint(path, BEST_KEYS, RETRAIN), RETRAIN)
    found = locate_dataset(run_dir, config.data, data)
    tell(warn, found.warning)
    data = found.path
    datasets, _ = session_datasets(data, config.model, config.cache_dir)
    sizes = ", ".join(f"{name} {len(datasets[name])}" for name in SPLITS)
    split, sep, row = session.partition(":")
    if sep and split in SPLITS and row.isdigit():
        rows = len(datasets[split])
        if int(row) >= rows:
            within = f"{rows} session{'s' if rows != 1 else ''}: rows 0-{rows - 1}" if rows else "no sessions"
            raise SessionNotFound(f"{session}: the {split} split of {data} has {within}")
        return FoundSession(datasets[split][int(row)], split, data)
    for name in SPLITS:
        ids = datasets[name].rows["session_id"]
        if session in ids:
            return FoundSession(datasets[name][list(ids).index(session)], name, data)
    raise SessionNotFound(
        f"session {session!r} is in none of the splits of {data} ({sizes} sessions): give a session id "
        "of the dataset or SPLIT:ROW, e.g. test:0"
    )


def stream_session(
    run_dir: Path, session: str, data: Path | None = None, *, warn: Warn | None = None
) -> tuple[FoundSession, StreamingPredictor, list[StepOutput]]:
    """`edu-data predict`: run a dataset session through the streaming predictor step by step."""
    predictor = StreamingPredictor(run_dir)
    found = locate_session(run_dir, session, data, predictor.config, warn=warn)
    return found, predictor, stream_item(predictor, found.item)


def stream_item(predictor: StreamingPredictor, item: dict[str, Any]) -> list[StepOutput]:
    """Every step of one session item through `predictor` (reset first)."""
    predictor.reset()
    steps = session_steps(item, predictor.config.model.step_s, predictor.model.inputs.period_s("audio"))
    return [predictor.step(features) for features in steps]
