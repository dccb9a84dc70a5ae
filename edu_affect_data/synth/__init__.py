"""Synthetic IEMOCAP and CMU-MOSEI corpora in their exact on-disk formats, with known truth.

The real corpora are licensed and never on our machines; this package writes stand-ins that
exercise every reader quirk, every fault the gap filter must find, and a latent learner emotion
that a model can learn. `synthesize` plans everything in this process (seeded), renders the
recordings in parallel over an executor, then writes the corpus-wide files and the truth.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from edu_affect_data.core.parallel import parallel_map
from edu_affect_data.synth.design import design_corpora
from edu_affect_data.synth.plan import RecordingPlan
from edu_affect_data.synth.profiles import PROFILES, NoiseShape, get_profile
from edu_affect_data.synth.truth import TRUTH_FILE, write_truth
from edu_affect_data.synth.write_iemocap import ROOT as IEMOCAP_ROOT
from edu_affect_data.synth.write_iemocap import write_dialog
from edu_affect_data.synth.write_mosei import ROOT as MOSEI_ROOT
from edu_affect_data.synth.write_mosei import write_csds, write_video

__all__ = ["PROFILES", "SynthSummary", "summarize", "synthesize"]

README = """\
IEMOCAP full release -- SYNTHETIC STAND-IN written by edu-affect-data (`edu-data synth`).

Same layout and file syntax as the real release; no real speech, faces or text.
Dialog video: both actors side by side, the F actor in the left half and the M actor in the
right half (in the real corpus this is a heuristic, not documented).
Audio: 16 kHz mono 16-bit PCM. Video: MPEG-4 part 2 (DX50) in AVI, 30000/1001 fps.
Ground truth of this synthetic corpus: ../synth_truth.json
"""


@dataclass(frozen=True)
class SynthSummary:
    recordings: int
    units: int
    faults: int
    broken_files: int
    noise_bursts: int = 0


def _render(plan: RecordingPlan, *, out: Path, seed: int) -> str:
    if plan.corpus == "iemocap":
        write_dialog(plan, out, seed)
    else:
        write_video(plan, out, seed)
    return plan.recording_id


def synthesize(
    out: Path,
    profile: str,
    seed: int,
    *,
    executor: cf.Executor | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    noise: bool | None = None,
) -> Path:
    """Write `OUT/IEMOCAP_full_release/`, `OUT/CMU_MOSEI/` and `OUT/synth_truth.json`; return `out`.

    `noise` turns the time-local noise bursts (noise.py) on or off; None keeps the profile's
    choice, True on a profile without them plants the default `NoiseShape`. Noise off writes
    exactly what the profile writes without noise; noise on changes the files only inside bursts.

    Recordings render on `executor`, else on a local pool of `workers` processes (all cores when
    None). Byte-identical for the same profile and seed whatever the executor: each recording's
    noise is seeded from the recording, never from the order workers run in. Refuses to write over
    an earlier corpus unless `overwrite` (stale files of another seed would silently stay otherwise).
    """
    out = Path(out)
    shape = get_profile(profile)
    if noise is not None and noise != (shape.noise is not None):
        shape = dataclasses.replace(shape, noise=NoiseShape() if noise else None)
    targets = [out / IEMOCAP_ROOT, out / MOSEI_ROOT, out / TRUTH_FILE]
    existing = [p for p in targets if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{existing[0]} exists; pass overwrite=True (--overwrite) to replace it"
        )
    for path in existing:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    corpus = design_corpora(shape, seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / IEMOCAP_ROOT / "Documentation").mkdir(parents=True)
    (out / IEMOCAP_ROOT / "Documentation" / "README.txt").write_text(README)
    # Longest first, so the workers finish together.
    plans = sorted(
        corpus.recordings, key=lambda p: -p.duration_s * p.fps * p.frame_size[0] * p.frame_size[1]
    )
    render = partial(_render, out=out, seed=seed)
    for _ in parallel_map(
        render, plans, executor=executor, workers=workers, ordered=False, describe=lambda p: p.recording_id
    ):
        pass
    write_csds(corpus.mosei, out, seed)
    write_truth(corpus, out, shape)
    return out


def summarize(out: Path) -> SynthSummary:
    """Counts from `OUT/synth_truth.json`, for the CLI and logs."""
    truth = json.loads((Path(out) / TRUTH_FILE).read_text())
    recordings = {(u["corpus"], u["recording"]) for u in truth["units"]}
    recordings |= {(e["corpus"], e["recording"]) for e in truth["faults"] + truth["broken_files"]}
    return SynthSummary(
        len(recordings),
        len(truth["units"]),
        len(truth["faults"]),
        len(truth["broken_files"]),
        len(truth.get("noise", [])),
    )
