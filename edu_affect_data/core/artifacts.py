"""Where each stage's artifact lives under a build's `--out`, and the Arrow schema it has.

These schemas are the contracts between stages: a stage validates its table against the schema
before writing, and the next stage relies on nothing else. Times in the manifest are seconds
from the start of the recording; times inside the dataset are seconds from the session start.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

WORD = pa.struct([("text", pa.string()), ("start_s", pa.float64()), ("end_s", pa.float64())])
TURN = pa.struct(
    [("speaker_id", pa.string()), ("start_s", pa.float64()), ("end_s", pa.float64()), ("text", pa.string())]
)

#: manifest/sessions.parquet: one row per candidate session, whatever its fate. No path in it is
#: absolute (`core.manifest`: read it with `read_sessions`, which resolves them); its schema
#: metadata `media_roots` records each corpus's root once.
SESSIONS_SCHEMA = pa.schema(
    [
        ("session_id", pa.string()),
        ("corpus", pa.string()),  # registered corpus name: iemocap | mosei | a plugin's
        ("source_id", pa.string()),  # recording id: IEMOCAP dialog, MOSEI video, ...
        ("speaker_id", pa.string()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("duration_s", pa.float64()),
        ("utterance_ids", pa.list_(pa.string())),  # the session speaker's units, in time order
        ("audio_path", pa.string()),  # relative to the corpus's root (metadata `media_roots`)
        ("video_path", pa.string()),  # relative to the corpus's root (metadata `media_roots`)
        ("video_region", pa.string()),  # left | right | full
        ("text", pa.string()),  # the session speaker's words, tags removed
        ("words", pa.list_(WORD)),  # the session speaker's words, recording time
        ("turns", pa.list_(TURN)),  # every turn inside the window, both speakers (annotator view)
        # JSON {"category", "scores", "custom"}: the corpus's labels summarised by its plugin; null: none
        ("source_labels", pa.string()),
        ("custom", pa.string()),  # JSON object: corpus-specific fields from the plugin ("{}": none)
        ("status", pa.string()),  # kept | gap | short | error (precedence error > gap > short)
        ("reason", pa.string()),  # readable, empty when kept
        ("gap_audio_s", pa.float64()),
        ("gap_audio_start_s", pa.float64()),
        ("gap_video_s", pa.float64()),
        ("gap_video_start_s", pa.float64()),
        ("gap_text_s", pa.float64()),
        ("gap_text_start_s", pa.float64()),
        # The one video pass's results (media/store.py); null when the video could not be decoded.
        ("proxy_path", pa.string()),  # relative to --out: the speaker region's proxy chunk holding the window
        ("proxy_start_s", pa.float64()),  # recording time of the proxy's first frame
        ("frames_path", pa.string()),  # relative to --out: the recording's frame classification
    ]
)

#: annotation/annotations.parquet: one row per valid pulled annotation.
ANNOTATIONS_SCHEMA = pa.schema(
    [
        ("session_id", pa.string()),
        ("task_id", pa.int64()),
        ("annotator", pa.string()),  # stable pseudonym, never an email
        ("label", pa.string()),  # one of CLASSES or "Cannot tell"
        ("lead_time", pa.float64()),
        ("created_at", pa.string()),
        ("updated_at", pa.string()),
        ("annotation_id", pa.int64()),
    ]
)

#: annotation/adjudications.parquet: the senior reviewer's decision per session of the queue
#: (the sessions the majority rule leaves undecided), latest decision per session.
ADJUDICATIONS_SCHEMA = pa.schema(
    [
        ("session_id", pa.string()),
        ("task_id", pa.int64()),  # task of the adjudication project
        ("reviewer", pa.string()),  # stable pseudonym, never an email
        ("label", pa.string()),  # one of CLASSES (the reviewer cannot abstain)
        ("created_at", pa.string()),
        ("updated_at", pa.string()),
        ("annotation_id", pa.int64()),
    ]
)

#: annotation/gold.parquet: the gold tasks of the campaign (``annotation.gold``), drawn when the
#: tasks are pushed: sessions whose label is known, used to measure annotators, never to publish.
GOLD_SCHEMA = pa.schema(
    [
        ("session_id", pa.string()),
        ("label", pa.string()),  # one of CLASSES
    ]
)

#: annotation/labels.parquet: the final label per session.
LABELS_SCHEMA = pa.schema(
    [
        ("session_id", pa.string()),
        ("label", pa.string()),  # one of CLASSES
        ("method", pa.string()),  # majority | adjudicated | dawid_skene
        ("votes", pa.list_(pa.string())),
        ("agreement", pa.float64()),  # share of valid votes equal to the label
    ]
)

#: splits/assignment.parquet: every labelled session's fate in balancing and splitting.
ASSIGNMENT_SCHEMA = pa.schema(
    [
        ("session_id", pa.string()),
        ("speaker_id", pa.string()),
        ("label", pa.string()),
        ("split", pa.string()),  # train | validation | test | excluded
        ("reason", pa.string()),  # "" or "balance"
        ("fold", pa.int32()),  # cross-validation fold of the speaker, null without folds
    ]
)


#: One part file of the features stage holding a session's columns of one extractor.
FEATURE_PART = pa.struct(
    [
        ("extractor", pa.string()),  # registry name (features.extractors)
        ("path", pa.string()),  # relative to features/
        ("row", pa.int32()),  # the session's row in that part
        ("input_hash", pa.string()),  # hash of the part's inputs (also in its name)
    ]
)

#: features/index.parquet: one row per assigned session, in dataset order (split, then session id);
#: the schema metadata `features` holds the extractor columns' `datasets` types as JSON.
FEATURES_INDEX_SCHEMA = pa.schema(
    [
        ("session_id", pa.string()),
        ("split", pa.string()),  # train | validation | test
        ("parts", pa.list_(FEATURE_PART)),  # one per extractor, in features.extractors order
    ]
)

class BuildPaths:
    """The layout of a build's output folder; the only place that spells these paths."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)

    @property
    def sessions(self) -> Path:
        return self.out / "manifest" / "sessions.parquet"

    @property
    def video_dir(self) -> Path:
        """The ingest's one video pass: per recording, region proxies and frame classification (`media.store`)."""
        return self.out / "manifest" / "video"

    @property
    def manifest_report(self) -> Path:
        return self.out / "manifest" / "report.md"

    @property
    def problems(self) -> Path:
        return self.out / "manifest" / "problems.csv"

    @property
    def annotation_dir(self) -> Path:
        return self.out / "annotation"

    @property
    def annotations(self) -> Path:
        return self.annotation_dir / "annotations.parquet"

    @property
    def adjudications(self) -> Path:
        return self.annotation_dir / "adjudications.parquet"

    @property
    def labels(self) -> Path:
        return self.annotation_dir / "labels.parquet"

    @property
    def gold(self) -> Path:
        return self.annotation_dir / "gold.parquet"

    @property
    def agreement_dir(self) -> Path:
        return self.annotation_dir / "agreement"

    @property
    def assignment(self) -> Path:
        return self.out / "splits" / "assignment.parquet"

    @property
    def split_report(self) -> Path:
        return self.out / "splits" / "report.md"

    @property
    def features_dir(self) -> Path:
        return self.out / "features"

    @property
    def features_index(self) -> Path:
        return self.features_dir / "index.parquet"

    @property
    def dataset(self) -> Path:
        return self.out / "dataset"

    @property
    def build_state(self) -> Path:
        return self.out / "build_state.json"

    @property
    def build_config(self) -> Path:
        """The resolved configuration of the last `edu-data build` (public paths) and its corpora's nature."""
        return self.out / "build_config.json"
