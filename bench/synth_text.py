"""Is the synthetic text memorisable? Held-out speakers' sentences against the other speakers'.

    .venv/bin/python bench/synth_text.py --profile demo --seed 0

Plans the corpora (nothing rendered) and, leaving out one speaker at a time: the share of its
sentences (phrases between sentence ends, tags dropped, lower case) that some other speaker also
says verbatim (what a memoriser can look up), and the accuracy of a bag of words (uni- and bigrams,
multinomial naive Bayes) trained on the other speakers' annotated units at reading the held-out
speaker's expressed text class (what a model can learn). Reads the plan's texts only, so it runs on
any version of the synthesizer (point PYTHONPATH at another checkout to compare).
"""

from __future__ import annotations

import argparse
import collections
import re

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.naive_bayes import MultinomialNB

from edu_affect_data.synth.design import design_corpora
from edu_affect_data.synth.profiles import get_profile


def sentences(text: str) -> set[str]:
    text = re.sub(r"\[[A-Z]+\]", " ", text)
    return {s.strip().lower() for s in re.split(r"[.?!](?:\s+|$)", text) if s.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    corpus = design_corpora(get_profile(args.profile), args.seed)
    units = [u for rec in corpus.recordings for u in rec.units if u.annotated and len(u.text.split()) > 1]
    speakers = sorted({u.speaker_id for u in units})
    said = {s: set().union(*(sentences(u.text) for u in units if u.speaker_id == s)) for s in speakers}
    verbatim, hits, shared = [], [], collections.Counter()
    for speaker in speakers:
        others = set().union(*(said[s] for s in speakers if s != speaker))
        verbatim += [phrase in others for phrase in said[speaker]]
        shared.update(phrase for phrase in said[speaker] if phrase in others)
        train = [u for u in units if u.speaker_id != speaker]
        test = [u for u in units if u.speaker_id == speaker]
        words = CountVectorizer(ngram_range=(1, 2))
        model = MultinomialNB().fit(words.fit_transform([u.text for u in train]), [u.expressed["text"] for u in train])
        hits += list(model.predict(words.transform([u.text for u in test])) == np.array([u.expressed["text"] for u in test]))
    print(f"profile {args.profile}, seed {args.seed}: {len(speakers)} speakers, {len(units)} annotated units, "
          f"{sum(map(len, said.values()))} (speaker, sentence) pairs")
    print(f"held-out speaker's sentences said verbatim by another speaker: {np.mean(verbatim):.3f}")
    print("  most shared:", "; ".join(f"{p!r} x{n}" for p, n in shared.most_common(3)) or "none")
    print(f"bag of words trained on the other speakers, expressed text class: accuracy {np.mean(hits):.3f} (chance 0.25)")


if __name__ == "__main__":
    main()
