"""The names every stage shares: classes, abstention, splits, modalities, session statuses.

One definition, imported everywhere (the CLI, the schemas, the card, the validator, the trainer),
so a renamed split or a fifth class is one edit here. Integer labels follow the order of
`CLASSES` in every artifact and model.
"""

from __future__ import annotations

#: The four learner emotions, in the order used for integer labels everywhere.
CLASSES: tuple[str, ...] = ("Confused", "Curious", "Bored", "Frustrated")
#: The annotators' abstention: a valid answer that is never a class (see the majority rule).
ABSTAIN = "Cannot tell"
#: Every answer an annotator may give.
ANSWERS: tuple[str, ...] = (*CLASSES, ABSTAIN)

#: Dataset splits, in the order they are written and reported.
SPLITS: tuple[str, ...] = ("train", "validation", "test")
#: The assignment of a labelled session that balancing left out of every split.
EXCLUDED = "excluded"

#: The three streams of a session; `text` is the transcript (never called otherwise).
MODALITIES: tuple[str, ...] = ("audio", "video", "text")

#: Fates of a candidate session in the manifest (precedence error > gap > short).
SESSION_STATUSES: tuple[str, ...] = ("kept", "gap", "short", "error")

#: The label method of a session the reviewer decided (`annotation/labels.parquet` `method`).
ADJUDICATED = "adjudicated"

#: What `edu-data synth` writes beside the corpora it makes: their known truth. A corpus with this
#: file in its folder or a folder above is synthetic (`corpora.plugin.synthetic_truth`).
SYNTH_TRUTH_FILE = "synth_truth.json"
