"""The command line: exit codes tell eligible (0), not eligible (1), undetermined (3) and bad
input or usage (2) apart; reports are deterministic in every format; --as-of picks the
rules in force; --output writes the whole report; schemas and lint work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CASES, case_yaml
from engine.frontends.cli import main
from engine.common.errors import EXIT_ELIGIBLE, EXIT_INPUT_ERROR, EXIT_NOT_ELIGIBLE, EXIT_UNDETERMINED
from engine.rules.ruleloader import bundled_rules_dir

QINGCLOUD = CASES / "qingcloud-filing.yaml"


def invoke(*args: str):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def write_case(tmp_path: Path, name: str = "case.yaml", **overrides) -> Path:
    path = tmp_path / name
    path.write_text(case_yaml(**overrides), encoding="utf-8")
    return path


def report(path: Path, *options: str) -> dict:
    result = invoke(path, "--format", "json", *options)
    return json.loads(result.stdout)


# ---------------------------------------------------------------------------------
# Exit codes


def test_sample_case_is_eligible():
    result = invoke(QINGCLOUD)
    assert result.exit_code == EXIT_ELIGIBLE, result.output
    assert "ELIGIBLE" in result.stdout


def test_valid_base_case_is_eligible(tmp_path):
    assert invoke(write_case(tmp_path)).exit_code == EXIT_ELIGIBLE


def test_float_below_25_percent_is_not_eligible(tmp_path):
    path = write_case(tmp_path, offering={"new_shares": "2000万股"})  # 2000 / 9500 ≈ 21%
    result = invoke(path)
    assert result.exit_code == EXIT_NOT_ELIGIBLE, result.output
    assert "NOT ELIGIBLE" in result.stdout
    assert "listing.2.1.1.3.float-25" in result.stdout


def test_float_of_exactly_25_percent_is_eligible_and_one_share_less_is_not(tmp_path):
    exact = write_case(tmp_path, "exact.yaml", offering={"new_shares": "2500万股", "shares_before_issue": "7500万股"})
    below = write_case(tmp_path, "below.yaml",
                       offering={"new_shares": "2500万股", "shares_before_issue": "75,000,001股"})
    assert invoke(exact).exit_code == EXIT_ELIGIBLE
    assert invoke(below).exit_code == EXIT_NOT_ELIGIBLE


def test_missing_market_cap_is_undetermined_and_names_the_fact(tmp_path):
    path = write_case(tmp_path, offering={"expected_market_cap": None})
    result = invoke(path)
    assert result.exit_code == EXIT_UNDETERMINED, result.output
    assert "expected_market_cap" in result.stdout
    data = report(path)
    assert data["verdict"] == "undetermined"
    assert data["exit_code"] == EXIT_UNDETERMINED


def test_the_exit_code_matches_the_json_report(tmp_path):
    for overrides, code in (({}, 0), ({"offering": {"new_shares": "2000万股"}}, 1),
                            ({"offering": {"expected_market_cap": None}}, 3)):
        path = write_case(tmp_path, **overrides)
        result = invoke(path, "--format", "json")
        assert result.exit_code == code
        assert json.loads(result.stdout)["exit_code"] == code


def test_explicit_check_command_is_the_same_as_the_default(tmp_path):
    path = write_case(tmp_path)
    assert invoke("check", path).stdout == invoke(path).stdout


# ---------------------------------------------------------------------------------
# Formats and determinism


def test_json_report_has_verdict_rules_and_citations():
    result = invoke(QINGCLOUD, "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["verdict"] == "eligible"
    assert data["case"]["file"] == str(QINGCLOUD)
    assert data["chosen_standard"] == "2.1.2(4)"
    assert isinstance(data["rules"], list) and data["rules"]
    cited = [rule for rule in data["rules"] if rule.get("citation")]
    assert cited
    for rule in cited:
        citation = rule["citation"]
        assert {"instrument", "document", "edition", "article", "quote"} <= set(citation), citation
        assert citation["quote"]
    ids = {rule["id"] for rule in data["rules"]}
    assert {"listing.2.1.1.2", "listing.2.1.2.4"} <= ids


def test_markdown_report_starts_with_a_heading():
    result = invoke(QINGCLOUD, "--format", "markdown")
    assert result.exit_code == 0
    assert result.stdout.startswith("# ")


def test_text_report_names_the_verdict_and_the_case():
    result = invoke(QINGCLOUD)
    assert "北京青云科技股份有限公司" in result.stdout
    assert str(QINGCLOUD) in result.stdout
    assert "Verdict: ELIGIBLE" in result.stdout


@pytest.mark.parametrize("output_format", ["text", "json", "markdown"])
def test_same_input_gives_byte_identical_output(output_format, tmp_path):
    path = write_case(tmp_path, offering={"new_shares": "2000万股"})
    first = invoke(path, "--format", output_format)
    second = invoke(path, "--format", output_format)
    assert first.stdout_bytes == second.stdout_bytes
    assert first.exit_code == second.exit_code


def test_reports_do_not_depend_on_the_order_of_runs(tmp_path):
    a = write_case(tmp_path, "a.yaml")
    b = write_case(tmp_path, "b.yaml", offering={"new_shares": "2000万股"})
    first = invoke(a, "--format", "json").stdout
    invoke(b, "--format", "json")
    assert invoke(a, "--format", "json").stdout == first


def test_unknown_format_is_a_usage_error():
    result = invoke(QINGCLOUD, "--format", "xml")
    assert result.exit_code == EXIT_INPUT_ERROR
    assert "xml" in result.output


# ---------------------------------------------------------------------------------
# --as-of


def _editions(data: dict) -> set[str]:
    """Editions of the listing rules (上市规则) cited in a JSON report."""
    return {rule["citation"]["edition"] for rule in data["rules"]
            if rule.get("citation") and rule["citation"]["instrument_id"] == "listing-rules"}


def test_as_of_picks_the_rules_in_force_on_that_date(tmp_path):
    path = write_case(tmp_path, evaluation={"date": "2020-06-30"})
    assert _editions(report(path)) == {"2019"}
    later = report(path, "--as-of", "2020-12-31")
    assert later["as_of"] == "2020-12-31"
    assert _editions(later) == {"2020-12"}
    assert _editions(report(path, "--as-of", "2021-06-30")) == {"2020-12"}


def test_as_of_the_day_before_the_2020_revision_uses_the_2019_edition(tmp_path):
    path = write_case(tmp_path, evaluation={"date": "2021-06-30"})
    assert _editions(report(path)) == {"2020-12"}
    earlier = report(path, "--as-of", "2020-12-30")
    assert earlier["as_of"] == "2020-12-30"
    assert _editions(earlier) == {"2019"}


def test_as_of_that_is_not_a_date_is_a_usage_error():
    result = invoke(QINGCLOUD, "--as-of", "2021-02-30")
    assert result.exit_code == EXIT_INPUT_ERROR
    assert "2021-02-30" in result.output


def test_as_of_before_the_star_market_is_refused_and_blames_the_option():
    result = invoke(QINGCLOUD, "--as-of", "2018-01-01")
    assert result.exit_code == EXIT_INPUT_ERROR
    assert "2018-01-01" in result.stderr
    # the case's own date (2020-09-04) is fine: the message must point at --as-of, not at the file's line
    assert "--as-of" in result.stderr


# ---------------------------------------------------------------------------------
# --output


def test_output_writes_the_report_to_the_file(tmp_path):
    target = tmp_path / "out" / "report.json"
    result = invoke(QINGCLOUD, "--format", "json", "--output", target)
    assert result.exit_code == 0
    assert result.stdout == ""
    written = target.read_text(encoding="utf-8")
    assert written == invoke(QINGCLOUD, "--format", "json").stdout
    assert json.loads(written)["verdict"] == "eligible"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]  # no temporary left behind


def test_output_keeps_the_exit_code(tmp_path):
    path = write_case(tmp_path, offering={"new_shares": "2000万股"})
    result = invoke(path, "-o", tmp_path / "r.txt")
    assert result.exit_code == EXIT_NOT_ELIGIBLE
    assert "NOT ELIGIBLE" in (tmp_path / "r.txt").read_text(encoding="utf-8")


def test_output_replaces_an_existing_file_whole(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old content that is much longer than nothing\n" * 1000, encoding="utf-8")
    invoke(QINGCLOUD, "--format", "markdown", "--output", target)
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# ") and "old content" not in text


def test_bad_input_does_not_touch_the_output_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(case_yaml().replace("stage: filing", "stage: listing"), encoding="utf-8")
    target = tmp_path / "report.txt"
    target.write_text("previous report\n", encoding="utf-8")
    result = invoke(bad, "--output", target)
    assert result.exit_code == EXIT_INPUT_ERROR
    assert target.read_text(encoding="utf-8") == "previous report\n"


# ---------------------------------------------------------------------------------
# schema, rules lint, usage


def test_case_schema_is_json_schema():
    result = invoke("schema", "case")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["type"] == "object"
    assert {"issuer", "evaluation", "offering", "financials", "attestations", "chosen_standard", "units"} \
        <= set(schema["properties"])
    assert {"issuer", "evaluation", "offering"} <= set(schema["required"])
    offering = schema["$defs"]["Offering"]["properties"]
    assert {"par_value", "shares_before_issue", "new_shares", "expected_market_cap"} <= set(offering)
    assert schema["additionalProperties"] is False


def test_rule_schema_is_json_schema():
    result = invoke("schema", "rule")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"instrument", "article", "rules"} <= set(schema["properties"])


def test_schema_output_is_deterministic():
    assert invoke("schema", "case").stdout_bytes == invoke("schema", "case").stdout_bytes


def test_schema_of_an_unknown_kind_is_a_usage_error():
    assert invoke("schema", "table").exit_code == EXIT_INPUT_ERROR


def test_rules_lint_on_the_bundled_rules_is_ok():
    result = invoke("rules", "lint")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok:")


def test_rules_lint_on_an_explicit_copy_is_ok(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), rules)
    result = invoke("rules", "lint", rules)
    assert result.exit_code == 0, result.output
    assert "ok:" in result.stdout and str(rules) in result.stdout


def test_rules_lint_on_a_directory_without_rules_is_an_input_error(tmp_path):
    result = invoke("rules", "lint", tmp_path)
    assert result.exit_code == EXIT_INPUT_ERROR
    assert str(tmp_path) in result.stderr


def test_rules_lint_reports_a_broken_rule_with_file_and_line(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), rules)
    path = rules / "listing-rules" / "2.1.1.yaml"
    text = path.read_text(encoding="utf-8")
    assert "post_issue_share_capital >= 3000万元" in text
    path.write_text(text.replace("post_issue_share_capital >= 3000万元", "post_issue_share_capital >= 3000万股", 1),
                    encoding="utf-8")
    result = invoke("rules", "lint", rules)
    assert result.exit_code == EXIT_INPUT_ERROR
    line = next(i for i, l in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "3000万股" in l)
    assert f"{path}:{line}:" in result.stderr
    assert "listing.2.1.1.2" in result.stderr


def test_rules_lint_survives_a_long_sum_in_a_rule(tmp_path):
    """A long (but not overlong) sum in a condition is linted, or refused, but never crashes."""
    rules = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), rules)
    path = rules / "listing-rules" / "2.1.1.yaml"
    text = path.read_text(encoding="utf-8")
    old = "post_issue_share_capital >= 3000万元"
    assert old in text
    long_sum = "post_issue_share_capital" + " + 0万元" * 500 + " >= 3000万元"
    assert len(long_sum) < 4000
    path.write_text(text.replace(old, long_sum, 1), encoding="utf-8")
    result = invoke("rules", "lint", rules)
    assert result.exit_code in (0, EXIT_INPUT_ERROR), result.output


def test_unknown_option_is_a_usage_error():
    result = invoke(QINGCLOUD, "--bogus")
    assert result.exit_code == EXIT_INPUT_ERROR
    assert "--bogus" in result.output


def test_missing_argument_is_a_usage_error():
    assert invoke("check").exit_code == EXIT_INPUT_ERROR


def test_directory_as_case_file_is_a_usage_error(tmp_path):
    result = invoke(tmp_path)
    assert result.exit_code == EXIT_INPUT_ERROR


def test_help():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout and "check-listing" in result.stdout
    check_help = invoke("check", "--help")
    assert check_help.exit_code == 0
    assert "--format" in check_help.stdout and "--as-of" in check_help.stdout and "--output" in check_help.stdout


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert "version" in result.stdout


# ---------------------------------------------------------------------------------
# Extreme but well-formed figures


@pytest.mark.parametrize("overrides", [
    {"offering": {"expected_market_cap": "1" + "0" * 30 + "亿元"}},
    {"offering": {"shares_before_issue": "7500" + "0" * 30 + "万股"}},
    {"financials": [{"period": 2020, "audited": True, "revenue": "4" + "0" * 40 + "万元",
                     "net_profit_parent": "5000万元", "net_profit_parent_deducted": "4800万元",
                     "rd_investment": "4000万元", "operating_cash_flow": "6000万元"}]},
])
def test_huge_amounts_give_a_verdict_or_an_input_error_never_a_crash(tmp_path, overrides):
    path = write_case(tmp_path, **overrides)
    for output_format in ("text", "json", "markdown"):
        result = invoke(path, "--format", output_format)
        assert result.exit_code in (EXIT_ELIGIBLE, EXIT_NOT_ELIGIBLE, EXIT_UNDETERMINED, EXIT_INPUT_ERROR), \
            result.output


def test_tiny_amounts_are_judged_exactly(tmp_path):
    path = write_case(tmp_path, offering={"new_shares": "1股", "shares_before_issue": "3股", "par_value": "1元"})
    result = invoke(path)
    # a float of exactly 25%, but share capital of 4元, far below 3000万元: not eligible
    assert result.exit_code == EXIT_NOT_ELIGIBLE
    assert "listing.2.1.1.2" in result.stdout
