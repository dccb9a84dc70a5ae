"""A baseline written outside the package, as a third party would: one module (this one), one
registry line (`register_model(STEP_GRU)`, or an `edu_emotionnet.models` entry point naming
`tests.model.step_gru:STEP_GRU`) and one YAML file (`step_gru.yaml`). Nothing in `edu_emotionnet`
names it. `test_new_baseline.py` trains it and finds it in the report's tables.

The model: every modality's input projection pooled onto the step grid (no context), concatenated
with the availability bits, then a unidirectional GRU over steps (causal: step t has read steps
<= t only) whose width is this baseline's own option `hidden`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from edu_emotionnet.batch import Batch
from edu_emotionnet.config import ModelConfig
from edu_emotionnet.encoders import GridEncoder
from edu_emotionnet.inputs import ModelInputs
from edu_emotionnet.outputs import AffectModel, ModelOutput
from edu_emotionnet.registry import ModelSpec, ReportPlace
from pydantic import Field
from torch import nn

from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.core.vocabulary import CLASSES, MODALITIES


class StepGRUOptions(StrictModel):
    """`model.options` of the step GRU."""

    hidden: int = Field(24, ge=1, description="Width of the GRU over the fused steps.")


class StepGRU(AffectModel):
    def __init__(self, config: ModelConfig, inputs: ModelInputs) -> None:
        super().__init__()
        options = config.options_as(StepGRUOptions)
        self.modalities = config.modalities
        self.session_prediction = config.session_prediction
        self.encoder = GridEncoder(config, self.modalities, inputs, contextual=False)
        self.gru = nn.GRU(len(self.modalities) * (config.d_model + 1), options.hidden, batch_first=True)
        self.classify = nn.Linear(options.hidden, len(CLASSES))

    def forward(self, batch: Batch) -> ModelOutput:
        h, avail = self.encoder(batch)
        fused = torch.cat([h[m] for m in self.modalities] + [avail[m][..., None].to(h[m].dtype) for m in self.modalities], dim=-1)
        with torch.autocast(fused.device.type, enabled=False):
            steps, _ = self.gru(fused.float())
        return self._output(F.log_softmax(self.classify(steps).float(), dim=-1), batch.step_valid())


STEP_GRU = ModelSpec("step_gru", StepGRU, MODALITIES, ReportPlace("Step GRU", "fusion"), options=StepGRUOptions)
