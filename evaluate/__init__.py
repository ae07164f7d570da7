"""evaluate: did a drugs-policing intervention reduce harm?

Joins drugs-policing *activity* (stop and search, arrests, seizures, diversion referrals) with
health and social *harm outcomes* (overdoses, deaths, admissions) by area and period, and runs
interrupted time series, difference-in-differences and synthetic-control evaluations. Activity is
never an outcome of harm reduction: results on activity series describe changes in police
behaviour.

For notebooks::

    import evaluate as ev
    prepared = ev.prepare_config("configs/demo.yaml")   # validated, joined panels
    panel = prepared.main.data
    summary = ev.run("configs/demo.yaml", out="outputs/demo")

Heavy modules are imported on first use, so ``import evaluate`` is cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "load_config": ("evaluate.config.loader", "load_config"),
    "load_dictionary": ("evaluate.data.dictionary", "load_dictionary"),
    "run": ("evaluate.pipeline.run", "run_evaluation"),
    "EffectResult": ("evaluate.results.effect", "EffectResult"),
    "describe": ("evaluate.estimators.describe", "describe"),
    "its": ("evaluate.estimators.its", "its"),
    "its_by_area": ("evaluate.estimators.its_batch", "its_by_area"),
    "did": ("evaluate.estimators.did", "did"),
    "synthetic_control": ("evaluate.estimators.synth", "synthetic_control"),
    "Interruption": ("evaluate.designs.its", "Interruption"),
    "verify": ("evaluate.verify", "run_verification"),
    "run_grid": ("evaluate.grid", "run_grid"),
    "demo_config_path": ("evaluate.demo", "demo_config_path"),
    "EvaluateError": ("evaluate.errors", "EvaluateError"),
}

__all__ = ["prepare_config", *_LAZY]

if TYPE_CHECKING:
    from evaluate.pipeline.prepare import Prepared


def prepare_config(config: Any) -> Prepared:
    """Load a config (path or :class:`evaluate.config.LoadedConfig`), validate its sources and
    build its panels, without running any analysis.

    Returns
    -------
    evaluate.pipeline.prepare.Prepared
        ``.main.data`` is the main area x period panel; ``.validation`` the validation report.
    """
    from evaluate.config.loader import LoadedConfig, load_config
    from evaluate.pipeline.analyses import check_all
    from evaluate.pipeline.prepare import prepare

    loaded = config if isinstance(config, LoadedConfig) else load_config(config)
    prepared = prepare(loaded)
    check_all(prepared)
    return prepared


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'evaluate' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
