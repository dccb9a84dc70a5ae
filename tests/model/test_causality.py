"""Causality of the streamed path: features of raw media and the model's outputs before t ignore what comes after t."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from edu_emotionnet.data import collate
from edu_emotionnet.media_input import grid_steps
from edu_emotionnet.model import build_model
from edu_emotionnet.streaming import StreamingPredictor, session_steps

from edu_affect_data.stages.features.mfcc import (
    NORMALIZE_EPS,
    MfccOptions,
    analysis_delay,
    causal_mfcc,
    mfcc,
    running_normalise,
)
from edu_affect_data.stages.features.text import (
    TextEncoder,
    TextOptions,
    Transcript,
    causal_text_features,
)
from tests.helpers.media import media_pair
from tests.helpers.model import planted_inputs
from tests.model.streaming_items import EMBEDDING_DIM, TEXT_DIM, session_item, tiny_config

CUT_S = 2.0
WORDS = (("we", 0.1, 0.4), ("add", 0.5, 0.8), ("the", 0.9, 1.1), ("fractions", 1.2, 1.9),
         ("first", 2.1, 2.5), ("then", 2.6, 2.9), ("simplify", 3.0, 3.6))


@pytest.fixture(scope="module")
def text_encoder(tmp_path_factory: pytest.TempPathFactory) -> TextEncoder:
    """A small local BERT (random weights, the MiniLM tokenizer): contextual, so later words change earlier pieces."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from edu_affect_data.stages.features.text import OFFLINE_MINILM, resolve_model_dir

    folder = tmp_path_factory.mktemp("bert")
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model_dir(OFFLINE_MINILM)))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return TextEncoder(TextOptions(model=str(folder), max_tokens=32, dtype="float32", device="cpu"))


def test_mfcc_frames_before_t_ignore_samples_after_t() -> None:
    config = MfccOptions()
    rng = np.random.default_rng(0)
    samples = rng.normal(0, 0.1, 4 * config.sample_rate).astype(np.float32)
    changed = samples.copy()
    cut = int(CUT_S * config.sample_rate)
    changed[cut:] = rng.normal(0, 0.5, len(samples) - cut)
    a, b = causal_mfcc(samples, config), causal_mfcc(changed, config)
    assert analysis_delay(config) == 40  # 25 ms window centred on its 10 ms slot: 2.5 ms past it
    assert a.shape == mfcc(samples, config).shape  # as many frames as the dataset's
    slot = round(config.hop_s * config.sample_rate)
    before = cut // slot  # frames 0..199 end by 2.0 s
    np.testing.assert_array_equal(a[:before], b[:before])
    assert not np.allclose(a[before], b[before])
    # The dataset's session normalisation is not causal: its frame 0 changes with the later samples.
    assert not np.allclose(mfcc(samples, config)[0], mfcc(changed, config)[0])


def test_running_normalisation_uses_the_frames_so_far() -> None:
    x = np.random.default_rng(1).normal(5, 3, (50, 4)).astype(np.float32)
    out = running_normalise(x)
    assert np.array_equal(out[0], np.zeros(4, np.float32))
    for n in (1, 7, 49):
        prefix = x[: n + 1].astype(np.float64)
        expected = (x[n] - prefix.mean(0)) / (prefix.std(0) + NORMALIZE_EPS)
        np.testing.assert_allclose(out[n], expected, rtol=1e-5, atol=1e-5)


def test_word_pieces_are_embedded_from_the_words_heard_by_their_step(text_encoder: TextEncoder) -> None:
    changed = (*WORDS[:4], ("second", 2.2, 2.4), ("never", 2.7, 3.1))
    a = causal_text_features(text_encoder, Transcript("a", "", WORDS, 0.0), lambda t: grid_steps(t, 1.0, 4))
    b = causal_text_features(text_encoder, Transcript("b", "", changed, 0.0), lambda t: grid_steps(t, 1.0, 4))
    heard = (a["token_end_s"] >= 0) & (a["token_end_s"] < CUT_S)  # the pieces of words ending before 2 s
    assert heard.sum() >= 4
    np.testing.assert_array_equal(a["token_embeddings"][heard], b["token_embeddings"][heard])
    np.testing.assert_array_equal(a["input_ids"][heard], b["input_ids"][heard])
    # "we" (step 0) is embedded from the words heard in step 0, not from the whole transcript.
    step0 = text_encoder.encode([Transcript("p", "", WORDS[:2], 0.0)])[0]
    whole = text_encoder.encode([Transcript("w", "", WORDS, 0.0)])[0]
    np.testing.assert_array_equal(a["token_embeddings"][1], step0.token_embeddings[1])
    assert not np.allclose(a["token_embeddings"][1], whole.token_embeddings[1])
    assert not a["token_embeddings"][a["attention_mask"] == 0].any()  # padding carries nothing
    assert not a["token_embeddings"][0].any()  # nor [CLS]


def test_frame_embeddings_before_t_ignore_the_frames_after_t(tmp_path: Path) -> None:
    """`predict`'s frames: a still picture after the cut (fewer usable frames) leaves the embeddings before it the same bits."""
    from edu_emotionnet.data import DatasetBuild
    from edu_emotionnet.inputs import InputSpec, ModelInputs
    from edu_emotionnet.media_input import media_row

    from edu_affect_data.config import load_config

    config = load_config(None, {"features.extractors.frames": {"fps": 5.0, "store": "embeddings", "embedder": {"device": "cpu"}}})
    settings = DatasetBuild(config.features, config.gaps, "test", config.media)
    inputs = ModelInputs({"video": InputSpec("frame_embeddings", 1280)})
    rows = []
    for name, files in zip("ab", media_pair(tmp_path, CUT_S), strict=True):
        (tmp_path / name).mkdir()
        rows.append(media_row(files["wav"], settings, inputs, tmp_path / name, step_s=1.0, video=files["video"])[0])
    a, b = rows
    np.testing.assert_array_equal(a["frame_times"], b["frame_times"])
    before = a["frame_times"] < CUT_S
    np.testing.assert_array_equal(a["frame_available"][before], b["frame_available"][before])
    assert a["frame_available"][~before].sum() > b["frame_available"][~before].sum()  # b's frozen picture
    # Packed into one batch with the frames after the cut, these moved by a float16 ulp (the batch's shape
    # differs): each step's frames are a batch of their own, so they are equal to the bit.
    np.testing.assert_array_equal(a["frame_embeddings"][before], b["frame_embeddings"][before])
    assert not np.array_equal(a["frame_embeddings"][~before], b["frame_embeddings"][~before])


def _changed_after(item: dict, cut_s: float, seed: int) -> dict:
    """The same session with every element at or after `cut_s` replaced (MFCC, frames, later tokens)."""
    generator = torch.Generator().manual_seed(seed)
    out = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in item.items()}
    frames = int(cut_s * 100)
    out["audio"][frames:] = torch.randn(out["audio"][frames:].shape, generator=generator)
    late = out["frame_times"] >= cut_s
    out["frame_embeddings"][late] = torch.randn(out["frame_embeddings"][late].shape, generator=generator).half()
    out["frame_available"][late] = ~out["frame_available"][late]
    late_tokens = out["token_end_s"] >= cut_s
    out["tokens"][late_tokens] = torch.randn(out["tokens"][late_tokens].shape, generator=generator).half()
    return out


def test_model_outputs_before_t_ignore_inputs_after_t_offline_and_streamed() -> None:
    config = tiny_config(model__layers=2, model__audio__strides=[2, 2])
    torch.manual_seed(0)
    model = build_model(config.model, planted_inputs(TEXT_DIM, EMBEDDING_DIM)).eval()
    item = session_item(config, 6.0, 7)
    changed = _changed_after(item, CUT_S, 8)
    with torch.no_grad():
        a, b = model(collate([item])), model(collate([changed]))
    before = int(CUT_S)  # steps 0 and 1 end by 2 s
    assert torch.allclose(a.step_log_probs[0, :before], b.step_log_probs[0, :before], atol=1e-6)
    assert not torch.allclose(a.step_log_probs[0, before:], b.step_log_probs[0, before:], atol=1e-3)
    streamed = []
    for session in (item, changed):
        predictor = StreamingPredictor.for_model(model, config)
        streamed.append([predictor.step(f) for f in session_steps(session, 1.0, 0.010)])
    for t in range(before):
        assert streamed[0][t].probs == pytest.approx(streamed[1][t].probs, abs=1e-6)
        assert streamed[0][t].weights == pytest.approx(streamed[1][t].weights, abs=1e-6)

