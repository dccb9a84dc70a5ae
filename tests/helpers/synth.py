"""Where the synthetic corpora (`edu_affect_data.synth`) put a recording's files."""

from __future__ import annotations

from pathlib import Path

from edu_affect_data.synth.write_iemocap import dialog_paths
from edu_affect_data.synth.write_mosei import video_paths


def recording_paths(root: Path, corpus: str, recording: str) -> dict[str, Path]:
    """The files of `recording` (an IEMOCAP dialog or a MOSEI video) under the corpora folder `root`."""
    spelled = dialog_paths(recording) if corpus == "iemocap" else video_paths(recording)
    return {k: root / v for k, v in spelled.items()}
