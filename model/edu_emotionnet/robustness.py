"""Missing-modality masks for the robustness evaluation, fixed by seed.

Masks depend only on (seed, kind, rate, session id), never on the model, the batch or the
training seed, so every model is tested on exactly the same holes.
- `modality`: each of audio/video/text is dropped for the whole session with probability
  `rate`; when all three would go, the one with the highest draw is kept (at least one stays).
- `timestep`: each (modality, grid step) is dropped independently with probability `rate`.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

from edu_affect_data.core.vocabulary import MODALITIES
from edu_emotionnet.batch import Batch, step_of

KINDS = ("modality", "timestep")


def _draws(seed: int, kind: str, rate: float, session_id: str, n_steps: int) -> np.ndarray:
    rng = np.random.default_rng([seed, KINDS.index(kind), round(rate * 1000), zlib.crc32(session_id.encode())])
    return rng.random((len(MODALITIES), 1 if kind == "modality" else n_steps))


def kept_steps(seed: int, kind: str, rate: float, session_id: str, n_steps: int) -> np.ndarray:
    """(len(MODALITIES), n_steps) bool: which steps of each modality stay, in `MODALITIES` order."""
    draws = _draws(seed, kind, rate, session_id, n_steps)
    keep = draws >= rate
    if kind == "modality":
        if not keep.any():
            keep[int(draws[:, 0].argmax())] = True
        keep = np.repeat(keep, n_steps, axis=1)
    return keep


def apply_drop(batch: Batch, kind: str, rate: float, seed: int, step_s: float, audio_period_s: float | None = None) -> Batch:
    """The batch with the dropped inputs masked out (rate 0 returns it unchanged); audio frame n is
    timed n * `audio_period_s` (the audio input's frame period, needed when the batch has audio)."""
    if rate <= 0:
        return batch
    horizon = int(batch.n_steps.max())
    keep = np.zeros((batch.size, len(MODALITIES), horizon), dtype=bool)
    for b, session in enumerate(batch.session_ids):
        n = int(batch.n_steps[b])
        keep[b, :, :n] = kept_steps(seed, kind, rate, session, n)
    keep_t = torch.from_numpy(keep).to(batch.n_steps.device)

    def masked(mask: torch.Tensor | None, times: torch.Tensor | None, modality: int) -> torch.Tensor | None:
        if mask is None or times is None:
            return mask
        steps = step_of(times, step_s, batch.n_steps)  # each session clamped to its own grid
        return mask & keep_t[:, modality].gather(1, steps)

    audio_times = None
    if batch.audio_mask is not None:
        if audio_period_s is None:
            raise ValueError("the batch has audio: apply_drop needs its frame period (audio_period_s)")
        frames = torch.arange(batch.audio_mask.shape[1], device=batch.audio_mask.device, dtype=torch.float32)
        audio_times = (frames * audio_period_s)[None].expand(batch.size, -1)
    return batch.masked(
        audio_mask=masked(batch.audio_mask, audio_times, MODALITIES.index("audio")),
        frame_mask=masked(batch.frame_mask, batch.frame_times, MODALITIES.index("video")),
        token_mask=masked(batch.token_mask, batch.token_end_s, MODALITIES.index("text")),
    )
