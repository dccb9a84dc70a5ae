"""Each stage sees only the config keys it declares, so its input hash covers everything it reads."""

from __future__ import annotations

import os
import pickle
import re
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from edu_affect_data.annotation.options import ClipConfig
from edu_affect_data.build import STAGES, StageSpec, run_build, stage_config
from edu_affect_data.build_errors import BuildError
from edu_affect_data.config import load_config
from edu_affect_data.core.stage import ConfigSlice, UndeclaredConfigKey, UnknownConfigKey

QUIET = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - one sink for the whole module


def test_declared_keys_read_as_the_real_values() -> None:
    config = load_config(None, {"seed": 3, "annotation.clip.height": 200})
    view = ConfigSlice(config, "clips", ("seed", "annotation.clip", "split"))
    assert view.seed == 3
    assert view.annotation.clip.height == 200
    assert isinstance(view.annotation.clip, ClipConfig)  # a declared key gives its real subtree
    assert view.split.ratios.train == 0.7


@pytest.mark.parametrize(
    ("read", "key"),
    [
        (lambda c: c.annotation.batch_size, "annotation.batch_size"),
        (lambda c: c.features, "features"),
        (lambda c: c.features.workers, "features"),
        (lambda c: c.annotation.overlap.initial, "annotation.overlap"),
    ],
)
def test_an_undeclared_key_fails_naming_the_stage_and_the_key(read, key: str) -> None:
    view = ConfigSlice(load_config(None), "clips", ("seed", "annotation.clip"))
    with pytest.raises(UndeclaredConfigKey, match=rf"stage 'clips' read config key '{key}'.*annotation\.clip"):
        read(view)


def test_a_misspelled_key_is_an_attribute_error_and_the_slice_is_read_only() -> None:
    view = ConfigSlice(load_config(None), "split", ("seed",))
    with pytest.raises(AttributeError, match="no config key 'sed'"):
        _ = view.sed
    assert getattr(view, "no_such_key", None) is None  # hasattr/getattr defaults keep working
    with pytest.raises(AttributeError, match="read-only"):
        view.seed = 4  # type: ignore[misc]


def test_declaring_a_key_the_schema_lacks_is_an_error() -> None:
    with pytest.raises(UnknownConfigKey, match=re.escape("'features.audo'")):
        ConfigSlice(load_config(None), "features", ("features.audo",))
    with pytest.raises(UnknownConfigKey, match=re.escape("'seed.value'")):
        ConfigSlice(load_config(None), "split", ("seed.value",))
    with pytest.raises(BuildError, match=re.escape("stage x: config key 'nope'")):
        stage_config(StageSpec("x", "m:f", ("nope",)), load_config(None))


def test_model_dump_holds_the_declared_keys_only() -> None:
    config = load_config(None, {"name": "n", "annotation.batch_size": 7})
    view = ConfigSlice(config, "publish", ("name", "annotation.clip", "annotation.overlap"))
    dumped = view.model_dump(mode="json")
    assert set(dumped) == {"name", "annotation"}
    assert set(dumped["annotation"]) == {"clip", "overlap"}
    assert dumped["annotation"]["clip"] == config.annotation.clip.model_dump(mode="json")
    assert set(view.annotation.model_dump()) == {"clip", "overlap"}
    # A key declared whole wins over a narrower one, in either order.
    both = ConfigSlice(config, "s", ("annotation.clip", "annotation"))
    assert both.model_dump(mode="json")["annotation"] == config.annotation.model_dump(mode="json")


def test_a_slice_pickles_for_worker_processes() -> None:
    view = ConfigSlice(load_config(None), "clips", ("annotation.clip", "gaps")).annotation
    again = pickle.loads(pickle.dumps(view))
    assert again.clip.crf == 26
    with pytest.raises(UndeclaredConfigKey, match=re.escape("annotation.batch_size")):
        _ = again.batch_size


def test_every_built_in_stage_declares_existing_keys() -> None:
    config = load_config(None)
    for spec in STAGES:
        view = stage_config(spec, config)
        for key in spec.config_keys:
            node = view
            for part in key.split("."):
                node = getattr(node, part)


FAKE = '''
from edu_affect_data.core.stage import StageOutcome


def honest(config, paths, *, executor=None):
    return StageOutcome(True, f"seed {config.seed}")


def sneaky(config, paths, *, executor=None):
    return StageOutcome(True, f"workers {config.features.workers}")
'''


def test_run_build_hands_each_stage_its_slice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"slice_stages_{os.getpid()}_{tmp_path.name}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(FAKE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    config = load_config(None, {"seed": 9})
    honest = StageSpec("honest", f"{module}:honest", ("seed",))
    result = run_build(config, tmp_path / "out", stages=(honest,), console=QUIET)
    assert result.outcomes["honest"].message == "seed 9"
    sneaky = StageSpec("sneaky", f"{module}:sneaky", ("annotation.clip",))
    with pytest.raises(UndeclaredConfigKey, match=re.escape("stage 'sneaky' read config key 'features'")):
        run_build(config, tmp_path / "out", stages=(honest, sneaky), console=QUIET)
    # An unknown declared key is refused before any stage runs.
    with pytest.raises(BuildError, match=re.escape("stage bad: config key 'sesions'")):
        run_build(config, tmp_path / "out2", stages=(honest, StageSpec("bad", f"{module}:honest", ("sesions",))), console=QUIET)
    assert not (tmp_path / "out2" / "build_state.json").exists()
