"""What the synthetic learners say: class-coloured phrases, sometimes with neutral filler.

Every utterance says a phrase of the class its text expresses, and a second one with probability
`SECOND_PHRASE_P` (neutral filler otherwise), so class words are most of what is said and a small
text encoder can pick them up. One utterance is still weak evidence of the learner's latent
emotion because each unit's expressed class is itself a noisy draw (design.py); a session of a
few units is good evidence, as in real speech.
"""

from __future__ import annotations

import re

import numpy as np

#: Probability that an utterance carries a second phrase of its expressed class instead of filler.
SECOND_PHRASE_P = 0.6

PHRASES: dict[str, tuple[str, ...]] = {
    "Confused": (
        "wait, I don't get why the loop stops there",
        "hold on, which one is the numerator again",
        "I'm lost, what does this symbol mean",
        "sorry, can you say that part again",
        "I don't understand where that number came from",
        "so is it the first one or the second one",
        "hmm, that doesn't make sense to me",
        "wait, why would it be negative",
    ),
    "Curious": (
        "what if we tried it with a bigger number",
        "oh, does that work for every triangle",
        "ooh, can we see what happens next",
        "I wonder if the same trick works backwards",
        "how did they figure that out in the first place",
        "that's cool, could we use it for the project",
        "what would happen if we changed the sign",
        "tell me more about how that works",
    ),
    "Bored": (
        "whatever, this is so long",
        "are we done yet",
        "yeah, okay, sure",
        "I guess, it's all the same anyway",
        "this is taking forever",
        "can we just skip to the end",
        "meh, fine",
        "how many more of these are there",
    ),
    "Frustrated": (
        "ugh, this still doesn't work",
        "I did exactly what it said and it's wrong again",
        "why does it keep giving me an error",
        "I've tried this five times already",
        "this is so annoying, nothing adds up",
        "forget it, I can't do this",
        "it crashed again, seriously",
        "no, no, that's not what I typed",
    ),
}

FILLER: tuple[str, ...] = (
    "so the next step is the integral",
    "let me look at the slide again",
    "okay, the second exercise is on page twelve",
    "we multiply both sides by three",
    "then you carry the one",
    "the function takes a list and returns its length",
    "right, that's the definition from the lecture",
    "I wrote it down in my notes",
    "the answer should be in the back of the book",
    "we have ten minutes left",
    "the teacher said to use the formula",
    "first we read the question",
    "it's the same as last week's homework",
    "so x equals four",
)

#: Short unannotated fragments (IEMOCAP `X` ids).
FRAGMENTS: tuple[str, ...] = ("um", "yeah", "mm hm", "oh", "okay", "uh huh")

TAGS: tuple[str, ...] = ("[LAUGHTER]", "[BREATHING]")
TAG_P = 0.12

_TAG_RE = re.compile(r"\[[A-Z]+\]")


def utterance_text(expressed: str, rng: np.random.Generator) -> str:
    """One turn of a learner whose text modality expresses `expressed`."""
    phrases = PHRASES[expressed]
    if rng.random() < SECOND_PHRASE_P:
        first, second = rng.choice(len(phrases), 2, replace=False)
        parts = [phrases[int(first)], phrases[int(second)]]
    else:
        parts = [str(rng.choice(phrases)), str(rng.choice(FILLER))]
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
