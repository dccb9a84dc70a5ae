"""Stable pseudonyms for annotators: ``ann01``, ``ann02``, ... in order of first appearance.

Every artifact that leaves the annotation stage names annotators by pseudonym only. The mapping
to e-mail addresses is the one place identities live: ``annotation/private/annotators.csv``,
created with mode 0600 in a folder that also carries a ``.gitignore`` of ``*``, and never
published. Pseudonyms are never reassigned, so a later pull (more annotators, a rerun) keeps every
earlier name.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

from edu_affect_data.core.atomic import atomic_write

PREFIX = "ann"
_HEADER = ["pseudonym", "email"]


class PseudonymFileError(ValueError):
    """The mapping file is unreadable or inconsistent; the message names file and line."""


class Pseudonyms:
    """E-mail -> pseudonym, loaded from and saved to one private CSV."""

    def __init__(self, path: Path | None) -> None:
        """``path`` None: an in-memory mapping (for counting only; it cannot be saved)."""
        self.path = Path(path) if path is not None else None
        self._by_email: dict[str, str] = {}
        if self.path is not None and self.path.exists():
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        with self.path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        if not rows or rows[0] != _HEADER:
            raise PseudonymFileError(f"{self.path}:1: expected header {','.join(_HEADER)}")
        seen: set[str] = set()
        for number, row in enumerate(rows[1:], start=2):
            if len(row) != 2 or not row[0] or not row[1]:
                raise PseudonymFileError(f"{self.path}:{number}: expected pseudonym,email")
            pseudonym, email = row
            if pseudonym in seen or email in self._by_email:
                raise PseudonymFileError(f"{self.path}:{number}: {pseudonym} or its e-mail repeats")
            seen.add(pseudonym)
            self._by_email[email] = pseudonym

    def __len__(self) -> int:
        return len(self._by_email)

    def get(self, email: str) -> str | None:
        return self._by_email.get(email)

    def assign(self, emails: Iterable[str]) -> dict[str, str]:
        """Pseudonyms of ``emails``, giving new ones the next numbers in the order met."""
        for email in emails:
            if email not in self._by_email:
                self._by_email[email] = f"{PREFIX}{len(self._by_email) + 1:02d}"
        return dict(self._by_email)

    def save(self) -> Path:
        """Write the mapping (mode 0600, atomically) and keep its folder out of git."""
        if self.path is None:
            raise ValueError("an in-memory pseudonym mapping cannot be saved")
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n", encoding="utf-8")
        return atomic_write(self.path, self._write_private)

    def _write_private(self, partial: Path) -> None:
        """The CSV, created readable by its owner only (never briefly world-readable)."""
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(_HEADER)
            for email, pseudonym in self._by_email.items():  # insertion = numbering order
                writer.writerow([pseudonym, email])
        os.chmod(partial, 0o600)
