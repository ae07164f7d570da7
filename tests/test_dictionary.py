"""The data dictionary: complete definitions, roles, Markdown, extension folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluate.data.dictionary import ROLES, dictionary_dir, load_dictionary, to_markdown
from evaluate.errors import ConfigError

REQUIRED_VARIABLES = {
    "activity": {"drug_stop_search", "possession_arrests", "supply_arrests", "drug_seizures", "diversion_referrals"},
    "harm": {"drug_poisoning_deaths", "nonfatal_overdoses", "naloxone_administrations", "drug_related_admissions"},
    "benefit": {"treatment_referrals_cj"},
    "denominator": {"population"},
}


def test_dictionary_lives_at_the_repository_root() -> None:
    assert dictionary_dir() == Path(__file__).resolve().parents[1] / "data_dictionary"


def test_every_variable_is_fully_described() -> None:
    d = load_dictionary()
    assert d.variables
    for v in d.variables.values():
        assert v.label and v.description and v.unit, v.name
        assert v.role in ROLES
        assert v.frequency and v.geography and v.sources, v.name
        if v.suppression is not None:
            assert v.suppression.markers and v.suppression.upper >= v.suppression.lower


@pytest.mark.parametrize("role", sorted(REQUIRED_VARIABLES))
def test_demo_series_have_their_roles(role: str) -> None:
    d = load_dictionary()
    assert REQUIRED_VARIABLES[role] <= {v.name for v in d.by_role(role)}


def test_activity_is_never_an_allowed_harm_outcome() -> None:
    d = load_dictionary()
    harm_entity = d.entity("harm_outcomes")
    assert "activity" not in harm_entity.roles
    assert not {v.name for v in d.variables_for(harm_entity)} & REQUIRED_VARIABLES["activity"]


def test_markdown_lists_every_variable_and_entity() -> None:
    d = load_dictionary()
    md = to_markdown(d)
    for name in [*d.variables, *d.entities, *d.keys]:
        assert f"`{name}`" in md
    assert "never a harm outcome" in md


def test_unknown_entity_suggests() -> None:
    with pytest.raises(ConfigError, match=r"unknown entity 'harm_outcome' \(did you mean 'harm_outcomes'\?\); expected one of \(policing_activity"):
        load_dictionary().entity("harm_outcome")


def test_unknown_variable_suggests() -> None:
    with pytest.raises(ConfigError, match=r"'nonfatal_overdose' is not in the data dictionary \(did you mean 'nonfatal_overdoses'\?\); run `evaluate dictionary`"):
        load_dictionary().variable("nonfatal_overdose")


def test_extra_dictionary_folder_adds_variables(tmp_path: Path) -> None:
    (tmp_path / "local.yaml").write_text(
        """variables:
  - name: cuckooing_reports
    label: Cuckooing reports
    description: Reports of home takeover by drug dealers.
    role: harm
    unit: reports
    type: count
    valid_range: [0, null]
    aggregation: sum
    frequency: [month]
    geography: [police_force_area]
    sources: [force records]
"""
    )
    d = load_dictionary(tmp_path)
    assert d.variables["cuckooing_reports"].role == "harm"
    assert "drug_stop_search" in d.variables


def test_extra_dictionary_may_not_redefine(tmp_path: Path) -> None:
    (tmp_path / "clash.yaml").write_text(
        (dictionary_dir() / "denominator.yaml").read_text()
    )
    with pytest.raises(ConfigError, match=r"\['population'\] are already defined in the packaged dictionary"):
        load_dictionary(tmp_path)


def test_malformed_extra_dictionary_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("variables:\n  - name: x\n    role: villain\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: variables\.0\."):
        load_dictionary(tmp_path)


def test_missing_extra_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="data.dictionary: folder not found"):
        load_dictionary(tmp_path / "nope")
