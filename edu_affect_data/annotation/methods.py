"""`aggregation.method` -> the estimator that turns a session's votes into its label.

An estimator is a crowd-kit-style class built as `Estimator(min_votes=..., **options)` with
`fit(data)` and `fit_predict(data) -> Series` on a tidy `task, worker, label` table, NaN where it
decides nothing (the reviewer then decides, and the reviewer's choice always overrides). Its
options are its own: the class attribute `options` is a strict pydantic model (absent: no
options), validated from `aggregation.options`. The built-ins live in `estimators.py`; another
package adds one through the entry-point group `edu_affect_data.aggregation`
(`glad = "my_package.glad:Glad"`), code through `register_method`. Names are listed without
importing anything, so the pipeline config validates `aggregation.method` cheaply.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from edu_affect_data.core.registry import Registry, RegistryError
from edu_affect_data.core.strict_config import NoOptions

ENTRY_POINT_GROUP = "edu_affect_data.aggregation"


def _check(name: str, estimator: Any) -> type:
    if not isinstance(estimator, type) or not all(
        callable(getattr(estimator, method, None)) for method in ("fit", "fit_predict")
    ):
        raise RegistryError(f"aggregation method {name!r} is not an estimator class with fit and fit_predict")
    options = getattr(estimator, "options", NoOptions)
    if not (isinstance(options, type) and issubclass(options, BaseModel)):
        raise RegistryError(f"aggregation method {name!r}: `options` is not a pydantic model class")
    return estimator


METHODS: Registry[type] = Registry(
    "aggregation method",
    ENTRY_POINT_GROUP,
    _check,
    builtins={
        "majority": "edu_affect_data.annotation.estimators:MajorityVote",
        "dawid_skene": "edu_affect_data.annotation.estimators:DawidSkene",
    },
)


def register_method(name: str, estimator: type, *, replace: bool = False) -> type:
    """Make `estimator` selectable as `aggregation.method: name`."""
    return METHODS.register(name, estimator, replace=replace)


def method_names() -> tuple[str, ...]:
    return METHODS.names()


def estimator_options(name: str) -> type[BaseModel]:
    """The options model of the estimator registered as `name` (NoOptions when it declares none)."""
    options: type[BaseModel] = getattr(METHODS.get(name), "options", NoOptions)
    return options


def build_estimator(name: str, *, min_votes: int, options: BaseModel | None = None) -> Any:
    """A fresh estimator for `aggregation.method` with its validated `options`, deciding only with
    `min_votes` valid votes."""
    values = options.model_dump() if options is not None else {}
    return METHODS.get(name)(min_votes=min_votes, **values)
