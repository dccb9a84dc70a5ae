"""Corpus name -> `CorpusPlugin`: the built-ins declared here, then the entry-point group
`edu_affect_data.corpora`, then programmatic registrations.

A corpus is added by installing a package that declares, in its `pyproject.toml`::

    [project.entry-points."edu_affect_data.corpora"]
    meld = "my_package.meld:CORPUS"

where `CORPUS` is a `CorpusPlugin`. The two built-in corpora are declared in `BUILTINS` below, as
`module:attribute` strings like the entry points (so every installation has them, whatever its
install metadata). `register_corpus` adds a plugin programmatically (tests, notebooks) under the
same rules. Entry points are loaded lazily, by name, the first time a corpus
is asked for, so configuring MOSEI never imports another corpus's reader (`edu_affect_data.core.registry`).
"""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from edu_affect_data.core.registry import Registry, RegistryError
from edu_affect_data.corpora.plugin import CorpusPlugin
from edu_affect_data.corpora.records import CorpusManifest, VideoLayout

GROUP = "edu_affect_data.corpora"


class CorpusRegistryError(RegistryError):
    """An unknown corpus name, a broken entry point, or two plugins claiming one name."""


class UnknownCorpusError(CorpusRegistryError):
    """No plugin is registered under this name."""


def _check(name: str, plugin: Any) -> CorpusPlugin:
    if not isinstance(plugin, CorpusPlugin):
        raise CorpusRegistryError(f"a {type(plugin).__name__} is not a CorpusPlugin named {name!r}")
    if plugin.name != name:
        raise CorpusRegistryError(f"the plugin calls itself {plugin.name!r}: it is not a CorpusPlugin named {name!r}")
    return plugin


#: The built-in corpora, `module:attribute` of their plugins.
BUILTINS: dict[str, str] = {
    "iemocap": "edu_affect_data.corpora.iemocap:CORPUS",
    "mosei": "edu_affect_data.corpora.mosei:CORPUS",
}

CORPORA: Registry[CorpusPlugin] = Registry(
    "corpus", GROUP, _check, builtins=BUILTINS, error=CorpusRegistryError, unknown=UnknownCorpusError
)


def corpus_names() -> list[str]:
    """Every corpus that can be configured: built-ins, entry points and registrations, sorted."""
    return sorted(CORPORA.names())


def get_corpus(name: str) -> CorpusPlugin:
    """The plugin registered as `name` (its entry point loaded on first use)."""
    return CORPORA.get(name)


def register_corpus(plugin: CorpusPlugin, *, replace: bool = False) -> CorpusPlugin:
    """Make `plugin` configurable by its name; taking a name already used needs `replace=True`."""
    return CORPORA.register(plugin.name, plugin, replace=replace)


def unregister_corpus(name: str) -> None:
    """Forget a programmatic registration (built-ins and entry points stay)."""
    CORPORA.unregister(name)


def read_corpus(
    name: str, root: Path, *, executor: Executor | None = None, **options: Any
) -> CorpusManifest:
    """Read corpus `name` at `root` with its reader's (validated) options."""
    return get_corpus(name).read_corpus(Path(root), executor=executor, **options)


def layout_from_name(path: Path) -> tuple[str, VideoLayout] | None:
    """(corpus, layout) of the first corpus (by name) that recognises `path` as one of its recordings
    (`CorpusPlugin.video_layout_of`), or None."""
    for name in corpus_names():
        layout = get_corpus(name).video_layout_of(Path(path))
        if layout is not None:
            return name, layout
    return None
