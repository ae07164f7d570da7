"""Analyses plug in here: a registry keyed by the config's ``method``.

A method is two functions. ``check`` runs before any analysis is fitted (so that a typo in the
last analysis surfaces before twenty minutes of bootstrap in the first) and raises a
:class:`evaluate.errors.EvaluateError` naming the config key; ``run`` fits the analysis and
returns one :class:`evaluate.results.EffectResult` per outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evaluate.errors import ConfigError

if TYPE_CHECKING:
    from evaluate.pipeline.prepare import Prepared
    from evaluate.results import EffectResult

__all__ = ["Method", "register", "get_method", "registered_methods"]

Check = Callable[[Any, "Prepared", str], None]
Run = Callable[[Any, "Prepared"], "list[EffectResult]"]


@dataclass(frozen=True)
class Method:
    """A registered analysis method."""

    name: str
    check: Check
    run: Run
    description: str


_REGISTRY: dict[str, Method] = {}


def register(name: str, *, check: Check, description: str) -> Callable[[Run], Run]:
    """Decorator registering ``run`` (and its ``check``) under ``name``."""

    def wrap(run: Run) -> Run:
        if name in _REGISTRY:
            raise ValueError(f"method '{name}' is already registered")
        _REGISTRY[name] = Method(name=name, check=check, run=run, description=description)
        return run

    return wrap


def _load_builtin() -> None:
    # importing the package registers the built-in methods
    from evaluate.pipeline import methods  # noqa: F401


def get_method(name: str) -> Method:
    """The method registered under ``name``."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"no analysis method '{name}' is available; expected one of ({', '.join(_REGISTRY)})"
        ) from None


def registered_methods() -> list[str]:
    """Names of every registered method."""
    _load_builtin()
    return list(_REGISTRY)
