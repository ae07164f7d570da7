"""Config models: valid configs load; bad ones give one line naming the key and the fix."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from evaluate.config.loader import config_json_schema, load_config, parse_config
from evaluate.errors import ConfigError
from tests.conftest import BASE_CONFIG, deep_merge


def _parse(override: dict[str, Any] | None = None, mutate: Any = None) -> Any:
    cfg = deep_merge(BASE_CONFIG, override or {})
    if mutate is not None:
        mutate(cfg)
    return parse_config(cfg, source="c.yaml")


def test_base_config_parses() -> None:
    cfg = _parse()
    assert cfg.name == "mini"
    assert cfg.analyses[0].method == "describe"
    assert cfg.data.join.policy == "strict"
    assert cfg.outputs.disclosure.min_count == 3


def test_config_is_frozen() -> None:
    cfg = _parse()
    with pytest.raises(Exception, match="frozen"):
        cfg.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("mutate", "phrase"),
    [
        (lambda c: c.update(outputz={}), r"outputz: unknown key 'outputz' \(did you mean 'outputs'\?\)"),
        (lambda c: c["analyses"][0].update(methd="x"), r"analyses\[0\]\.methd: unknown key 'methd' \(did you mean 'method'\?\)"),
        (lambda c: c["analyses"][0].update(outcome=["x"]), r"\(did you mean 'outcomes'\?\); valid keys here: name, intervention"),
        (lambda c: c["data"]["sources"][0].update(delimter=";"), r"data\.sources\[0\]\.delimter: unknown key 'delimter' \(did you mean 'delimiter'\?\)"),
        (lambda c: c["outputs"]["disclosure"].update(min_cnt=3), r"\(did you mean 'min_count'\?\)"),
        (lambda c: c["interventions"][0].update(phase_in={"period": 3}), r"interventions\[0\]\.phase_in\.period: unknown key 'period' \(did you mean 'periods'\?\)"),
    ],
)
def test_unknown_keys_suggest_the_nearest(mutate: Any, phrase: str) -> None:
    with pytest.raises(ConfigError, match=phrase):
        _parse(mutate=mutate)


@pytest.mark.parametrize(
    ("mutate", "phrase"),
    [
        (lambda c: c["analyses"][0].update(method="describ"), r"unknown method 'describ' \(did you mean 'describe'\?\); expected one of \(describe"),
        (lambda c: c["analyses"][0].pop("method"), r"required key 'method' is missing; set it to one of \(describe"),
        (lambda c: c["data"].update(frequency="monthly"), r"data\.frequency: expected one of \(week, month, quarter, year, financial_year\), got 'monthly' \(did you mean 'month'\?\)"),
        (lambda c: c["data"]["join"].update(policy="lenient") if "join" in c["data"] else c["data"].update(join={"policy": "lenient"}), r"data\.join\.policy: expected one of \(strict, report\)"),
        (lambda c: c["outputs"]["disclosure"].update(min_count="three"), r"outputs\.disclosure\.min_count: expected an integer, got 'three'"),
        (lambda c: c["outputs"]["disclosure"].update(min_count=-1), r"outputs\.disclosure\.min_count: must be at least 0, got -1"),
        (lambda c: c.pop("analyses"), r"required key 'analyses' is missing"),
        (lambda c: c.update(analyses=[]), r"analyses: needs at least 1 item, got \[\]"),
        (lambda c: c.update(name="bad name"), r"name: 'bad name' is not a valid name; use letters, digits and underscores"),
        (lambda c: c["analyses"][0].update(intervention="nope"), r"intervention 'nope' is not defined under interventions \(defined: scheme, rollout\)"),
        (lambda c: c["analyses"][0].update(exclude_treated_by=["rolout"]), r"intervention 'rolout' is not defined.*\(did you mean 'rollout'\?\)"),
        (lambda c: c["interventions"][0].pop("start"), r"interventions\[0\]: needs start and a non-empty treated_areas list, or adoption"),
        (lambda c: c["interventions"][0].update(adoption="adoption"), r"give either start \+ treated_areas .* or adoption .*, not both"),
        (lambda c: c["interventions"][1].update(adoption="harm"), r"adoption source 'harm' has entity 'harm_outcomes'; set its entity to adoption_table"),
        (lambda c: c["interventions"][1].update(adoption="nope"), r"adoption names source 'nope', which is not under data.sources"),
        (lambda c: c["data"]["sources"].append(dict(c["data"]["sources"][0])), r"data\.sources: name 'areas' appears more than once"),
        (lambda c: c["analyses"].append(dict(c["analyses"][0])), r"analyses: name 'first_look' appears more than once"),
        (lambda c: c["interventions"][0].update(treated_areas=["A1", "A1"]), r"treated_areas 'A1' appears more than once"),
        (lambda c: c["data"]["sources"][0].update(delimiter=";;"), r"data\.sources\[0\]\.delimiter: is longer than 1 character, got ';;'"),
        (lambda c: c["data"].update(sources=[{"name": "a", "path": "x.csv", "entity": "area_lookup"}, {"name": "b", "path": "y.csv", "entity": "area_lookup"}]), r"only one area_lookup source is allowed"),
        (lambda c: c["analyses"][0].update(ci_level=1.5), r"analyses\[0\]\.ci_level: must be less than 1\.0, got 1\.5 \(a proportion such as 0\.95, not a percentage\)"),
        (lambda c: c["data"]["sources"][1].update(suppression={"population": {"markers": ["*"], "lower": 5, "upper": 1}}), r"upper \(1\) must be at least lower \(5\)"),
        (lambda c: c["outputs"]["disclosure"].update(min_count=True), r"min_count: expected an integer, got True"),
        (lambda c: c["analyses"][0].update(outcomes="nonfatal_overdoses"), r"analyses\[0\]\.outcomes: expected a list, got 'nonfatal_overdoses'"),
    ],
)
def test_bad_values_name_the_key(mutate: Any, phrase: str) -> None:
    with pytest.raises(ConfigError, match=phrase):
        _parse(mutate=mutate)


def test_a_misspelt_required_key_is_reported_as_the_typo() -> None:
    """`analysis:` for `analyses:` shows the typo, not only 'analyses is missing'."""

    def mutate(c: dict[str, Any]) -> None:
        c["analysis"] = c.pop("analyses")

    with pytest.raises(ConfigError, match=r"analysis: unknown key 'analysis' \(did you mean 'analyses'\?\)"):
        _parse(mutate=mutate)


def test_many_problems_are_counted() -> None:
    def mutate(c: dict[str, Any]) -> None:
        c.update(outputz={}, titel="x")

    with pytest.raises(ConfigError, match=r"and 1 more problem"):
        _parse(mutate=mutate)


@pytest.mark.parametrize("raw", [None, [1, 2], "text"])
def test_config_must_be_a_mapping(raw: Any) -> None:
    with pytest.raises(ConfigError, match="it must be a mapping with the keys name, title"):
        parse_config(raw, source="c.yaml")


def test_yaml_dates_and_years_become_period_text() -> None:
    cfg = _parse(mutate=lambda c: c["interventions"][0].update(start=__import__("datetime").date(2020, 1, 1)))
    assert cfg.interventions[0].start == "2020-01-01"
    cfg = _parse(mutate=lambda c: c["data"].update(start=2019))
    assert cfg.data.start == "2019"


def test_load_config_resolves_paths_and_hashes(make_project: Any) -> None:
    path = make_project()
    loaded = load_config(path)
    assert loaded.base_dir == path.parent.resolve()
    assert loaded.resolve("data/harm.csv") == (path.parent / "data/harm.csv").resolve()
    assert len(loaded.sha256) == 64


def test_load_config_error_names_the_file(make_project: Any) -> None:
    path = make_project(config={"outputz": {}})
    with pytest.raises(ConfigError, match=rf"^{path}: outputz: unknown key"):
        load_config(path)


def test_json_schema_lists_the_fixed_top_level_keys() -> None:
    schema = config_json_schema()
    json.dumps(schema)  # serialisable
    assert set(schema["properties"]) == {
        "name", "title", "data", "interventions", "harm_index", "analyses", "outputs",
    }
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) >= {"name", "title", "data", "analyses"}


def test_repository_demo_config_matches_the_packaged_one(demo_config: Path) -> None:
    """configs/demo.yaml and the packaged demo differ only in where their files live."""
    root = Path(__file__).resolve().parents[1]
    packaged = load_config(demo_config)
    repo = load_config(root / "configs" / "demo.yaml")

    def normalised(loaded: Any) -> dict[str, Any]:
        d = copy.deepcopy(loaded.model.model_dump())
        for s in d["data"]["sources"]:
            s["path"] = str(loaded.resolve(s["path"]))
        hi = d["harm_index"]
        hi["weights"] = str(loaded.resolve(hi["weights"]))
        hi["alternatives"] = {k: str(loaded.resolve(v)) for k, v in hi["alternatives"].items()}
        d["outputs"].pop("dir")
        return d

    assert normalised(packaged) == normalised(repo)


def test_every_config_in_configs_folder_loads() -> None:
    root = Path(__file__).resolve().parents[1]
    configs = sorted((root / "configs").glob("*.yaml"))
    assert configs
    for c in configs:
        load_config(c)
        assert yaml.safe_load(c.read_text())["name"]
