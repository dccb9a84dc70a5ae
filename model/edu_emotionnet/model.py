"""Edu-EmotionNet: encoders -> CMAA -> MIE -> TFL, with the paper's three ablation switches as its options."""

from __future__ import annotations

from pydantic import Field

from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.core.vocabulary import CLASSES, MODALITIES
from edu_emotionnet.attention import StreamState
from edu_emotionnet.batch import Batch
from edu_emotionnet.cmaa import CrossModalAlignment
from edu_emotionnet.config import ModelConfig
from edu_emotionnet.encoders import GridEncoder
from edu_emotionnet.inputs import ModelInputs
from edu_emotionnet.mie import ModalityImportance
from edu_emotionnet.outputs import AffectModel, ModelOutput
from edu_emotionnet.registry import ModelSpec, ReportPlace, model_spec
from edu_emotionnet.tfl import TemporalFeedback


class EduEmotionNetOptions(StrictModel):
    """`model.options` of the full model: each component switched off is one ablation of Table III."""

    cmaa: bool = Field(True, description="Cross-modal attention alignment; false = ablation -CMAA (g = h).")
    mie: bool = Field(True, description="Modality importance estimation; false = ablation -MIE (equal weights over available modalities).")
    tfl: bool = Field(True, description="Temporal feedback loop; false = ablation -TFL (no feedback and lambda 0).")
    kl_weight: float = Field(0.1, ge=0, description="lambda of the temporal-consistency term KL(y_{t-1} || y_t).")


class EduEmotionNet(AffectModel):
    """-CMAA: g = h. -MIE: equal weights over the available modalities. -TFL: no feedback, lambda 0."""

    streams = True

    def __init__(self, config: ModelConfig, inputs: ModelInputs) -> None:
        super().__init__()
        options = config.options_as(EduEmotionNetOptions)
        self.modalities = config.modalities
        self.session_prediction = config.session_prediction
        self.kl_weight = options.kl_weight if options.tfl else 0.0
        self.encoder = GridEncoder(config, self.modalities, inputs)
        self.align = (
            CrossModalAlignment(self.modalities, config.d_model, config.heads, config.dropout, config.window_steps)
            if options.cmaa
            else None
        )
        self.importance = ModalityImportance(self.modalities, config.d_model, learned=options.mie)
        self.feedback = TemporalFeedback(config.d_model, len(CLASSES), feedback=options.tfl, dropout=config.dropout)

    def forward(self, batch: Batch, state: StreamState | None = None) -> ModelOutput:
        h, avail = self.encoder(batch, state)
        g = self.align(h, avail, state) if self.align is not None else h
        z, weights = self.importance(h, g, avail)
        return self._output(self.feedback(z, state), batch.step_valid(), weights)


EDU_EMOTIONNET = ModelSpec(
    "edu_emotionnet", EduEmotionNet, MODALITIES, options=EduEmotionNetOptions,
    table=ReportPlace("Edu-EmotionNet", table_ii="fusion", full_model=True,
                      ablations={"cmaa": "-CMAA", "mie": "-MIE", "tfl": "-TFL"}),
)


def build_model(config: ModelConfig, inputs: ModelInputs) -> AffectModel:
    """The model or baseline registered as `config.arch` (`edu_emotionnet.registry`) over the
    dataset's `inputs` (each modality's column, width and frame period)."""
    model = model_spec(config.arch).model(config, inputs)
    if not isinstance(model, AffectModel):
        raise TypeError(f"model arch {config.arch!r} built a {type(model).__name__}, not an AffectModel")
    model.inputs = inputs
    return model
