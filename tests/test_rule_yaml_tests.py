"""The YAML rule tests beside the rules, run by pytest one by one, and their coverage."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from engine import Evaluator, InputError, load_rulebook
from engine.frontends.cli import main
from engine.frontends.ruletests import coverage, coverage_percent, load_rule_tests, run_rule_tests

RULEBOOK = load_rulebook()
TESTS = load_rule_tests(RULEBOOK)


@pytest.fixture(scope="module")
def yaml_evaluator():
    with Evaluator(RULEBOOK) as evaluator:
        yield evaluator


@pytest.mark.parametrize("test", TESTS, ids=[t.test_id for t in TESTS])
def test_rule_yaml_test(yaml_evaluator, test):
    [outcome] = run_rule_tests(yaml_evaluator, [test])
    assert outcome.passed, "\n".join(outcome.failures)


def test_bundled_rules_are_fully_covered(yaml_evaluator):
    entries = coverage(RULEBOOK, run_rule_tests(yaml_evaluator, TESTS))
    assert coverage_percent(entries) == 100.0
    assert {e.rule_id for e in entries} == set(RULEBOOK.rules)


def test_a_wrong_expectation_fails_with_the_figures(tmp_path, yaml_evaluator):
    (tmp_path / "t.test.yaml").write_text(
        "defaults: {date: 2021-06-30}\n"
        "tests:\n"
        "  - name: wrong on purpose\n"
        "    facts: {post_issue_share_capital: 2999万元}\n"
        "    expect: {listing.2.1.1.2: pass}\n", encoding="utf-8")
    [test] = load_rule_tests(RULEBOOK, tmp_path)
    [outcome] = run_rule_tests(yaml_evaluator, [test])
    assert not outcome.passed
    assert "expected pass, got fail" in outcome.failures[0]
    assert "2,999万元 ≥ 3,000万元" in outcome.failures[0]


def test_unknown_fact_and_rule_in_a_test_file_are_input_errors(tmp_path):
    (tmp_path / "t.test.yaml").write_text(
        "defaults: {date: 2021-06-30}\n"
        "tests:\n"
        "  - name: typos\n"
        "    facts: {post_issue_share_captal: 2999万元}\n"
        "    expect: {listing.2.1.1.2: pass}\n"
        "  - name: unknown rule\n"
        "    expect: {listing.2.1.1.9: pass}\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_rule_tests(RULEBOOK, tmp_path)
    messages = [p.render() for p in caught.value.problems]
    assert any("t.test.yaml:4" in m and "did you mean 'post_issue_share_capital'" in m for m in messages), messages
    assert any("t.test.yaml:7" in m and "unknown rule 'listing.2.1.1.9'" in m for m in messages), messages


def test_cli_rules_test_with_coverage():
    result = CliRunner().invoke(main, ["rules", "test", "--coverage", "--fail-under", "100"])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output and "TOTAL: 100%" in result.output
    assert "post_issue_share_capital vs 4亿元: below✓ on✓ above✓" in result.output


def test_coverage_counts_each_dated_version(yaml_evaluator):
    """Tests only after 2020-12-31 leave the 2019 edition of 2.1.1 unreached, and coverage says so."""
    import datetime as dt

    later = [t for t in TESTS if t.date >= dt.date(2020, 12, 31)]
    entries = {e.rule_id: e for e in coverage(RULEBOOK, run_rule_tests(yaml_evaluator, later))}
    versions = entries["listing.2.1.1.2"].versions
    assert versions == {"2019 from 2019-03-01": False, "2020-12 from 2020-12-31": True,
                        "2024-04 from 2024-04-30": True, "2026-04 from 2026-04-24": True}
    assert coverage_percent(list(entries.values())) < 100.0
