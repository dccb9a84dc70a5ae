"""`synth_truth.json`: what the synthetic corpora really hold (schema in docs/contracts.md).

Readers, the gap filter, the simulated annotators and the analyses check themselves against it.
Beyond the contract's keys it records, per unit, whether it is `annotated` (X fragments are not)
and the class each modality `expressed` in it (`emotion` is the speaker's latent class in that
recording); per transcript hole the `units` it swallowed and their `expressed` classes; per noise
burst (noise.py) its interval, `snr_db` for audio and, for garbled words, the unit they belong to;
`planted`: which mechanism's phenomenon is present (noise for MIE, coincidences for CMAA, a
persistent state for TFL) with its parameters, and, when planted (phenomena.py), `coincidences`
(per unit: its four events and the class they code) and `states` (per speaker and recording: the
class and the per-step values);
under `text` each speaker's phrase bank (phrasing.py), its rule and digest, and `disjoint`: whether
no phrase is in two speakers' banks, checked on the banks themselves.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from edu_affect_data.core.fingerprint import json_digest
from edu_affect_data.core.vocabulary import MODALITIES
from edu_affect_data.core.vocabulary import SYNTH_TRUTH_FILE as TRUTH_FILE
from edu_affect_data.synth.design import CorpusPlan
from edu_affect_data.synth.phenomena import truth_entries
from edu_affect_data.synth.phrasing import BANK_RULE, FRAGMENTS, PhraseBank, banks_disjoint
from edu_affect_data.synth.plan import (
    HOLE_TURN,
    UNDERSCORE_SENTENCE,
    FaultPlan,
    NoisePlan,
    RecordingPlan,
)
from edu_affect_data.synth.profiles import Profile
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


def planted_phenomena(profile: Profile) -> dict[str, Any]:
    """Which mechanism's phenomenon the corpus carries (`present`) and with what parameters: the
    key that tells a planted corpus from its control."""
    entry: dict[str, Any] = {"mie": {"present": profile.noise is not None}}
    for name, shape in (("cmaa", profile.cmaa), ("tfl", profile.tfl)):
        if shape is None:
            entry[name] = {"present": False, "events": False}
        else:
            entry[name] = {"present": shape.coupled, "events": True, **dataclasses.asdict(shape)}
    return entry


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


def truth_document(corpus: CorpusPlan, profile: Profile | None = None) -> dict[str, Any]:
    faults, broken, units, noise = [], [], [], []
    coincidences: list[dict[str, Any]] = []
    states: list[dict[str, Any]] = []
    for plan in corpus.recordings:
        noise += _noise(plan)
        planted_units, planted_states = truth_entries(plan)
        coincidences += planted_units
        states += planted_states
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
        **({"planted": planted_phenomena(profile)} if profile is not None else {}),
        **({"coincidences": coincidences} if coincidences else {}),
        **({"states": states} if states else {}),
        "text": _text(corpus.phrase_banks),
    }


def write_truth(corpus: CorpusPlan, out: Path, profile: Profile | None = None) -> Path:
    path = out / TRUTH_FILE
    path.write_text(json.dumps(truth_document(corpus, profile), indent=1) + "\n")
    return path
