"""Shared fixtures: a fixed seed, the Agg backend, and a factory for small valid projects.

``make_project`` writes a tiny but complete evaluation (four areas, 24 months, population,
policing and harm sources, a single-start intervention and a staggered adoption table) into a
temporary folder and returns the config path. Tests break one thing at a time by passing
``config=`` (deep-merged into the config) or ``files=`` (replacing a file's text).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

os.environ.setdefault("MPLBACKEND", "Agg")

SEED = 20240601
AREAS = ["A1", "A2", "A3", "A4"]
MONTHS = [f"{y}-{m:02d}" for y in (2019, 2020) for m in range(1, 13)]


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator (same numbers every run)."""
    return np.random.default_rng(SEED)


@pytest.fixture(scope="session")
def demo_config() -> Path:
    """The packaged demo config."""
    from evaluate.demo import demo_config_path

    return demo_config_path()


def _policing_csv() -> str:
    rows = ["area_code,period,drug_stop_search,possession_arrests"]
    r = np.random.default_rng(1)
    for a in AREAS:
        for m in MONTHS:
            rows.append(f"{a},{m},{r.poisson(40)},{r.poisson(8)}")
    return "\n".join(rows) + "\n"


def _harm_csv() -> str:
    rows = ["area_code,period,nonfatal_overdoses,drug_poisoning_deaths"]
    r = np.random.default_rng(2)
    for i, a in enumerate(AREAS):
        for j, m in enumerate(MONTHS):
            effect = 0.8 if a in ("A1", "A2") and j >= 12 else 1.0
            deaths = r.poisson(3)
            d = "[c]" if deaths < 3 else str(deaths)
            rows.append(f"{a},{m},{r.poisson(30 * effect + 5 * i)},{d}")
    return "\n".join(rows) + "\n"


def _population_csv() -> str:
    rows = ["area_code,period,population"]
    for i, a in enumerate(AREAS):
        for y in (2019, 2020):
            rows.append(f"{a},{y},{100_000 * (i + 1) + 1000 * (y - 2019)}")
    return "\n".join(rows) + "\n"


BASE_FILES: dict[str, str] = {
    "data/areas.csv": "area_code,area_name\n" + "".join(f"{a},Area {a}\n" for a in AREAS),
    "data/population.csv": _population_csv(),
    "data/policing.csv": _policing_csv(),
    "data/harm.csv": _harm_csv(),
    "data/adoption.csv": "area_code,start\nA1,2020-01\nA2,2020-04\nA3,\nA4,\n",
    "weights.yaml": (
        "name: test_weights\nsource: test fixture\nunit: days\n"
        "weights:\n  drug_poisoning_deaths: 100\n  nonfatal_overdoses: 1\n"
    ),
}

BASE_CONFIG: dict[str, Any] = {
    "name": "mini",
    "title": "Mini evaluation (test fixture)",
    "data": {
        "frequency": "month",
        "sources": [
            {"name": "areas", "path": "data/areas.csv", "entity": "area_lookup"},
            {"name": "population", "path": "data/population.csv", "entity": "population"},
            {"name": "policing", "path": "data/policing.csv", "entity": "policing_activity"},
            {"name": "harm", "path": "data/harm.csv", "entity": "harm_outcomes"},
            {"name": "adoption", "path": "data/adoption.csv", "entity": "adoption_table"},
        ],
    },
    "interventions": [
        {"name": "scheme", "start": "2020-01", "treated_areas": ["A1", "A2"]},
        {"name": "rollout", "adoption": "adoption"},
    ],
    "harm_index": {"weights": "weights.yaml"},
    "analyses": [
        {
            "name": "first_look",
            "method": "describe",
            "intervention": "scheme",
            "outcomes": ["nonfatal_overdoses_rate", "drug_stop_search"],
        }
    ],
    "outputs": {"dir": "out", "disclosure": {"min_count": 3}},
}


def deep_merge(base: Any, override: Any) -> Any:
    """Merge ``override`` into a copy of ``base``; ``None`` values delete keys."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = copy.deepcopy(base)
        for k, v in override.items():
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = deep_merge(out[k], v)
            else:
                out[k] = copy.deepcopy(v)
        return out
    return copy.deepcopy(override)


ProjectFactory = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Write a small valid project; return its config path.

    Parameters (of the returned factory)
    ------------------------------------
    config : dict, optional
        Deep-merged into the base config (``None`` deletes a key).
    files : dict, optional
        File path (relative to the project) -> text (``str``) or bytes; ``None`` deletes it.
    raw_config : str, optional
        Write this text as the config instead of the merged YAML.
    """

    def factory(
        config: dict[str, Any] | None = None,
        files: dict[str, str | bytes | None] | None = None,
        raw_config: str | None = None,
        root: Path | None = None,
    ) -> Path:
        base = root or tmp_path / "project"
        base.mkdir(parents=True, exist_ok=True)
        merged_files: dict[str, str | bytes | None] = {**BASE_FILES, **(files or {})}
        for rel, content in merged_files.items():
            path = base / rel
            if content is None:
                if path.exists():
                    path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        cfg_path = base / "config.yaml"
        if raw_config is not None:
            cfg_path.write_text(raw_config, encoding="utf-8")
        else:
            merged = deep_merge(BASE_CONFIG, config or {})
            cfg_path.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
        return cfg_path

    return factory
