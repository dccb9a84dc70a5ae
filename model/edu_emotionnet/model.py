"""Edu-EmotionNet: encoders -> CMAA -> MIE -> TFL, with the paper's three ablation switches."""

from __future__ import annotations

from edu_affect_data.core.vocabulary import CLASSES
from edu_emotionnet.batch import Batch
from edu_emotionnet.cmaa import CrossModalAlignment
from edu_emotionnet.config import ModelConfig
from edu_emotionnet.encoders import GridEncoder
from edu_emotionnet.mie import ModalityImportance
from edu_emotionnet.outputs import AffectModel, ModelOutput
from edu_emotionnet.registry import model_spec
from edu_emotionnet.tfl import TemporalFeedback


class EduEmotionNet(AffectModel):
    """-CMAA: g = h. -MIE: equal weights over the available modalities. -TFL: no feedback, lambda 0."""

    def __init__(self, config: ModelConfig, text_dim: int) -> None:
        super().__init__()
        self.modalities = config.modalities
        self.session_prediction = config.session_prediction
        self.kl_weight = config.kl_weight if config.tfl else 0.0
        self.encoder = GridEncoder(config, self.modalities, text_dim)
        self.align = (
            CrossModalAlignment(self.modalities, config.d_model, config.heads, config.dropout) if config.cmaa else None
        )
        self.importance = ModalityImportance(self.modalities, config.d_model, learned=config.mie)
        self.feedback = TemporalFeedback(config.d_model, len(CLASSES), feedback=config.tfl, dropout=config.dropout)

    def forward(self, batch: Batch) -> ModelOutput:
        h, avail = self.encoder(batch)
        g = self.align(h, avail) if self.align is not None else h
        z, weights = self.importance(h, g, avail)
        return self._output(self.feedback(z), batch.step_valid(), weights)


def build_model(config: ModelConfig, text_dim: int) -> AffectModel:
    """The model or baseline registered as `config.arch` (`edu_emotionnet.registry`); `text_dim` is
    the stored token-embedding width."""
    model = model_spec(config.arch).build(config, text_dim)
    if not isinstance(model, AffectModel):
        raise TypeError(f"model arch {config.arch!r} built a {type(model).__name__}, not an AffectModel")
    return model
