"""原则上 limits are presumptions, not bars (issue 11, point 6): a guideline rule that is exceeded is
reported as exceeding the guideline, with its article, and never fails a verdict — not even that of
the part it sits in when the part is required."""

from __future__ import annotations

from conftest import case_yaml
from engine import load_case_text
from engine.output.report import format_json, format_text
from engine.decide.results import Status

PRICED = {"evaluation": {"date": "2021-06-30", "stage": "pricing"},
          "offering": {"shares_before_issue": "30000万股", "new_shares": "10000万股", "issue_price": "20元/股",
                       "expected_market_cap": None}}


def _evaluate(evaluator, strategic):
    loaded = load_case_text(case_yaml(**PRICED, placement={"strategic_shares": strategic}), "c.yaml")
    return evaluator.evaluate(loaded, require=("offering",))


def _rule(result):
    return next(r for r in result.results if r.rule_id == "offering.strategic-shares-30")


def test_exceeding_a_guideline_is_reported_not_failed(evaluator):
    result = _evaluate(evaluator, "5000万股")  # 50% of a 1亿股 offering, as an exchange-approved plan may allow
    rule = _rule(result)
    assert rule.status == Status.failed and rule.guideline and rule.reason.startswith("exceeds the guideline")
    offering = next(p for p in result.parts if p.part == "offering")
    assert "strategic-shares-30" not in offering.summary
    assert not result.counts_for_verdict(rule)
    text = format_text(result)
    assert "[EXCEEDS GUIDELINE] offering.strategic-shares-30" in text and "原则上不超过公开发行股票数量的30%" in text
    assert '"severity": "guideline"' in format_json(result)


def test_within_the_guideline_on_and_below_30_percent(evaluator):
    for shares in ("3000万股", "2999万股"):
        rule = _rule(_evaluate(evaluator, shares))
        assert rule.status == Status.passed and rule.guideline


def test_a_hard_limit_still_fails(evaluator):
    """The 20% limit of offerings under 1亿股 has no 原则上: exceeding it fails."""
    loaded = load_case_text(case_yaml(**dict(PRICED, offering=dict(PRICED["offering"], new_shares="5000万股")),
                                      placement={"strategic_shares": "1001万股"}), "c.yaml")
    result = evaluator.evaluate(loaded, require=("offering",))
    rule = next(r for r in result.results if r.rule_id == "offering.strategic-shares-20")
    assert rule.status == Status.failed and not rule.guideline and result.counts_for_verdict(rule)
