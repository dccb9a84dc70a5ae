"""Corpus name -> reader, so the ingest stage reads any configured corpus the same way.

Every reader takes the corpus root as its one positional argument and keyword-only options
(`executor`, and corpus-specific ones such as MOSEI's `speaker_map`), and returns a
`CorpusManifest`. A third corpus needs a reader module and one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from edu_affect_data.corpora.iemocap import read_iemocap
from edu_affect_data.corpora.mosei import read_mosei
from edu_affect_data.corpora.records import CorpusManifest

READERS: dict[str, Callable[..., CorpusManifest]] = {
    "iemocap": read_iemocap,
    "mosei": read_mosei,
}


def read_corpus(name: str, root: Path, **options: Any) -> CorpusManifest:
    """Read corpus `name` at `root` with its reader's keyword options; unknown names are errors."""
    try:
        reader = READERS[name]
    except KeyError:
        raise ValueError(f"unknown corpus {name!r}; known: {sorted(READERS)}") from None
    return reader(Path(root), **options)
