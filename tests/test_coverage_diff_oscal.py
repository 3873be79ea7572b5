"""Coverage per day, the item diff between two instants, and the OSCAL export."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.cli import cli
from collector.config import load
from collector.runner import Collector, Selection
from fieldwork.coverage import Rec, days, population_states, posture_states
from fieldwork.diff import compare_findings
from fieldwork.oscal import assessment_results
from storage.store import EvidenceStore

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
VERDICTS = st.sampled_from(["pass", "fail", "inconclusive"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdefgh"), VERDICTS),
       st.dictionaries(st.sampled_from("abcdefgh"), VERDICTS))
def test_diff_reports_exactly_the_resources_whose_verdict_changed(
        a: dict[str, str], b: dict[str, str]) -> None:
    """Every resource whose verdict differs appears once, classified by the documented rule;
    unchanged resources never appear."""
    old = [{"resource": r, "status": s, "reason": ""} for r, s in a.items()]
    new = [{"resource": r, "status": s, "reason": ""} for r, s in b.items()]
    got = {c.resource: c for c in compare_findings("x", old, new, "r1", "r2")}
    assert set(got) == {r for r in a.keys() | b.keys() if a.get(r) != b.get(r)}
    for r, c in got.items():
        before, after = a.get(r), b.get(r)
        if after == "fail":
            want = "newly_failing"
        elif after is None:
            want = "gone"
        elif before is None:
            want = "appeared"
        elif (before, after) == ("fail", "pass"):
            want = "fixed"
        elif (before, after) == ("pass", "inconclusive"):
            want = "newly_inconclusive"
        else:
            want = "changed"
        assert c.kind == want and (c.before, c.after) == (before, after)
        assert (c.record_before, c.record_after) == ("r1", "r2")


def _rec(at: datetime, verdict: str = "pass", max_age: timedelta = timedelta(days=1),
         period: tuple[datetime, datetime] | None = None, status: str = "complete") -> Rec:
    return Rec("id", at, at, period[0] if period else None, period[1] if period else None,
               status, verdict, max_age)


def test_posture_days_go_stale_after_max_age() -> None:
    """A daily snapshot collected once is fresh at the end of that day, stale after."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    spans = days(start, start + timedelta(days=4))
    states = posture_states([_rec(start + timedelta(days=1, hours=10), "fail")], spans)
    assert states == ["no_evidence", "fail", "stale", "stale"]


def test_population_days_without_complete_windows_are_gaps() -> None:
    """Days covered by complete windows take their verdict; a failed window leaves a gap."""
    d = datetime(2026, 3, 1, tzinfo=UTC)
    spans = days(d, d + timedelta(days=3))
    recs = [_rec(d + timedelta(days=1), "pass", period=(d, d + timedelta(days=1))),
            _rec(d + timedelta(days=2), "pass", period=(d + timedelta(days=1),
                                                        d + timedelta(days=2)),
                 status="failed"),
            _rec(d + timedelta(days=3), "fail", period=(d + timedelta(days=2),
                                                        d + timedelta(days=3)))]
    assert population_states(recs, spans) == ["pass", "gap", "fail"]


def _store(config_file: Callable[..., Path]) -> tuple[Path, EvidenceStore]:
    path = config_file()
    cfg = load(path)
    clock: Any = type("C", (), {"t": T0, "__call__": lambda self: self.t})()
    s = EvidenceStore.open(cfg, clock=clock)
    Collector(cfg, s, clock=clock).run(Selection())
    return path, s


def test_coverage_cli_reports_gaps_and_writes_html(config_file: Callable[..., Path],
                                                   tmp_path: Path) -> None:
    """`coverage` exits 3 when a control lacks fresh evidence on some day and writes HTML."""
    path, _ = _store(config_file)
    html = tmp_path / "cov.html"
    res = CliRunner().invoke(cli, ["-c", str(path), "coverage", "--since", "2026-03-08",
                                   "--until", "2026-03-11", "--control", "CC6.1",
                                   "--html", str(html), "--json"])
    assert res.exit_code == 3, res.output
    cov = json.loads(res.stdout)
    assert cov["controls"][0]["days"][:2] == ["no_evidence", "no_evidence"]
    assert "<table>" in html.read_text()


def _export_oscal(config: Path, out: Path) -> Any:
    """`evidence export --format oscal` for CC6.1 and CC7.2 as of 2026-03-10, parsed."""
    res = CliRunner().invoke(cli, ["-c", str(config), "export", "--control", "CC6.1",
                                   "--control", "CC7.2", "--as-of", "2026-03-10",
                                   "--format", "oscal", "-o", str(out)])
    assert res.exit_code == 0, res.output
    return json.loads(out.read_text())


def test_oscal_export_is_valid_against_the_oscal_models(config_file: Callable[..., Path],
                                                       tmp_path: Path) -> None:
    """The OSCAL document parses with compliance-trestle's models generated from NIST's
    schema, with one observation per record and one finding per criterion."""
    from trestle.oscal.assessment_results import AssessmentResults

    path, s = _store(config_file)
    doc = _export_oscal(path, tmp_path / "ar.json")
    model = AssessmentResults.model_validate(doc["assessment-results"])
    (result,) = model.results
    assert {f.target.target_id for f in result.findings or []} == {"cc6.1", "cc7.2"}
    assert len(result.observations or []) == 2
    hashes = {r.rlinks[0].hashes[0].value for r in model.back_matter.resources}  # type: ignore[union-attr,index]
    rec_shas = {o.props[0].value for o in result.observations or []}  # type: ignore[index]
    assert rec_shas and all(len(h) == 64 for h in hashes)
    again = assessment_results(s, {"CC6.1": ("CC6.1",), "CC7.2": ("CC7.2",)},
                               datetime(2026, 3, 10, 23, 59, 59, 999999, tzinfo=UTC))
    assert again["assessment-results"]["results"][0]["uuid"] == result.uuid


# NIST's published OSCAL JSON schema (v1.2.3), shipped in tests/schemas (see its README)
OSCAL_SCHEMA = Path(__file__).parent / "schemas" / "oscal_complete_schema.json"
OSCAL_SCHEMA_SHA256 = "384324105c7a817af0f65b120a963146caa0e0d55d969cf0daf60e063b87a206"


def _oscal_validator() -> Any:
    """A draft-7 validator for NIST's schema whose `pattern` understands `\\p{L}` (the
    schema's token pattern; Python's `re` has no Unicode property classes)."""
    import hashlib

    import regex
    from jsonschema import Draft7Validator, FormatChecker, ValidationError, validators

    data = OSCAL_SCHEMA.read_bytes()
    assert hashlib.sha256(data).hexdigest() == OSCAL_SCHEMA_SHA256, "schema file changed"

    def pattern(v: Any, patrn: str, instance: Any, _schema: Any) -> Any:
        if v.is_type(instance, "string") and not regex.search(patrn, instance):
            yield ValidationError(f"{instance!r} does not match {patrn!r}")

    cls = validators.extend(Draft7Validator, {"pattern": pattern})
    schema = json.loads(data)
    regexes = FormatChecker()
    regexes.checks("regex", raises=regex.error)(lambda s: bool(regex.compile(s)))
    Draft7Validator(Draft7Validator.META_SCHEMA, format_checker=regexes).validate(schema)
    return cls(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def _errors(validator: Any, doc: Any) -> list[str]:
    """Each reason `doc` fails, at its path (the schema is a oneOf over document kinds:
    the reasons inside the document, not "this is no catalog")."""
    out: list[str] = []

    def walk(errs: Any) -> None:
        for e in errs:
            if e.context:
                walk(e.context)
            elif e.absolute_path:
                out.append(f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:160]}")

    walk(validator.iter_errors(doc))
    return out


def test_oscal_export_is_valid_against_nists_json_schema(config_file: Callable[..., Path],
                                                         tmp_path: Path) -> None:
    """The exported assessment-results document validates against NIST's published OSCAL
    JSON schema file; the same validator refuses the document once it is broken."""
    path, _ = _store(config_file)
    out = tmp_path / "ar.json"
    doc = _export_oscal(path, out)
    v = _oscal_validator()
    assert _errors(v, doc) == []
    assert doc["assessment-results"]["results"][0]["observations"]

    broken = json.loads(out.read_text())
    ob = broken["assessment-results"]["results"][0]["observations"][0]
    ob["collected"] = "yesterday"  # not an OSCAL date-time
    ob["props"][0]["name"] = "record id"  # a token may not hold a space
    del broken["assessment-results"]["results"][0]["start"]  # required
    problems = _errors(v, broken)
    where = {p.split(": ", 1)[0] for p in problems}
    assert {"assessment-results/results/0/observations/0/collected",
            "assessment-results/results/0/observations/0/props/0/name",
            "assessment-results/results/0"} <= where, problems
