"""What the synthetic learners say: class-coloured phrases, sometimes with neutral filler, each
speaker with phrases of their own.

Every utterance says a phrase of the class its text expresses, and a second one with probability
`SECOND_PHRASE_P` (neutral filler otherwise), so class words are most of what is said and a small
text encoder can pick them up. One utterance is still weak evidence of the learner's latent
emotion because each unit's expressed class is itself a noisy draw (design.py); a session of a
few units is good evidence, as in real speech.

Why per-speaker banks: with one fixed set of phrases for everyone, every test speaker says
sentences the model saw verbatim in training, so the text modality can score by recalling whole
sentences, which no real corpus allows. Here a phrase is a class *cue* (a frame such as "I don't
get {t}", whose words say the class and are shared by all speakers) around a neutral *topic*
("the second integral", shared by every class and the filler). Every (frame, topic) pair is said
by at most one speaker: `phrase_banks` deals the pairs of each class (and of the filler) out to
the speakers, so no two speakers share a phrase and no split can put a phrase on both sides,
while the class stays readable from the cue words (learnable, not memorisable).
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from edu_affect_data.core.vocabulary import CLASSES

#: Probability that an utterance carries a second phrase of its expressed class instead of filler.
SECOND_PHRASE_P = 0.6
#: Phrases of each class, and filler phrases, in one speaker's bank.
PHRASES_PER_CLASS = 8
FILLER_PER_SPEAKER = 8

#: Class cues: `{t}` is where a topic goes. The words around it carry the class for every speaker.
CUES: dict[str, tuple[str, ...]] = {
    "Confused": (
        "I don't get {t}",
        "I'm lost with {t}",
        "I'm confused about {t}",
        "I can't follow {t}",
        "what does {t} even mean",
        "I don't understand {t}",
        "which part of {t} do you mean",
        "{t} makes no sense to me",
        "I'm not sure what {t} is",
        "sorry, I'm lost at {t}",
        "can you explain {t} again",
        "hold on, where did {t} come from",
    ),
    "Curious": (
        "what if we tried {t} another way",
        "I wonder how {t} works",
        "ooh, tell me more about {t}",
        "could we explore {t} further",
        "how did they come up with {t}",
        "that's cool, does {t} work every time",
        "I'm curious about {t}",
        "can we see what happens with {t}",
        "I'd love to know why {t} works",
        "what would happen if we changed {t}",
        "is there more to {t}",
        "interesting, where else can we use {t}",
    ),
    "Bored": (
        "{t} is so boring",
        "are we done with {t} yet",
        "whatever, {t} again",
        "{t} is taking forever",
        "can we just skip {t}",
        "meh, {t} is all the same",
        "I'm so bored of {t}",
        "how much longer is {t}",
        "yawn, more of {t}",
        "{t} is dull",
        "I really don't care about {t}",
        "this is tedious, {t} again",
    ),
    "Frustrated": (
        "ugh, {t} still doesn't work",
        "{t} is wrong again",
        "why does {t} keep failing",
        "I've tried {t} five times already",
        "this is so annoying, {t} never adds up",
        "forget it, I can't do {t}",
        "{t} crashed again, seriously",
        "I give up on {t}",
        "argh, {t} is broken",
        "I'm so fed up with {t}",
        "nothing I do fixes {t}",
        "{t} keeps giving me an error",
    ),
}

#: Neutral frames of the filler: classroom talk that says nothing about the learner's state.
FILLER_FRAMES: tuple[str, ...] = (
    "let me look at {t} again",
    "so next is {t}",
    "we start with {t}",
    "the teacher explained {t}",
    "I wrote {t} in my notes",
    "it says to check {t}",
    "okay, {t} is on page twelve",
    "we did {t} last week",
    "the answer to {t} is in the back of the book",
    "first we read {t}",
    "then we copy {t} from the board",
    "right, {t} was in the lecture",
)

#: Topics: a determiner and a noun of schoolwork, the same for every class and the filler.
DETERMINERS: tuple[str, ...] = ("the", "this", "that", "the last", "the next", "the second", "our", "my")
NOUNS: tuple[str, ...] = (
    "loop",
    "numerator",
    "symbol",
    "integral",
    "exercise",
    "triangle",
    "formula",
    "graph",
    "function",
    "equation",
    "proof",
    "fraction",
    "table",
    "diagram",
    "example",
    "question",
    "derivative",
    "variable",
    "chart",
    "algorithm",
)
TOPICS: tuple[str, ...] = tuple(f"{d} {n}" for d in DETERMINERS for n in NOUNS)

#: Short unannotated fragments (IEMOCAP `X` ids): backchannels every speaker shares, never a phrase
#: of a bank and never annotated.
FRAGMENTS: tuple[str, ...] = ("um", "yeah", "mm hm", "oh", "okay", "uh huh")

TAGS: tuple[str, ...] = ("[LAUGHTER]", "[BREATHING]")
TAG_P = 0.12

#: What `synth_truth.json` says about the rule (key `text`).
BANK_RULE = (
    f"per speaker {PHRASES_PER_CLASS} phrases of each class and {FILLER_PER_SPEAKER} filler phrases; "
    "a phrase is a cue frame of its class (filler: a neutral frame) around a neutral topic; every "
    "(frame, topic) pair of a class or of the filler is dealt to at most one speaker (speakers in "
    "sorted id order, pairs in an order seeded by the corpus seed), so no phrase is said by two "
    "speakers; cue words are shared across speakers, phrases are not"
)

_TAG_RE = re.compile(r"\[[A-Z]+\]")


@dataclass(frozen=True)
class PhraseBank:
    """The phrases one speaker says: `classes[c]` for class c, `filler` for neutral talk."""

    classes: Mapping[str, tuple[str, ...]]
    filler: tuple[str, ...]

    def phrases(self) -> tuple[str, ...]:
        """Every phrase of the bank, class phrases first in `CLASSES` order, then the filler."""
        return (*(p for c in CLASSES for p in self.classes[c]), *self.filler)

    def as_json(self) -> dict[str, list[str]]:
        return {**{c: list(self.classes[c]) for c in CLASSES}, "filler": list(self.filler)}


def _dealt(frames: tuple[str, ...], name: str, seed: int) -> list[str]:
    """All phrases of `frames` x `TOPICS`, in an order that depends on the seed and `name` only."""
    pairs = [frame.format(t=topic) for frame, topic in itertools.product(frames, TOPICS)]
    order = np.random.default_rng([seed, zlib.crc32(b"phrase-banks"), zlib.crc32(name.encode())])
    return [pairs[int(i)] for i in order.permutation(len(pairs))]


def bank_capacity() -> int:
    """How many speakers `phrase_banks` can give disjoint banks."""
    per_class = min(len(frames) for frames in CUES.values()) * len(TOPICS) // PHRASES_PER_CLASS
    return min(per_class, len(FILLER_FRAMES) * len(TOPICS) // FILLER_PER_SPEAKER)


def phrase_banks(speaker_ids: Iterable[str], seed: int) -> dict[str, PhraseBank]:
    """speaker id -> that speaker's phrases, pairwise disjoint across speakers.

    Speakers take consecutive slices of each class's (and the filler's) seeded order of all
    (frame, topic) pairs, in sorted id order: deterministic for a seed and a set of speakers.
    More speakers than `bank_capacity()` is an error (there are not enough distinct phrases).
    """
    speakers = sorted(set(speaker_ids))
    if len(speakers) > bank_capacity():
        raise ValueError(
            f"{len(speakers)} speakers but the synthetic phrase bank holds disjoint phrases for "
            f"{bank_capacity()} only (phrasing.py: add topics or cue frames)"
        )
    dealt = {c: _dealt(CUES[c], c, seed) for c in CLASSES}
    filler = _dealt(FILLER_FRAMES, "filler", seed)
    banks = {}
    for k, speaker in enumerate(speakers):
        per = slice(k * PHRASES_PER_CLASS, (k + 1) * PHRASES_PER_CLASS)
        fill = slice(k * FILLER_PER_SPEAKER, (k + 1) * FILLER_PER_SPEAKER)
        banks[speaker] = PhraseBank({c: tuple(dealt[c][per]) for c in CLASSES}, tuple(filler[fill]))
    return banks


def banks_disjoint(banks: Mapping[str, PhraseBank]) -> bool:
    """Whether no phrase is in two banks (nor twice in one): checked, not assumed, for the truth."""
    phrases = [p.lower() for bank in banks.values() for p in bank.phrases()]
    return len(phrases) == len(set(phrases))


def bank_words() -> frozenset[str]:
    """Every word a bank phrase or a fragment can hold, lower case (noise.py's non-words avoid them)."""
    frames = [frame.replace("{t}", " ") for frames in (*CUES.values(), FILLER_FRAMES) for frame in frames]
    texts = [*frames, *TOPICS, *FRAGMENTS]
    return frozenset(w.lower() for text in texts for w in spoken_tokens(text))


def utterance_text(expressed: str, bank: PhraseBank, rng: np.random.Generator) -> str:
    """One turn of a learner whose bank is `bank` and whose text modality expresses `expressed`."""
    phrases = bank.classes[expressed]
    if rng.random() < SECOND_PHRASE_P:
        first, second = rng.choice(len(phrases), 2, replace=False)
        parts = [phrases[int(first)], phrases[int(second)]]
    else:
        parts = [str(rng.choice(phrases)), str(rng.choice(bank.filler))]
    if rng.random() < 0.5:
        parts.reverse()
    text = ". ".join(p[0].upper() + p[1:] for p in parts) + rng.choice(
        [".", "?", "!"], p=[0.7, 0.2, 0.1]
    )
    if rng.random() < TAG_P:
        tag = str(rng.choice(TAGS))
        text = f"{tag} {text}" if rng.random() < 0.5 else f"{text} {tag}"
    return text


def fragment_text(rng: np.random.Generator) -> str:
    return str(rng.choice(FRAGMENTS)).capitalize() + "."


def spoken_spans(text: str) -> list[tuple[int, int]]:
    """Character spans `[start, end)` in `text` of the words an aligner would find (tags dropped,
    edge punctuation outside the span), in order: where a word of the text can be replaced."""
    masked = _TAG_RE.sub(lambda m: " " * len(m.group()), text)
    spans = []
    for chunk in re.finditer(r"\S+", masked):
        lead = re.match(r"[^\w']*", chunk.group())
        trail = re.search(r"[^\w']*$", chunk.group())
        assert lead is not None and trail is not None
        start, end = chunk.start() + lead.end(), chunk.end() - len(trail.group())
        if end > start:
            spans.append((start, end))
    return spans


def spoken_tokens(text: str) -> list[str]:
    """The words an aligner would find: tags dropped, edge punctuation stripped, case kept."""
    return [text[start:end] for start, end in spoken_spans(text)]
