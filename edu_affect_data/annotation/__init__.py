"""Annotation of the kept sessions in a real Label Studio server, and the labels it yields.

- ``clips``: browser-playable H.264/AAC clips of each session's speaker, plus transcripts.
- ``labeling``: the labeling interfaces read from ``annotation_guidelines/``.
- ``client``: where the server is, its key (kept secret), retries with backoff.
- ``tasks``: push: project, local-files storage, idempotent task import (key: ``session_id``).
- ``export`` / ``pseudonyms``: pull: raw snapshots, validation, pseudonymous votes.
- ``people``: who answers the tasks (real people between runs, or simulated ones when asked).
- ``accounts`` / ``simulate`` / ``simulated_people``: simulated annotators and reviewer, clients of
  the server with real accounts (``simulate`` is what they answer).
- ``review``: the senior reviewer's adjudication project.
- ``campaign`` / ``status`` / ``stage``: the operations behind ``edu-data annotate`` and the stages
  ``annotate``, ``pull`` and ``aggregate``.
- ``majority``: the one strict-majority rule (labels, adjudication queue, agreement consensus).
- ``aggregate`` / ``agreement``: votes -> labels, and inter-annotator agreement.
"""
