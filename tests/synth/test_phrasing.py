"""Synthetic text is learnable but not memorisable: every speaker has phrases of their own (no
phrase said by two speakers, so none by a train and a test speaker whatever the split), while the
class words are shared, so a model trained on other speakers still reads a new speaker's class."""

from __future__ import annotations

import difflib
import itertools
import re

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.naive_bayes import MultinomialNB

from edu_affect_data.core.vocabulary import CLASSES
from edu_affect_data.synth.design import CorpusPlan, design_corpora
from edu_affect_data.synth.phrasing import (
    CUES,
    FILLER_PER_SPEAKER,
    PHRASES_PER_CLASS,
    bank_capacity,
    banks_disjoint,
    phrase_banks,
)
from edu_affect_data.synth.profiles import DEMO
from edu_affect_data.synth.truth import truth_document


def _sentences(text: str) -> list[str]:
    """The phrases of a transcript text: tags dropped, split at sentence ends, lower case."""
    text = re.sub(r"\[[A-Z]+\]", " ", text)
    return [s.strip().lower() for s in re.split(r"[.?!](?:\s+|$)", text) if s.strip()]


def _said(truth: dict, text_of: dict[str, str]) -> dict[str, set[str]]:
    """speaker -> the phrases their transcribed units say in the files, the shared fixtures left out."""
    shared = {s for fixture in truth["text"]["shared"] for s in _sentences(fixture)}
    said: dict[str, set[str]] = {}
    for unit in truth["units"]:
        if unit["id"] in text_of:
            phrases = set(_sentences(text_of[unit["id"]])) - shared
            said.setdefault(unit["speaker"], set()).update(phrases)
    return said


def test_the_truth_records_a_disjoint_bank_per_speaker(truth: dict) -> None:
    text = truth["text"]
    speakers = {u["speaker"] for u in truth["units"]}
    assert set(text["banks"]) == speakers and text["disjoint"] is True and text["rule"]
    for bank in text["banks"].values():
        assert [len(bank[c]) for c in CLASSES] == [PHRASES_PER_CLASS] * len(CLASSES)
        assert len(bank["filler"]) == FILLER_PER_SPEAKER
    for a, b in itertools.combinations(sorted(text["banks"]), 2):
        phrases_a = {p.lower() for ps in text["banks"][a].values() for p in ps}
        phrases_b = {p.lower() for ps in text["banks"][b].values() for p in ps}
        assert not phrases_a & phrases_b, (a, b, phrases_a & phrases_b)


def test_no_two_speakers_say_the_same_phrase_in_the_files(truth: dict, text_of: dict[str, str]) -> None:
    """Read back from the transcripts: each speaker says only phrases of their own bank (or the
    shared format fixtures), and no phrase is said by two speakers."""
    said = _said(truth, text_of)
    # (a speaker whose transcript file is one of the broken files says nothing readable)
    assert set(said) <= set(truth["text"]["banks"]) and len(said) >= 7
    assert sum(map(len, said.values())) > 80  # not vacuous: 110 distinct phrases at seed 0
    for speaker, phrases in said.items():
        bank = {p.lower() for ps in truth["text"]["banks"][speaker].values() for p in ps}
        assert phrases <= bank, (speaker, sorted(phrases - bank)[:3])
    for a, b in itertools.combinations(sorted(said), 2):
        assert not said[a] & said[b], (a, b)


def test_a_lookup_of_train_speakers_phrases_reproduces_no_test_speakers_phrase(
    truth: dict, text_of: dict[str, str]
) -> None:
    """Every speaker in turn is the test speaker: a memoriser (phrase -> class, from the other
    speakers' units) finds none of its phrases, and the nearest train phrase by string similarity
    is never the phrase itself."""
    said = _said(truth, text_of)
    for speaker, phrases in said.items():
        train = sorted(set().union(*(p for s, p in said.items() if s != speaker)))
        assert not phrases & set(train), speaker
        for phrase in phrases:
            (nearest,) = difflib.get_close_matches(phrase, train, n=1, cutoff=0.0)
            assert nearest != phrase


@pytest.fixture(scope="module")
def demo_plan() -> CorpusPlan:
    """The demo profile's plan (30 speakers; planned, never rendered)."""
    return design_corpora(DEMO, 0)


def test_class_words_carry_over_to_unseen_speakers(demo_plan: CorpusPlan) -> None:
    """Leave one speaker out over the demo plan: a bag of words trained on the other speakers'
    units reads the held-out speaker's expressed text class (learnable without memorising)."""
    units = [u for rec in demo_plan.recordings for u in rec.units if u.annotated]
    hits = []
    for speaker in sorted({u.speaker_id for u in units}):
        train = [u for u in units if u.speaker_id != speaker]
        test = [u for u in units if u.speaker_id == speaker]
        words = CountVectorizer(ngram_range=(1, 2))
        model = MultinomialNB().fit(words.fit_transform([u.text for u in train]), [u.expressed["text"] for u in train])
        guesses = model.predict(words.transform([u.text for u in test]))
        hits += [g == u.expressed["text"] for g, u in zip(guesses, test, strict=True)]
    assert len(hits) > 500 and np.mean(hits) > 0.9, np.mean(hits)


def test_banks_are_disjoint_up_to_capacity_and_seeded() -> None:
    ids = [f"speaker_{k:03d}" for k in range(bank_capacity())]
    banks = phrase_banks(reversed(ids), 3)
    assert banks_disjoint(banks) and list(banks) == ids
    assert phrase_banks(ids, 3) == banks and phrase_banks(ids, 4) != banks
    for bank in banks.values():  # each phrase of class c holds one of c's cue frames
        for c in CLASSES:
            patterns = [re.escape(f).replace(r"\{t\}", ".+") for f in CUES[c]]
            assert all(any(re.fullmatch(p, phrase) for p in patterns) for phrase in bank.classes[c])
    capacity = bank_capacity()
    with pytest.raises(ValueError, match=rf"{capacity + 1} speakers but .* disjoint phrases for {capacity} only"):
        phrase_banks([*ids, "one_more"], 3)


def test_the_demo_plan_gives_every_speaker_its_own_bank(demo_plan: CorpusPlan) -> None:
    corpus = demo_plan
    text = truth_document(corpus)["text"]
    speakers = {s.speaker_id for rec in corpus.recordings for s in rec.speakers}
    assert set(text["banks"]) == speakers and len(speakers) == 30 and text["disjoint"] is True
    for rec in corpus.recordings:
        garbled = {uid for burst in rec.noise for uid in burst.units}  # noise.py's non-words
        for unit in rec.units:
            if unit.annotated and unit.unit_id not in garbled:
                bank = {p.lower() for p in rec.speaker(unit.speaker_id).bank().phrases()}
                shared = {s for fixture in text["shared"] for s in _sentences(fixture)}
                assert set(_sentences(unit.text)) - shared <= bank, unit.unit_id
