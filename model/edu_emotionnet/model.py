"""Edu-EmotionNet: encoders -> CMAA -> MIE -> TFL, with one ablation switch per mechanism as its options.

The paper's TFL is two things: the previous step's soft prediction fed into the current one
(`tfl`) and the consistency term lambda KL(y_{t-1} || y_t) in the loss (`tfl_kl`). Fewer prediction
flips is what the KL term optimises, so an ablation switching off both could only confirm claim (e);
each has its own switch and Table III row, and claim (e) tests the feedback alone (issue 21).
"""

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
    tfl: bool = Field(True, description="Temporal feedback: the previous step's soft prediction enters the current one; false = ablation -TFL feedback (the KL term stays).")
    tfl_kl: bool = Field(True, description="Temporal-consistency term kl_weight * KL(y_{t-1} || y_t) in the loss; false = ablation -TFL KL (lambda 0, the feedback stays).")
    kl_weight: float = Field(0.1, ge=0, description="lambda of the temporal-consistency term KL(y_{t-1} || y_t).")


class EduEmotionNet(AffectModel):
    """-CMAA: g = h. -MIE: equal weights over the available modalities. -TFL feedback: no feedback. -TFL KL: lambda 0."""

    streams = True

    def __init__(self, config: ModelConfig, inputs: ModelInputs) -> None:
        super().__init__()
        options = config.options_as(EduEmotionNetOptions)
        self.modalities = config.modalities
        self.session_prediction = config.session_prediction
        self.kl_weight = options.kl_weight if options.tfl_kl else 0.0
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
                      ablations={"cmaa": "-CMAA", "mie": "-MIE", "tfl": "-TFL feedback", "tfl_kl": "-TFL KL"}),
)


def build_model(config: ModelConfig, inputs: ModelInputs) -> AffectModel:
    """The model or baseline registered as `config.arch` (`edu_emotionnet.registry`) over the
    dataset's `inputs` (each modality's column, width and frame period)."""
    model = model_spec(config.arch).model(config, inputs)
    if not isinstance(model, AffectModel):
        raise TypeError(f"model arch {config.arch!r} built a {type(model).__name__}, not an AffectModel")
    model.inputs = inputs
    return model
