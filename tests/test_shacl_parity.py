"""The two SHACL validators agree: pyshacl-turbo (native, the fast engine's) gives exactly pyshacl's
findings (the reference engine's, and the second opinion): the same focus node, path, constraint
component and severity, and the same shape, value, message and place, on every fixture of wrong
data and on a synthetic graph of 10^4 triples. Reports and cache records say which one ran.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from conftest import DATA
from kg.cache import Record
from kg.engine import distribution_version, get_engine, shacl_validator, validator_label
from kg.errors import UsageError
from kg.graph import Inputs, open_graph
from kg.paths import default_shapes, ontology_dir
from kg.synth import synth
from kg.validate import Finding, check, render_json, render_text, validate

FIXTURES = [DATA / "valid" / "small.ttl", *sorted((DATA / "invalid").glob("*.ttl"))]
TURBO = f"pyshacl-turbo {distribution_version('pyshacl-turbo')}"
PYSHACL = f"pyshacl {distribution_version('pyshacl')}"


def _both(path: Path) -> tuple[list[Finding], list[Finding], tuple[str, str]]:
    """One graph (fast engine) validated by each validator: pyshacl's findings, pyshacl-turbo's, and
    the validators the reports name."""
    kg = open_graph(Inputs.of(ontology_dir(), [path], "fast", shapes=default_shapes()))
    reference = validate(kg, default_shapes(), "pyshacl")
    native = validate(kg, default_shapes(), "pyshacl-turbo")
    return reference.findings, native.findings, (reference.validator, native.validator)


@pytest.fixture(scope="module")
def fixture_reports() -> dict[str, tuple[list[Finding], list[Finding], tuple[str, str]]]:
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as pool:
        return {path.stem: found for path, found in zip(FIXTURES, pool.map(_both, FIXTURES), strict=True)}


def _core(finding: Finding) -> tuple[str, str, str, str]:
    return (finding.focus or finding.entity, finding.path, finding.constraint, finding.severity)


@pytest.mark.parametrize("fixture", [path.stem for path in FIXTURES])
def test_both_validators_give_the_same_findings_on_each_fixture(fixture_reports, fixture):
    reference, native, validators = fixture_reports[fixture]
    assert validators == (PYSHACL, TURBO)
    # focus node, path, constraint component, severity; then everything else, placing included
    assert sorted(map(_core, native)) == sorted(map(_core, reference))
    assert sorted(native, key=repr) == sorted(reference, key=repr)
    assert (fixture == "small") == (reference == [])


def test_every_constraint_component_of_the_fixtures_is_compared(fixture_reports):
    seen = {f.constraint for reference, _, _ in fixture_reports.values() for f in reference} - {"OWL 2 RL"}
    assert seen == {
        "Class",
        "Datatype",
        "HasValue",
        "MinCount",
        "MinExclusive",
        "Or",
        "QualifiedMinCount",
        "SPARQL",
        "UniqueLang",
    }


def test_a_plain_literal_value_is_written_alike(fixture_reports):
    # Oxigraph types a plain literal xsd:string; RDF 1.1 says that is the same term, and so do reports.
    reference, native, _ = fixture_reports["date-not-a-date"]
    assert [f.value for f in native] == [f.value for f in reference] == ['"the next day"']


def test_both_validators_give_the_same_findings_on_a_synthetic_graph(tmp_path):
    data = tmp_path / "synth.ttl"
    data.write_text(synth(10_000, seed=1), encoding="utf-8")
    reference, native, _ = _both(data)
    assert len(reference) >= 5  # the generator writes some defects: the comparison is not vacuous
    assert sorted(map(_core, native)) == sorted(map(_core, reference))
    assert sorted(native, key=repr) == sorted(reference, key=repr)


# -- which validator runs, and where that is recorded ----------------------------------------


def test_each_engine_runs_its_own_validator_unless_told():
    assert (shacl_validator(get_engine("fast")), shacl_validator(get_engine("reference"))) == (
        "pyshacl-turbo",
        "pyshacl",
    )
    assert shacl_validator(get_engine("reference"), "pyshacl-turbo") == "pyshacl-turbo"
    with pytest.raises(UsageError, match="unknown SHACL validator 'topbraid'"):
        shacl_validator(get_engine("fast"), "topbraid")


def test_without_pyshacl_turbo_the_fast_engine_falls_back_to_pyshacl(monkeypatch):
    import kg.engine

    real = kg.engine.importlib.util.find_spec
    monkeypatch.setattr(
        kg.engine.importlib.util, "find_spec", lambda name, *a: None if name == "pyshacl_turbo" else real(name, *a)
    )
    assert shacl_validator(get_engine("fast")) == "pyshacl"
    with pytest.raises(UsageError, match="pyshacl-turbo is not installed: pip install pyshacl-turbo"):
        shacl_validator(get_engine("fast"), "pyshacl-turbo")


def test_reports_name_the_validator_in_text_and_json():
    path = DATA / "invalid" / "two-en-labels.ttl"
    kg = open_graph(Inputs.of(ontology_dir(), [path], "fast", shapes=default_shapes()))
    for chosen, label in ((None, TURBO), ("pyshacl", PYSHACL)):
        report = validate(kg, default_shapes(), chosen)
        assert report.validator == label
        name = label.split()[0]
        assert render_text(report).splitlines()[-1].endswith(f"(fast engine, SHACL by {name}): conforms")
        document = json.loads(render_json(report))
        assert (document["engine"], document["validator"]) == ("fast", name)


def test_the_cache_keeps_a_report_per_validator_and_version(tmp_path):
    path = DATA / "invalid" / "ko-label-missing.ttl"

    def opened(validator):
        inputs = Inputs.of(ontology_dir(), [path], "fast", shapes=default_shapes(), cache=tmp_path, validator=validator)
        return open_graph(inputs)

    first = opened(None)
    assert check(first, default_shapes()).validator == TURBO
    second = opened("pyshacl")  # another record: the key names the validator and its version
    assert second.record.report is None
    assert check(second, default_shapes(), "pyshacl").validator == PYSHACL
    assert opened(None).record.report["validator"] == TURBO  # both kept
    assert opened("pyshacl").record.report["validator"] == PYSHACL
    records = [Record.from_json(p.read_bytes()) for p in tmp_path.glob("*.json")]
    assert sorted(r.report["validator"] for r in records) == [PYSHACL, TURBO]
    # A record whose report another validator (or version) made is not reused: the report is made again.
    stale = opened(None)
    stale.record.report = {**stale.record.report, "validator": "pyshacl-turbo 0.0.1"}
    assert check(stale, default_shapes()).validator == TURBO
    assert opened(None).record.report["validator"] == TURBO
    assert validator_label("pyshacl-turbo") == TURBO


def test_kg_validate_validator_option(kg):
    path = str(DATA / "invalid" / "grants-do-not-sum.ttl")
    outputs = {}
    for validator in ("pyshacl", "pyshacl-turbo"):
        result = kg("--data", path, "validate", "--format", "json", "--validator", validator)
        assert result.exit_code == 1
        outputs[validator] = json.loads(result.stdout)
    assert outputs["pyshacl"].pop("validator") == "pyshacl"
    assert outputs["pyshacl-turbo"].pop("validator") == "pyshacl-turbo"
    assert outputs["pyshacl"] == outputs["pyshacl-turbo"]
    assert kg("--data", path, "--engine", "reference", "validate", "--format", "json").stdout.count('"pyshacl"') == 1


def test_on_the_reference_engine_pyshacl_turbo_reads_rdflib_graphs_and_agrees():
    # A value node (a blank node) as the focus: placed under its owner through the rdflib graph.
    path = DATA / "invalid" / "currency-missing.ttl"
    kg = open_graph(Inputs.of(ontology_dir(), [path], "reference", shapes=default_shapes()))
    reference = validate(kg, default_shapes())
    native = validate(kg, default_shapes(), "pyshacl-turbo")
    assert (reference.validator, native.validator) == (PYSHACL, TURBO)
    assert native.findings == reference.findings
    assert [(f.entity.rsplit("/", 1)[1], f.focus, f.path, f.constraint) for f in native.findings] == [
        ("fixture-project-private", "[]", "kg:amount/kg:currency", "MinCount")
    ]
