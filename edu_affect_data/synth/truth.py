"""`synth_truth.json`: what the synthetic corpora really hold (schema in docs/contracts.md).

Readers, the gap filter, the simulated annotators and the analyses check themselves against it.
Beyond the contract's keys it records, per unit, whether it is `annotated` (X fragments are not)
and the class each modality `expressed` in it (`emotion` is the speaker's latent class in that
recording); per transcript hole the `units` it swallowed and their `expressed` classes; per noise
burst (noise.py) its interval, `snr_db` for audio and, for garbled words, the unit they belong to;
under `text` each speaker's phrase bank (phrasing.py), its rule and digest, and `disjoint`: whether
no phrase is in two speakers' banks, checked on the banks themselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edu_affect_data.core.fingerprint import json_digest
from edu_affect_data.core.vocabulary import MODALITIES
from edu_affect_data.core.vocabulary import SYNTH_TRUTH_FILE as TRUTH_FILE
from edu_affect_data.synth.design import CorpusPlan
from edu_affect_data.synth.phrasing import BANK_RULE, FRAGMENTS, PhraseBank, banks_disjoint
from edu_affect_data.synth.plan import (
    HOLE_TURN,
    UNDERSCORE_SENTENCE,
    FaultPlan,
    NoisePlan,
    RecordingPlan,
)
from edu_affect_data.synth.write_iemocap import BROKEN_FILE as IEMOCAP_BROKEN_FILE
from edu_affect_data.synth.write_iemocap import dialog_paths
from edu_affect_data.synth.write_mosei import BROKEN_FILE as MOSEI_BROKEN_FILE
from edu_affect_data.synth.write_mosei import video_paths


def _broken_files(plan: RecordingPlan) -> list[dict[str, Any]]:
    if plan.corpus == "iemocap":
        paths, names = dialog_paths(plan.recording_id), IEMOCAP_BROKEN_FILE
    else:
        paths, names = video_paths(plan.recording_id), MOSEI_BROKEN_FILE
    return [
        {
            "path": paths[names[kind]],
            "kind": kind,
            "corpus": plan.corpus,
            "recording": plan.recording_id,
            "unit": plan.malformed_unit if kind == "malformed_emo_line" else None,
        }
        for kind in plan.broken
    ]


def _expressed(expressed: dict[str, str]) -> dict[str, str]:
    return {modality: expressed[modality] for modality in MODALITIES}


def _stretch(plan: RecordingPlan, event: FaultPlan | NoisePlan) -> dict[str, Any]:
    """The keys every fault and noise entry starts with: which recording, modality and region, when, what."""
    return {
        "corpus": plan.corpus,
        "recording": plan.recording_id,
        "modality": event.modality,
        "start_s": round(event.start_s, 6),
        "end_s": round(event.end_s, 6),
        "region": event.region,
        "kind": event.kind,
    }


def _noise(plan: RecordingPlan) -> list[dict[str, Any]]:
    entries = []
    for b in plan.noise:
        entry = _stretch(plan, b)
        if b.snr_db is not None:
            entry["snr_db"] = b.snr_db
        if b.units:
            entry["units"] = list(b.units)
        entries.append(entry)
    return entries


def _text(banks: dict[str, PhraseBank]) -> dict[str, Any]:
    """Who says which phrases: the banks, their rule and digest, and whether they are disjoint.

    `shared` lists what every speaker may say outside the banks: class-neutral fixtures of the
    formats (unannotated backchannel fragments, the short hole's turn, MOSEI's `___` sentence).
    """
    as_json = {speaker: banks[speaker].as_json() for speaker in sorted(banks)}
    return {
        "rule": BANK_RULE,
        "shared": [*FRAGMENTS, HOLE_TURN, UNDERSCORE_SENTENCE],
        "digest": json_digest(as_json),
        "disjoint": banks_disjoint(banks),
        "banks": as_json,
    }


def truth_document(corpus: CorpusPlan) -> dict[str, Any]:
    faults, broken, units, noise = [], [], [], []
    for plan in corpus.recordings:
        noise += _noise(plan)
        by_id = {u.unit_id: u for u in plan.units}
        for f in plan.faults:
            entry = _stretch(plan, f)
            if f.units:
                entry["units"] = list(f.units)
                entry["expressed"] = {uid: _expressed(by_id[uid].expressed) for uid in f.units}
            faults.append(entry)
        broken += _broken_files(plan)
        for u in plan.transcribed_units():
            units.append(
                {
                    "corpus": plan.corpus,
                    "id": u.unit_id,
                    "recording": plan.recording_id,
                    "speaker": u.speaker_id,
                    "emotion": plan.speaker(u.speaker_id).latent,
                    "start_s": u.start_s,
                    "end_s": u.end_s,
                    "annotated": u.annotated,
                    "expressed": _expressed(u.expressed),
                }
            )
    return {
        "profile": corpus.profile,
        "seed": corpus.seed,
        "faults": faults,
        "broken_files": broken,
        "units": units,
        "noise": noise,
        "text": _text(corpus.phrase_banks),
    }


def write_truth(corpus: CorpusPlan, out: Path) -> Path:
    path = out / TRUTH_FILE
    path.write_text(json.dumps(truth_document(corpus), indent=1) + "\n")
    return path
