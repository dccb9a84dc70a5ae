"""What the model reads of the dataset: per modality the column, its width and its frame period.

Nothing about an input is a constant of the model. `model.inputs` names the dataset column that
feeds each encoder (`audio: mfcc | egemaps | <a plugin's column>`); the dataset says how wide it is
(its `datasets` feature) and the extractor that wrote it says how far apart its frames are
(`FeatureExtractor.period_s`, with the settings recorded in the dataset card). A run stores the
resolved `ModelInputs` in its checkpoints, so evaluation and `predict` rebuild the same encoders
without the dataset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import Field

from edu_affect_data.core.strict_config import StrictModel


class InputsConfig(StrictModel):
    """`model.inputs`: the dataset column each encoder reads."""

    audio: str = Field("mfcc", description="Per-frame audio column (an `Array2D(None, n)` written by an extractor that declares its frame period): `mfcc`, `egemaps`, or a plugin's column.")
    video: str = Field("frame_embeddings", description="Frame-embedding column read when `model.video.input` is `embeddings` (pixels come from `frames`).")
    text: str = Field("token_embeddings", description="Token-embedding column (its token times and mask come with it).")


@dataclass(frozen=True)
class InputSpec:
    """One encoder's input: the dataset column, its width, and the seconds between its frames
    (None: its elements carry their own times, as frames and tokens do)."""

    column: str
    width: int
    period_s: float | None = None


@dataclass(frozen=True)
class ModelInputs:
    """modality -> `InputSpec` of the modalities a run reads."""

    specs: Mapping[str, InputSpec]

    def __getitem__(self, modality: str) -> InputSpec:
        if modality not in self.specs:
            raise KeyError(f"the model's inputs have no {modality!r} (it reads {', '.join(self.specs) or 'nothing'})")
        return self.specs[modality]

    def width(self, modality: str) -> int:
        return self[modality].width

    def period_s(self, modality: str) -> float | None:
        """The frame period of `modality`'s input; None when it is not read or carries its own times."""
        spec = self.specs.get(modality)
        return None if spec is None else spec.period_s

    def to_json(self) -> dict[str, Any]:
        return {modality: asdict(spec) for modality, spec in self.specs.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelInputs:
        return cls({modality: InputSpec(**spec) for modality, spec in data.items()})


def legacy_inputs(text_dim: int, embedding_dim: int) -> ModelInputs:
    """What a checkpoint of format 1 (before `ModelInputs`; it holds only `text_dim`) was trained on:
    40 MFCC coefficients every 10 ms (the constants of that version), the config's frame embeddings,
    the stored text width."""
    return ModelInputs({
        "audio": InputSpec("mfcc", 40, 0.010),
        "video": InputSpec("frame_embeddings", embedding_dim),
        "text": InputSpec("token_embeddings", text_dim),
    })
