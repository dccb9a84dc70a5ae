"""Causal forms of the dataset's features, for `edu-data predict` on a raw recording.

The published dataset's features are session-level: each session's MFCC is normalised with the
mean and variance of the whole session, and each token embedding comes from the text model run
over the whole transcript (its later words included). That suits offline training and
evaluation; a prediction streamed at step t must not depend on anything heard after step t.
`predict` on raw media therefore computes the same features in a causal form:

- MFCC: the dataset's analysis (`edu_affect_data.stages.features.mfcc.mfcc`, unnormalised) on the
  signal delayed by `analysis_delay` samples, so that frame n ends where its 10 ms slot ends
  (librosa centres frame n on sample n*hop: a 25 ms window reaches 2.5 ms past its slot), then
  running normalisation: frame n is normalised by the mean and standard deviation of frames
  0..n (cumulative sums in float64; frame 0 becomes 0).
- Text: the words are heard in order, a word at the step its end falls in and never before the
  word preceding it (`streaming.token_delivery_steps`). At each step where words arrive, the
  transcript prefix heard so far is encoded, and the word pieces arriving in that step take their
  embeddings from that encoding; earlier pieces keep theirs (an append-only stream, so the model
  runs incrementally). Special and padding tokens get zero vectors (the model masks them).
- Video: already causal as extracted: each frame is the picture shown at its time, judged
  available against the last usable frame before it, and embedded alone.

Left as is: media at another sample rate than the dataset's are resampled (librosa / ffmpeg)
with a linear-phase filter, whose few samples of lookahead are not compensated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from edu_affect_data.stages.features.mfcc import NORMALIZE_EPS, MfccOptions, mfcc
from edu_affect_data.stages.features.text import TextEncoder, TextFeatures, Transcript
from edu_emotionnet.batch import step_of


class CausalFeatureError(ValueError):
    """A text model whose word pieces depend on the words after them (no prefix-stable tokenisation)."""


def analysis_delay(config: MfccOptions) -> int:
    """Samples by which frame n of a centred analysis window reaches past its slot [n*hop, (n+1)*hop)."""
    win = round(config.win_s * config.sample_rate)
    hop = round(config.hop_s * config.sample_rate)
    return max(0, (win - win // 2) - hop)


def running_normalise(coefficients: np.ndarray) -> np.ndarray:
    """(frames, n) -> each frame minus the mean of frames 0..n, over their standard deviation (+eps)."""
    x = coefficients.astype(np.float64)
    count = np.arange(1, len(x) + 1, dtype=np.float64)[:, None]
    mean = np.cumsum(x, axis=0) / count
    variance = np.maximum(np.cumsum(x * x, axis=0) / count - mean * mean, 0.0)
    return np.ascontiguousarray((x - mean) / (np.sqrt(variance) + NORMALIZE_EPS), dtype=np.float32)


def causal_mfcc(samples: np.ndarray, config: MfccOptions) -> np.ndarray:
    """(frames, n_mfcc) float32 as many frames as the dataset's MFCC of `samples`; frame n depends on
    samples before (n + 1) * hop only."""
    delay = analysis_delay(config)
    delayed = np.concatenate([np.zeros(delay, samples.dtype), samples[: len(samples) - delay]]) if delay else samples
    raw = mfcc(np.ascontiguousarray(delayed), config.model_copy(update={"normalize": "none"}))
    return running_normalise(raw) if config.normalize == "session" else raw


def word_delivery_steps(transcript: Transcript, step_s: float, n_steps: int) -> list[int]:
    """The step each word is heard in: its end's step (session time, float32 as stored), never before
    the word preceding it."""
    ends = torch.tensor([end - transcript.start_s for _, _, end in transcript.words], dtype=torch.float32)
    steps = step_of(ends, step_s, n_steps).tolist() if len(ends) else []
    out, current = [], 0
    for step in steps:
        current = max(current, int(step))
        out.append(current)
    return out


def causal_text_features(encoder: TextEncoder, transcript: Transcript, step_s: float, n_steps: int) -> dict[str, Any]:
    """The text columns of `transcript` (ids, mask and times as the dataset stores them), with each word
    piece embedded from the prefix of words heard by the end of its word's step."""
    full = encoder.encode([transcript])[0]
    word_ids = encoder.tokenizer(
        [w for w, _, _ in transcript.words], is_split_into_words=True, truncation=True, max_length=encoder.config.max_tokens
    ).word_ids() if transcript.words else []
    delivery = word_delivery_steps(transcript, step_s, n_steps)
    cuts = sorted({sum(1 for s in delivery if s <= step) for step in set(delivery)})  # words heard by each step with words
    prefixes: list[TextFeatures] = encoder.encode(
        [Transcript(transcript.session_id, "", tuple(transcript.words[:k]), transcript.start_s) for k in cuts]
    )
    embeddings = np.zeros_like(full.token_embeddings)
    first = 0
    for k, prefix in zip(cuts, prefixes, strict=True):
        positions = [p for p, w in enumerate(word_ids) if w is not None and first <= w < k]
        if positions and not np.array_equal(prefix.input_ids[positions], full.input_ids[positions]):
            raise CausalFeatureError(
                f"{encoder.config.model}: the word pieces of a transcript prefix differ from those of the whole "
                "transcript, so a prefix encoding cannot stand for the words heard so far"
            )
        embeddings[positions] = prefix.token_embeddings[positions]
        first = k
    values = vars(full).copy()
    values["token_embeddings"] = embeddings
    return values
