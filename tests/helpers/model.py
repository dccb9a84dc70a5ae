"""Models and batches over the planted dataset (`tests/model/conftest.py`'s `make_config`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from edu_emotionnet.batch import Batch
from edu_emotionnet.config import TrainConfig
from edu_emotionnet.data import collate, session_datasets
from edu_emotionnet.inputs import InputSpec, ModelInputs
from edu_emotionnet.model import build_model
from edu_emotionnet.outputs import AffectModel

#: The planted dataset's token width (tests/model/planted.py writes 32-dim embeddings).
PLANTED_TEXT_DIM = 32


def planted_inputs(text_dim: int = PLANTED_TEXT_DIM, embedding_dim: int = 1280, audio_width: int = 40) -> ModelInputs:
    """The inputs of the planted dataset (and of the synthetic streaming items): MFCC every 10 ms,
    frame embeddings, token embeddings `text_dim` wide."""
    return ModelInputs({
        "audio": InputSpec("mfcc", audio_width, 0.010),
        "video": InputSpec("frame_embeddings", embedding_dim),
        "text": InputSpec("token_embeddings", text_dim),
    })


def seeded_model(
    make_config: Callable[..., TrainConfig], variant: str = "edu_emotionnet.yaml", **model: object
) -> AffectModel:
    """`variant`'s model with `model.KEY=VALUE` overrides, built after `torch.manual_seed(0)`."""
    torch.manual_seed(0)
    config = make_config(variant, **{f"model__{k}": v for k, v in model.items()})
    return build_model(config.model, planted_inputs())


def first_batch(config: TrainConfig, size: int, modalities: Sequence[str] | None = None) -> Batch:
    """The first `size` training sessions of `config.data` (`config`'s modalities unless given), collated."""
    assert config.data is not None
    read = config.model.modalities if modalities is None else tuple(modalities)
    datasets, _ = session_datasets(config.data, config.model, config.cache_dir, modalities=read)
    return collate([datasets["train"][i] for i in range(size)])
