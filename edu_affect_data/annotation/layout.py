"""Files of the annotation stages under a build's ``annotation/`` folder.

``BuildPaths`` names the artifacts other stages read (annotations, adjudications, labels,
agreement); these are the annotation stages' own working files around them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edu_affect_data.annotation.options import AnnotationConfig
from edu_affect_data.core.artifacts import BuildPaths


@dataclass(frozen=True)
class AnnotationPaths:
    build: BuildPaths
    media_root: Path

    @classmethod
    def of(cls, paths: BuildPaths, annotation: AnnotationConfig) -> AnnotationPaths:
        root = annotation.media_root or paths.annotation_dir / "media"
        return cls(paths, Path(root).resolve())

    @property
    def snapshots(self) -> Path:
        """Raw exports exactly as received, one immutable file per pull."""
        return self.build.annotation_dir / "snapshots"

    @property
    def excluded(self) -> Path:
        """Pulled annotations left out, with the reason."""
        return self.build.annotation_dir / "excluded.csv"

    @property
    def private(self) -> Path:
        """Never published: identities of the annotators."""
        return self.build.annotation_dir / "private"

    @property
    def annotators(self) -> Path:
        """E-mail <-> pseudonym, mode 0600."""
        return self.private / "annotators.csv"
