"""The dataset card (`dataset/README.md`): loading YAML for `datasets`, statistics, provenance.

The YAML front matter is produced by `datasets`' own `MetadataConfigs`/`DatasetInfosDict` so the
`configs` and `dataset_info` keys are exactly what the Hub and `load_dataset` expect. The figures
`validate` checks (sessions, speakers, classes and corpora per split) also live in the YAML under
`edu_affect`, machine readable, and the tables in the body are rendered from the same numbers.
The provenance (`stages.provenance`: synthetic corpora, simulated annotators, the code, the whole
build configuration) comes right after the summary, and in the YAML for the model report.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow.parquet as pq

from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.parquet import read_table
from edu_affect_data.core.vocabulary import CLASSES, SPLITS
from edu_affect_data.corpora.plugin import CorpusPlugin
from edu_affect_data.corpora.registry import get_corpus
from edu_affect_data.stages.features.frames import FramesOptions
from edu_affect_data.stages.provenance import describe_code, read_provenance, summary_lines

if TYPE_CHECKING:
    import datasets

    from edu_affect_data.stages.features.options import FeaturesConfig

#: Packages whose versions decide the bytes of the dataset.
PROVENANCE_PACKAGES = (
    "edu-affect-data",
    "numpy",
    "pyarrow",
    "datasets",
    "librosa",
    "soundfile",
    "opencv-python-headless",
    "torch",
    "transformers",
    "scikit-learn",
)

#: The section `render_card` writes the build's configuration into, as one JSON block.
BUILD_CONFIG_SECTION = "## How it was built"


#: The paper this dataset was built for, as a sentence and as BibTeX.
PAPER = (
    'S M Rafiuddin, "Edu-EmotionNet: Cross-Modality Attention Alignment with Temporal Feedback Loops", '
    "ICMLA 2025 (Oklahoma State University)."
)
CITATION = """\
@inproceedings{rafiuddin2025eduemotionnet,
  author    = {S M Rafiuddin},
  title     = {Edu-EmotionNet: Cross-Modality Attention Alignment with Temporal Feedback Loops},
  booktitle = {Proceedings of the IEEE International Conference on Machine Learning and Applications (ICMLA)},
  year      = {2025},
  note      = {Oklahoma State University}
}
"""

LICENCE = """\
This dataset is **derived from licensed corpora** (their terms below); the audio features, video
frames and transcript tokens here are derived from their media and text. Share it only with people
who hold the same licences, and do not upload it to a public hub.
The toolkit that built it never uploads anything: it reads local corpora and writes local files.
"""


class CardSettings(Protocol):
    """What the card reads of the pipeline configuration; it embeds the whole slice it is given."""

    @property
    def features(self) -> FeaturesConfig: ...

    def model_dump(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SplitStats:
    """One split's figures: the card states them and `validate` checks them against the shards."""

    sessions: int
    hours: float
    speakers: int
    class_counts: dict[str, int]
    class_speakers: dict[str, int]  # distinct speakers with a session of the class
    corpus_counts: dict[str, int]  # sessions per source corpus (every corpus of the dataset, 0 when absent)
    corpus_speakers: dict[str, int]


def _versions() -> dict[str, str]:
    found = {}
    for name in PROVENANCE_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def funnel(paths: BuildPaths) -> list[tuple[str, int]]:
    """Candidates -> kept -> labelled -> balanced, read from the build's artifacts."""
    statuses = read_table(paths.sessions, ["status"]).column("status").to_pylist()
    labelled = pq.read_metadata(paths.labels).num_rows
    assignment = read_table(paths.assignment, ["split"]).column("split").to_pylist()
    removed = Counter(s for s in statuses if s != "kept")
    return [
        ("candidate sessions", len(statuses)),
        *((f"removed: {status}", count) for status, count in sorted(removed.items())),
        ("kept", statuses.count("kept")),
        ("labelled", labelled),
        ("balanced (in the dataset)", sum(1 for s in assignment if s != "excluded")),
    ]


def agreement_summary(paths: BuildPaths) -> dict[str, Any] | None:
    """Kappa/alpha point estimates and intervals from annotation/agreement/agreement.json, if present."""
    source = paths.agreement_dir / "agreement.json"
    if not source.exists():
        return None
    report = json.loads(source.read_text())
    keys = ("fleiss_kappa", "cohen_kappa_mean", "krippendorff_alpha", "observed_agreement")
    return {k: report[k] for k in keys if isinstance(report.get(k), dict)}


def source_corpora(paths: BuildPaths) -> list[CorpusPlugin]:
    """The plugins of the corpora the manifest's sessions come from, by name.

    The card's corpus title, description, source-label notes, terms and citations are theirs.
    """
    names = set(read_table(paths.sessions, ["corpus"]).column("corpus").to_pylist())
    return [get_corpus(str(name)) for name in sorted(names)]


def _titles(corpora: list[CorpusPlugin]) -> str:
    titles = [c.title for c in corpora]
    return " and ".join(titles) if len(titles) < 3 else ", ".join(titles[:-1]) + " and " + titles[-1]


def _corpus_lines(corpora: list[CorpusPlugin]) -> list[str]:
    """The card's "Source corpora" table: what each corpus is and what its source labels hold."""
    lines = [
        "## Source corpora",
        "",
        "Each session comes from one recording of one of these corpora; the build's manifest keeps "
        "the corpus's own labels (`source_labels`, JSON) next to the annotators' label.",
        "",
        "| corpus | what it is | source labels |",
        "|---|---|---|",
    ]
    lines += [
        f"| {c.title} (`{c.name}`) | {c.description} | {c.source_labels.replace('|', '/')} |" for c in corpora
    ]
    return [*lines, ""]


def frame_embedder(config: CardSettings, features: datasets.Features) -> dict[str, Any] | None:
    """Which frozen image network made `frame_embeddings` (name, weights SHA-256, preprocessing); None without them.

    The same identity is hashed into the frame parts' names, so the card names the weights the
    embeddings were computed with.
    """
    if "frame_embeddings" not in features:
        return None
    from edu_affect_data.stages.features.embedder import embedder_identity

    identity = embedder_identity(config.features.options_of("frames", FramesOptions).embedder)
    return {
        "model": identity.model,
        "weights_sha256": identity.weights_sha256,
        "dim": identity.dim,
        "input_size": identity.size,
        "mean": list(identity.mean),
        "std": list(identity.std),
        "preprocessing": identity.preprocessing(),
        "frozen": True,
    }


def _video_phrase(features: datasets.Features, embedder: dict[str, Any] | None) -> str:
    parts = []
    if "frames" in features:
        parts.append("JPEG frames")
    if embedder is not None:
        parts.append(f"{embedder['dim']}-d frame embeddings from a frozen {embedder['model']}")
    return " and ".join(parts) or "no video columns"


def _embedder_lines(embedder: dict[str, Any] | None) -> list[str]:
    """The card's "Frame embeddings" section."""
    if embedder is None:
        return []
    return [
        "### Frame embeddings",
        "",
        f"`frame_embeddings` holds, for every frame of `frame_times`, the pooled {embedder['dim']}-d features "
        f"of a frozen, ImageNet-pretrained `{embedder['model']}` (weights SHA-256 `{embedder['weights_sha256']}`), "
        f"computed once in the features stage; rows of unavailable frames are zero. Preprocessing: {embedder['preprocessing']}.",
        "",
    ]


def public_path(value: str, paths: BuildPaths) -> str:
    """A path as the published card may show it: never where the build machine keeps things.

    Relative paths stay (they name no machine). An absolute path inside the build folder becomes
    relative to the dataset folder (`../annotation/media`); any other absolute path (a licensed
    corpus, a speaker map, a local model) becomes the placeholder `<its folder or file name>`.
    """
    if not os.path.isabs(value):
        return value
    path = Path(value)
    try:
        inside = path.resolve().relative_to(paths.out.resolve())
    except ValueError:
        return f"<{path.name or 'path'}>"
    return os.path.relpath(paths.out.resolve() / inside, paths.dataset.resolve())


def public_config(tree: Any, paths: BuildPaths) -> Any:
    """The dumped configuration with every absolute path made public (`public_path`)."""
    if isinstance(tree, dict):
        return {key: public_config(value, paths) for key, value in tree.items()}
    if isinstance(tree, list):
        return [public_config(value, paths) for value in tree]
    if isinstance(tree, str):
        return public_path(tree, paths)
    return tree


def mean_session_s(stats: dict[str, SplitStats]) -> float | None:
    """The measured mean session length over all splits, seconds (None without sessions)."""
    sessions = sum(st.sessions for st in stats.values())
    return sum(st.hours for st in stats.values()) * 3600.0 / sessions if sessions else None


def _modalities(features: datasets.Features, embedder: dict[str, Any] | None) -> str:
    """What the feature columns hold, by modality, from the columns actually published."""
    parts = []
    if "mfcc" in features:
        parts.append("audio (MFCC)")
    if "frames" in features or "frame_embeddings" in features:
        parts.append(f"video ({_video_phrase(features, embedder)})")
    if "token_embeddings" in features:
        parts.append("text (token embeddings with word times)")
    if not parts:
        return "the feature columns listed below"
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def _summary(stats: dict[str, SplitStats], corpora: list[CorpusPlugin], features: datasets.Features, embedder: dict[str, Any] | None) -> str:
    """The card's opening sentence, every figure measured on the published sessions."""
    total = sum(st.sessions for st in stats.values())
    mean = mean_session_s(stats)
    length = f"{total} sessions of {mean:.1f} s on average" if mean is not None else "No sessions"
    return (
        f"{length} ({sum(st.hours for st in stats.values()):.2f} h), each of one speaker, from {_titles(corpora)}, "
        f"labelled by annotators with one of {len(CLASSES)} learner emotions, with {_modalities(features, embedder)}. "
        "Splits are speaker-independent: no speaker appears in two splits."
    )


def _example(config: CardSettings, features: datasets.Features) -> list[str]:
    """The loading example: the dataset folder as a placeholder, shapes from the published features."""
    shapes = []
    if "mfcc" in features:
        shapes.append(f"mfcc (T, {features['mfcc'].shape[1]})")
    if "frames" in features:
        side = config.features.options_of("frames", FramesOptions).size
        shapes.append(f"frames (n, 3, {side}, {side}) uint8")
    lines = ["```python", "from datasets import load_dataset"]
    if "frames" in features:
        lines.append("from edu_affect_data.media.sampling import imagenet_transform")
    lines += [
        "",
        'ds = load_dataset("<path of this folder>")  # the folder holding this README.md and data/',
        f'train = ds["train"].with_format("torch")  # {", ".join([*shapes, "..."])}',
    ]
    if "frames" in features:
        lines.append('frames = ds["train"].with_transform(imagenet_transform)  # ImageNet-normalised float frames')
    return [*lines, "```"]


def _composition_lines(stats: dict[str, SplitStats], build_config: dict[str, Any] | None) -> list[str]:
    """The card's table of sessions (speakers) per split by source corpus and by class, and what the
    split was stratified by (from the build's configuration)."""
    corpora = sorted({c for st in stats.values() for c in st.corpus_counts})
    columns = [*corpora, *CLASSES]
    stratified = build_config["split"]["stratify_by"] if build_config is not None else None
    how = ("What the split was stratified by is not recorded (no `build_config.json`)." if stratified is None
           else f"The split was stratified by {' and '.join(stratified)} (`split.stratify_by`)." if stratified
           else "The split was stratified by nothing but the session ratios (`split.stratify_by: []`).")
    lines = [
        "### Corpora and classes per split",
        "",
        f"Sessions (distinct speakers) of each source corpus and each class. {how}",
        "",
        "| split | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for s in SPLITS:
        st = stats[s]
        cells = [f"{st.corpus_counts.get(c, 0)} ({st.corpus_speakers.get(c, 0)})" for c in corpora]
        cells += [f"{st.class_counts[c]} ({st.class_speakers[c]})" for c in CLASSES]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return lines


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_card(
    config: CardSettings,
    paths: BuildPaths,
    features: datasets.Features,
    stats: dict[str, SplitStats],
    shards: Mapping[str, Sequence[Path]],
    *,
    column_notes: Sequence[str] = (),
) -> str:
    """The whole README.md: YAML front matter, then the human-readable description.

    `shards`: each split's shard files, in `data/` beside the card; the `configs` list them by name
    (content-addressed names, so `datasets`' cache follows the content: `stages.publish`).
    `column_notes`: one sentence per feature extractor (its `description`), under the features table.
    """
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.splits import SplitDict, SplitInfo
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    corpora = source_corpora(paths)
    provenance = read_provenance(paths)
    embedder = frame_embedder(config, features)
    if embedder is not None:
        embedder = {**embedder, "model": public_path(embedder["model"], paths)}
    card_data = DatasetCardData(
        license="other",
        pretty_name=f"Learner emotions from {_titles(corpora)} (edu-affect-data)",
        task_categories=["audio-classification", "video-classification", "text-classification"],
        edu_affect={
            "classes": list(CLASSES),
            "class_counts": {s: stats[s].class_counts for s in SPLITS},
            "class_speakers": {s: stats[s].class_speakers for s in SPLITS},
            "corpus_counts": {s: stats[s].corpus_counts for s in SPLITS},
            "corpus_speakers": {s: stats[s].corpus_speakers for s in SPLITS},
            "sessions": {s: stats[s].sessions for s in SPLITS},
            "speakers": {s: stats[s].speakers for s in SPLITS},
            "provenance": provenance.record,
            **({"frame_embedder": embedder} if embedder is not None else {}),
        },
    )
    data_files = [{"split": s, "path": [f"data/{Path(p).name}" for p in shards[s]]} for s in SPLITS]
    MetadataConfigs({"default": {"data_files": data_files}}).to_dataset_card_data(card_data)
    splits = SplitDict()
    for s in SPLITS:
        splits.add(SplitInfo(name=s, num_examples=stats[s].sessions, num_bytes=sum(Path(p).stat().st_size for p in shards[s])))
    DatasetInfosDict(
        {"default": DatasetInfo(features=features, splits=splits)}
    ).to_dataset_card_data(card_data)

    lines = [
        "---",
        card_data.to_yaml(),
        "---",
        "",
        f"# Learner emotions: {', '.join(CLASSES)}",
        "",
        _summary(stats, corpora, features, embedder),
        "",
        "## Provenance",
        "",
        *summary_lines(provenance.record),
        "",
        *_example(config, features),
        "",
        "## Statistics",
        "",
        "| split | sessions | hours | speakers | " + " | ".join(CLASSES) + " |",
        "|---|---|---|---|" + "---|" * len(CLASSES),
    ]
    for s in SPLITS:
        st = stats[s]
        lines.append(
            f"| {s} | {st.sessions} | {st.hours:.2f} | {st.speakers} | "
            + " | ".join(str(st.class_counts[c]) for c in CLASSES)
            + " |"
        )
    lines += ["", *_composition_lines(stats, provenance.build_config)]
    lines += ["", "### From candidates to the dataset", "", "| step | sessions |", "|---|---|"]
    lines += [f"| {step} | {count} |" for step, count in funnel(paths)]
    agreement = agreement_summary(paths)
    lines += ["", "### Annotator agreement", ""]
    if agreement is None:
        lines.append("No agreement report was found (annotation/agreement/agreement.json).")
    else:
        lines += ["| measure | estimate | 95% CI |", "|---|---|---|"]
        for name, value in agreement.items():
            lines.append(
                f"| {name.replace('_', ' ')} | {_fmt(value.get('estimate'))} | [{_fmt(value.get('ci_low'))}, {_fmt(value.get('ci_high'))}] |"
            )
        notes = provenance.record["agreement"].get("notes", []) if isinstance(provenance.record["agreement"], dict) else []
        lines += ["", *(f"- {note}" for note in notes)] if notes else []
    lines += ["", *_corpus_lines(corpora)]
    lines += ["## Features", "", "| column | feature |", "|---|---|"]
    lines += [f"| {name} | `{feature!r}` |" for name, feature in features.items()]
    lines += [
        "",
        "Times: `start_s`/`end_s` are seconds in the source recording; times inside the feature columns "
        "are seconds from the session start.",
        "",
        *(f"- {note}" for note in column_notes),
        "",
        *_embedder_lines(embedder),
        BUILD_CONFIG_SECTION,
        "",
        f"{describe_code(provenance.record['code'])}; `edu-data build` (this card is written by its last stage, `publish`). "
        + ("The whole resolved build configuration (`build_config.json`; paths outside the build folder as "
           "`<name>` placeholders):" if provenance.build_config is not None else
           "No `build_config.json` (publish ran outside `edu-data build`): only the configuration read by "
           "publish is known (paths outside the build folder as `<name>` placeholders):"),
        "",
        "```json",
        json.dumps(provenance.build_config if provenance.build_config is not None
                   else public_config(config.model_dump(mode="json"), paths), indent=2, sort_keys=True),
        "```",
        "",
        "Package versions: " + ", ".join(f"{k} {v}" for k, v in _versions().items()) + ".",
        "",
        "## Licence",
        "",
        LICENCE,
        *(f"- {c.licence}" for c in corpora if c.licence),
        "",
        "## Citation",
        "",
        f"Built for: {PAPER}",
        "",
        "```bibtex",
        "\n".join([CITATION, *(c.citation for c in corpora if c.citation)]).rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def front_matter(readme: str) -> dict[str, Any]:
    """The YAML front matter of a card (the `---` block), as a mapping."""
    import yaml

    if not readme.startswith("---"):
        raise ValueError("README.md has no YAML front matter")
    try:
        data = yaml.safe_load(readme.split("---", 2)[1]) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"README.md front matter is not valid YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(data, dict):
        raise ValueError("README.md front matter is not a mapping")
    return data


def build_config_from_card(readme: str) -> dict[str, Any]:
    """The build configuration a card records (its "How it was built" JSON block), as a mapping.

    What `edu-data predict` and the model read to know how the features were made (frame periods,
    MFCC and eGeMAPS settings, the text model). A `ValueError` says what is missing.
    """
    _, found, section = readme.partition(f"\n{BUILD_CONFIG_SECTION}\n")
    if not found:
        raise ValueError(f"README.md records no build configuration (no {BUILD_CONFIG_SECTION!r} section)")
    _, fence, rest = section.partition("\n```json\n")
    block, closed, _ = rest.partition("\n```")
    if not fence or not closed:
        raise ValueError(f"README.md: the {BUILD_CONFIG_SECTION!r} section has no ```json block")
    try:
        config = json.loads(block)
    except json.JSONDecodeError as exc:
        raise ValueError(f"README.md: the build configuration is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ValueError("README.md: the build configuration is not a mapping")
    return config


def stats_from_card(readme: str) -> dict[str, Any]:
    """The machine-readable `edu_affect` block of a card's YAML front matter."""
    block = front_matter(readme).get("edu_affect")
    if not isinstance(block, dict):
        raise ValueError("README.md front matter has no edu_affect block")
    return block
