"""Bad case files: each gets exit code 2 and one message naming the file, the line and the field.

Every file in `tests/bad_input/` starts with

    # expect: <line> <field> <substring of the message>

(`-` for a line or field the message cannot name). The test runs `check-listing FILE`
through click's CliRunner, as a user would, and checks the message line by line: one
line of the error output must carry `FILE:LINE:`, the field and the substring. A
traceback is never an acceptable answer to bad input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.frontends.cli import main
from engine.common.errors import EXIT_INPUT_ERROR, InputError

BAD_INPUT = Path(__file__).resolve().parent / "bad_input"
FIXTURES = sorted(BAD_INPUT.glob("*.yaml"))


@dataclass(frozen=True)
class Expectation:
    line: int | None
    field: str | None
    substring: str


def expectation_of(path: Path) -> Expectation:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# expect: "
    assert first.startswith(prefix), f"{path.name} must start with '{prefix}<line> <field> <substring>'"
    line, field, substring = first[len(prefix):].split(" ", 2)
    return Expectation(None if line == "-" else int(line), None if field == "-" else field, substring.strip())


def run_check(path: Path):
    return CliRunner().invoke(main, [str(path)])


def assert_input_error(result, path: Path, expected: Expectation) -> None:
    output = result.output
    assert "Traceback" not in output, output
    assert isinstance(result.exception, SystemExit), f"crashed with {result.exception!r}:\n{output}"
    assert result.exit_code == EXIT_INPUT_ERROR, output
    assert result.stdout == "", "errors go to standard error, the report stream stays empty"
    errors = result.stderr.splitlines()
    assert errors and all(line.startswith("error: ") for line in errors), result.stderr
    place = f"{path}:{expected.line}:" if expected.line is not None else f"{path}:"
    matching = [
        line for line in errors
        if place in line
        and (expected.field is None or f" {expected.field}: " in line)
        and expected.substring in line
    ]
    assert matching, (f"no error line has {place!r}, field {expected.field!r} and {expected.substring!r}; "
                      f"got:\n{result.stderr}")


def test_there_is_a_fixture_for_each_kind_of_bad_input():
    names = {p.stem for p in FIXTURES}
    required = {
        "malformed_yaml", "unknown_field", "money_without_unit", "shares_without_unit", "money_in_share_units",
        "negative_share_count", "text_for_bool", "unknown_stage", "bad_period", "duplicate_period",
        "duplicate_key", "yaml_alias", "unknown_attestation", "unknown_standard", "date_before_star_market",
        "missing_required_field", "not_a_mapping",
    }
    assert required <= names, sorted(required - names)
    for path in FIXTURES:
        expectation_of(path)  # every fixture states what it expects


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_bad_case_file_is_refused_with_file_line_and_field(path: Path):
    assert_input_error(run_check(path), path, expectation_of(path))


def test_fixtures_differ_from_a_valid_case_only_in_the_fault(tmp_path: Path):
    """The fixtures share one valid body: undo the fault of one and it is accepted (exit 0)."""
    text = (BAD_INPUT / "unknown_field.yaml").read_text(encoding="utf-8").replace("red_chp:", "red_chip:")
    path = tmp_path / "fixed.yaml"
    path.write_text(text, encoding="utf-8")
    result = run_check(path)
    assert result.exit_code == 0, result.output


def test_the_did_you_mean_hint_is_the_nearest_field():
    result = run_check(BAD_INPUT / "unknown_field.yaml")
    assert "did you mean 'red_chip'?" in result.stderr
    # and the fields that are allowed there are listed
    assert "weighted_voting_rights" in result.stderr


def test_every_problem_of_one_file_is_reported_not_only_the_first(tmp_path: Path):
    text = (BAD_INPUT / "unknown_field.yaml").read_text(encoding="utf-8")
    text = text.replace("  stage: filing\n", "  stage: listing\n")
    path = tmp_path / "two-faults.yaml"
    path.write_text(text, encoding="utf-8")
    result = run_check(path)
    assert result.exit_code == EXIT_INPUT_ERROR
    assert " issuer.red_chp: " in result.stderr
    assert " evaluation.stage: " in result.stderr
    assert len(result.stderr.splitlines()) == 2


def test_file_that_is_not_utf8_is_refused_by_name(tmp_path: Path):
    path = tmp_path / "gbk-encoded.yaml"
    body = (BAD_INPUT / "unknown_field.yaml").read_text(encoding="utf-8").replace("red_chp:", "red_chip:")
    path.write_bytes(body.encode("gbk"))  # the issuer's name in GBK: not valid UTF-8
    assert_input_error(run_check(path), path, Expectation(None, None, "not UTF-8"))


def test_file_with_stray_invalid_byte_is_refused(tmp_path: Path):
    path = tmp_path / "stray-byte.yaml"
    path.write_bytes(b"case_id: x\nissuer:\n  name: \xff\xfe\n")
    assert_input_error(run_check(path), path, Expectation(None, None, "not UTF-8"))


def test_nonexistent_file_is_refused_by_name(tmp_path: Path):
    path = tmp_path / "no-such-case.yaml"
    assert_input_error(run_check(path), path, Expectation(None, None, "cannot read file"))


def test_empty_file_is_refused(tmp_path: Path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing here\n", encoding="utf-8")
    assert_input_error(run_check(path), path, Expectation(None, None, "must be a mapping"))


def test_scalar_document_is_refused_at_its_line(tmp_path: Path):
    path = tmp_path / "scalar.yaml"
    path.write_text("# a comment\njust some text\n", encoding="utf-8")
    assert_input_error(run_check(path), path, Expectation(2, None, "must be a mapping"))


def test_python_tag_is_refused_and_runs_nothing(tmp_path: Path):
    """Nothing is constructed from a tag; the message is checked in test_yamlsource."""
    marker = tmp_path / "pwned"
    path = tmp_path / "tagged.yaml"
    body = (BAD_INPUT / "unknown_field.yaml").read_text(encoding="utf-8").replace("red_chp:", "red_chip:")
    body = body.replace("case_id: bad-example\n",
                        f"case_id: !!python/object/apply:os.system ['touch {marker}']\n")
    path.write_text(body, encoding="utf-8")
    result = run_check(path)
    assert not marker.exists()
    line = body.splitlines().index(next(l for l in body.splitlines() if l.startswith("case_id:"))) + 1
    assert_input_error(result, path, Expectation(line, None, ""))


# ---------------------------------------------------------------------------------
# The same refusals through the API, and the period forms that are accepted


def test_case_error_problems_carry_file_line_and_field():
    from engine import load_case_text
    from engine.common.errors import CaseError

    path = BAD_INPUT / "negative_share_count.yaml"
    with pytest.raises(CaseError) as caught:
        load_case_text(path.read_text(encoding="utf-8"), "negative.yaml")
    expected = expectation_of(path)
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.field) == ("negative.yaml", expected.line, expected.field)
    assert expected.substring in problem.message


@pytest.mark.parametrize("period, fiscal_year", [
    (2019, 2019), ("2019", 2019), ("2020H1", None), ("2020h1", None), ("2020Q3", None), ("2020M1-9", None),
    ("２０１９", 2019),
])
def test_period_forms_that_are_accepted(period, fiscal_year):
    from conftest import case_yaml
    from engine import load_case_text

    financials = [{"period": period, "audited": True, "revenue": "1万元"}]
    case = load_case_text(case_yaml(financials=financials), "periods.yaml").case
    assert case.financials[0].fiscal_year == fiscal_year


@pytest.mark.parametrize("period", ["2020H2", "2020Q4", "2020Q0", "20201", "2020M1", "2020M10-13", "2020M0-6",
                                    "2020M9-3", "FY2020", "2020-06"])
def test_period_forms_that_are_refused(period):
    from conftest import case_yaml
    from engine import load_case_text
    from engine.common.errors import CaseError

    financials = [{"period": period, "audited": True, "revenue": "1万元"}]
    with pytest.raises(CaseError) as caught:
        load_case_text(case_yaml(financials=financials), "periods.yaml")
    [problem] = caught.value.problems
    assert problem.field == "financials[0].period"
    assert "is not a period" in problem.message


def test_offering_structure_fields_are_validated_with_their_places(tmp_path):
    """Placement and subscription figures: whole counts, no negative shares, units, known fields."""
    from conftest import case_yaml

    from engine import load_case_text

    text = case_yaml(placement={"strategic_investors": 1.5, "strategic_shares": "-5股"},
                     subscription={"online_subscription_multiple": "abc倍", "clawback_sharez": "5股"})
    with pytest.raises(InputError) as caught:
        load_case_text(text, "structure.yaml")
    messages = [p.render() for p in caught.value.problems]
    assert any("placement.strategic_investors: a count must be a whole number, got '1.5'" in m for m in messages)
    assert any("placement.strategic_shares: must not be negative" in m for m in messages)
    assert any("subscription.online_subscription_multiple" in m and "is not an amount" in m for m in messages)
    assert any("did you mean 'clawback_shares'" in m for m in messages)
    assert all(m.startswith("structure.yaml:") for m in messages)
