"""Rule loading: the bundled rules load clean, and each kind of broken rule file is
reported with its file, line, rule id and what was expected (lint and load are one code path)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import RuleFileError, load_rulebook
from engine.rules.citations import check_quotes
from engine.decide.compiler import compile_rulebook
from engine.rules.ruleloader import bundled_rules_dir

ARTICLE = "listing-rules/2.1.1.yaml"


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), target)
    return target


def edit(rules: Path, relative: str, old: str, new: str) -> Path:
    path = rules / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found: {old}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def problems_of(rules: Path) -> list:
    with pytest.raises(RuleFileError) as caught:
        load_rulebook(rules)
    return caught.value.problems


def test_bundled_rules_load_compile_and_quote_verbatim():
    rulebook = load_rulebook()
    assert {"listing.2.1.1.2", "listing.2.1.2.4", "listing.2.1.3.1", "listing.2.1.4.2"} <= set(rulebook.rules)
    compiled = compile_rulebook(rulebook)
    assert compiled.definition  # every check rule version compiled to durable rules
    assert check_quotes(rulebook) == []


def test_every_listing_rule_has_two_dated_versions_without_gaps():
    rulebook = load_rulebook()
    for rule in rulebook.rules.values():
        if not rule.id.startswith("listing."):
            continue
        periods = [(v.effective_from, v.effective_to) for v in rule.versions]
        assert periods[0][0].isoformat() == "2019-03-01", rule.id
        assert periods[-1][1] is None, rule.id


def test_unknown_key_is_reported_with_line_and_suggestion(rules_copy):
    path = edit(rules_copy, ARTICLE, "    condition: post_issue_share_capital >= 3000万元",
                "    conditon: post_issue_share_capital >= 3000万元")
    problems = problems_of(rules_copy)
    match = [p for p in problems if "conditon" in p.message]
    assert match, problems
    assert match[0].file == str(path)
    assert match[0].line == line_of(path, "conditon:")
    assert "did you mean 'condition'" in match[0].message


def test_undefined_figure_names_rule_and_suggests(rules_copy):
    path = edit(rules_copy, ARTICLE, "post_issue_share_capital >= 3000万元", "post_issue_share_captial >= 3000万元")
    problems = problems_of(rules_copy)
    match = [p for p in problems if "unknown figure 'post_issue_share_captial'" in p.message]
    assert match, problems
    assert match[0].rule_id == "listing.2.1.1.2"
    assert match[0].line == line_of(path, "post_issue_share_captial")
    assert "did you mean 'post_issue_share_capital'" in match[0].message


def test_money_compared_with_shares_is_a_unit_mismatch(rules_copy):
    edit(rules_copy, ARTICLE, "post_issue_share_capital >= 3000万元", "post_issue_share_capital >= 3000万股")
    problems = problems_of(rules_copy)
    assert any("cannot compare money with shares" in p.message and p.rule_id == "listing.2.1.1.2"
               for p in problems), problems


def test_duplicate_rule_id(rules_copy):
    path = edit(rules_copy, ARTICLE, "  - id: listing.2.1.1.5", "  - id: listing.2.1.1.2")
    problems = problems_of(rules_copy)
    match = [p for p in problems if "duplicate rule id 'listing.2.1.1.2'" in p.message]
    assert match and match[0].file == str(path)
    lines = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
             if line.strip() == "- id: listing.2.1.1.2"]
    assert match[0].line == lines[-1]  # the second definition, where the id key is


@pytest.mark.parametrize("old,new,message", [
    ("{effective_from: 2020-12-31, effective_to: 2024-04-29, edition: \"2020-12\"",
     "{effective_from: 2020-12-30, effective_to: 2024-04-29, edition: \"2020-12\"", "versions overlap"),
    ("{effective_from: 2020-12-31, effective_to: 2024-04-29, edition: \"2020-12\"",
     "{effective_from: 2021-01-02, effective_to: 2024-04-29, edition: \"2020-12\"", "gap between versions"),
])
def test_overlapping_or_gapped_periods(rules_copy, old, new, message):
    edit(rules_copy, ARTICLE, old, new)
    problems = problems_of(rules_copy)
    assert any(message in p.message and p.rule_id == "listing.2.1.1.1" for p in problems), problems


def test_cycle_among_derived_figures(rules_copy):
    path = edit(rules_copy, "figures.yaml", "expr: shares_before_issue + new_shares",
                "expr: shares_before_issue + new_shares + post_issue_share_capital / par_value")
    problems = problems_of(rules_copy)
    match = [p for p in problems if "cycle" in p.message]
    assert match, problems
    assert "post_issue_total_shares" in match[0].message and match[0].file == str(path)


def test_unknown_edition_lists_the_known_ones(rules_copy):
    edit(rules_copy, ARTICLE, 'edition: "2020-12"', 'edition: "2021-12"')
    problems = problems_of(rules_copy)
    match = [p for p in problems if "unknown edition '2021-12'" in p.message]
    assert match and "2019" in (match[0].expected or "")


def test_condition_must_be_true_or_false(rules_copy):
    edit(rules_copy, ARTICLE, "condition: post_issue_share_capital >= 3000万元",
         "condition: post_issue_share_capital")
    problems = problems_of(rules_copy)
    assert any("a condition must be true or false, not money" in p.message for p in problems), problems


def test_expression_syntax_error_has_column(rules_copy):
    edit(rules_copy, ARTICLE, "post_issue_share_capital >= 3000万元", "post_issue_share_capital >= (3000万元")
    problems = problems_of(rules_copy)
    match = [p for p in problems if "expected ')'" in p.message]
    assert match and "column" in match[0].message


def test_malformed_yaml_has_line(rules_copy):
    path = edit(rules_copy, ARTICLE, "  - id: listing.2.1.1.5", "  - id: [listing.2.1.1.5")
    problems = problems_of(rules_copy)
    assert problems[0].file == str(path) and problems[0].line is not None and "malformed YAML" in problems[0].message


def test_all_problems_are_reported_at_once(rules_copy):
    edit(rules_copy, ARTICLE, "post_issue_share_capital >= 3000万元", "post_issue_share_captial >= 3000万元")
    edit(rules_copy, "listing-rules/2.1.2.yaml", "market_cap >= 30亿元", "market_cap >= 30亿股")
    problems = problems_of(rules_copy)
    files = {Path(p.file).name for p in problems}
    assert {"2.1.1.yaml", "2.1.2.yaml"} <= files


def test_altered_quote_is_a_citation_problem(rules_copy):
    edit(rules_copy, ARTICLE, "quote: （二）发行后股本总额不低于人民币3000万元；", "quote: （二）发行后股本总额不少于人民币3000万元；")
    problems = check_quotes(load_rulebook(rules_copy))
    assert problems and all(p.rule_id == "listing.2.1.1.2" for p in problems)
    assert "不少于" in problems[0].message


def test_loading_is_deterministic_and_hash_tracks_content(rules_copy):
    first, second = load_rulebook(rules_copy), load_rulebook(rules_copy)
    assert first.sha256 == second.sha256
    edit(rules_copy, "rulebook.yaml", 'version: "', 'version: "x')
    assert load_rulebook(rules_copy).sha256 != first.sha256


def test_rules_lint_command_lists_every_problem_with_file_and_line(rules_copy):
    from click.testing import CliRunner

    from engine.frontends.cli import main

    article = edit(rules_copy, ARTICLE, "post_issue_share_capital >= 3000万元", "post_issue_share_capital >= 3000万股")
    figures = edit(rules_copy, "figures.yaml", "expr: new_shares + first(existing_shares_offered, 0股)",
                   "expr: new_shares + first(existing_shares_offered, public_float_ratio * post_issue_total_shares)")
    edit(rules_copy, "listing-rules/2.1.4.yaml", "  - id: listing.2.1.4.2", "  - id: listing.2.1.4.1")
    result = CliRunner().invoke(main, ["rules", "lint", str(rules_copy)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert any(f"{article}:{line_of(article, '3000万股')}" in line and "cannot compare money with shares" in line
               for line in lines), lines
    assert any(str(figures) in line and "figure public_offering_shares" in line and "cycle" in line
               for line in lines), lines
    assert any("duplicate rule id 'listing.2.1.4.1'" in line for line in lines), lines
    # rules reading the figures in the cycle are not reported again: one root cause, one message
    assert not any("unknown figure" in line for line in lines), lines


def test_rules_lint_reports_altered_quotes(rules_copy):
    from click.testing import CliRunner

    from engine.frontends.cli import main

    edit(rules_copy, ARTICLE, "quote: （二）发行后股本总额不低于人民币3000万元；", "quote: （二）发行后股本总额不少于人民币3000万元；")
    result = CliRunner().invoke(main, ["rules", "lint", str(rules_copy)])
    assert result.exit_code == 2
    assert "rule listing.2.1.1.2" in result.output and "quote not found verbatim" in result.output
