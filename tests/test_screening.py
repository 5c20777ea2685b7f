"""Screening: no chosen standard. 上市规则 2.1.1（四） then holds when at least one applicable
standard holds, fails when every applicable one fails, and is undetermined otherwise; the
report says no standard is chosen and lists the standards that hold with their margins."""

from __future__ import annotations

from engine.decide.results import Status


def _rule(result, rule_id):
    return next(r for r in result.results if r.rule_id == rule_id)


def test_one_standard_holding_is_enough(evaluate):
    # BASE_CASE: market cap 50亿元, revenue 4亿元, profitable; （三）'s cash flow holds too.
    result = evaluate(chosen_standard=None)
    group = _rule(result, "listing.2.1.1.4")
    assert group.status == Status.passed and "no standard is chosen" in group.reason
    assert result.verdict == "eligible"
    assert "2.1.2(4)" in group.reason and any(c.left == "market_cap" for c in group.comparisons)
    assert not any(r.chosen for r in result.results)


def test_every_applicable_standard_failing_fails(evaluate):
    # 9.99亿元 is below every market-cap floor (10亿元 is the lowest), so all five fail (standard 五
    # fails on its market cap although its judgments are not attested: false and unknown is false).
    result = evaluate(chosen_standard=None, offering={"expected_market_cap": "9.99亿元"})
    group = _rule(result, "listing.2.1.1.4")
    assert group.status == Status.failed and "every applicable standard fails" in group.reason
    assert result.verdict == "not_eligible"


def test_none_holding_and_one_open_is_undetermined(evaluate):
    # No expected market cap: every standard is open; at exactly 10亿元 standard 一 holds.
    result = evaluate(chosen_standard=None, offering={"expected_market_cap": None})
    group = _rule(result, "listing.2.1.1.4")
    assert group.status == Status.undetermined and "2.1.2(5)" in group.reason
    assert "expected_market_cap" in group.missing and result.verdict == "undetermined"
    on = _rule(evaluate(chosen_standard=None, offering={"expected_market_cap": "10亿元"}), "listing.2.1.1.4")
    assert on.status == Status.passed and on.reason.endswith("standards that hold: 2.1.2(1)")


def test_text_report_says_screening(evaluator):
    from conftest import CASES
    from engine import load_case
    from engine.output.report import format_text

    text = format_text(evaluator.evaluate(load_case(CASES / "qingcloud-screening.yaml")))
    assert "Chosen standard: none (screening" in text
    assert "standards that hold: 2.1.2(2), 2.1.2(4)" in text


def test_at_pricing_screening_gives_every_break_even_and_the_abort_reads_any_standard(evaluator):
    """Priced without a chosen standard: break-even prices for every standard; the market-cap abort
    fires only when no standard holds at the price (1元 × 1亿 shares = 1亿元 < every floor)."""
    from conftest import case_yaml
    from engine import load_case_text
    from engine.decide.pricing import evaluate_priced

    priced = {"evaluation": {"date": "2021-06-30", "stage": "pricing"}, "chosen_standard": None}
    ok = evaluate_priced(evaluator, load_case_text(case_yaml(**priced, offering={
        "issue_price": "40元/股", "expected_market_cap": None})))
    assert _rule(ok, "abort.market-cap").status == Status.passed
    labels = {b.standard for b in ok.break_even}
    assert {"2.1.2(1)", "2.1.2(4)"} <= labels and not any(b.chosen for b in ok.break_even)
    four = next(b for b in ok.break_even if b.standard == "2.1.2(4)")
    assert four.outcome == "price" and four.price.value == 30  # 30亿元 / 1亿 shares
    low = evaluate_priced(evaluator, load_case_text(case_yaml(**priced, offering={
        "issue_price": "1元/股", "expected_market_cap": None})))
    assert _rule(low, "abort.market-cap").status == Status.failed and low.verdict == "not_eligible"


def test_a_standard_not_yet_in_force_is_not_counted_among_the_failing(evaluate):
    # Before 2020-04-30 the listed-abroad red-chip routes (证监会公告〔2020〕26号) are not in force: when
    # every applicable standard fails, they are not named among the failing ones.
    result = evaluate(chosen_standard=None, evaluation={"date": "2020-03-31"},
                      offering={"expected_market_cap": "9.99亿元"})
    group = _rule(result, "listing.2.1.1.4")
    assert _rule(result, "red-chip-abroad.1").status == Status.not_in_force
    assert group.status == Status.failed and "every applicable standard fails" in group.reason
    assert "证监会公告〔2020〕26号" not in group.reason and "2.1.2(1)" in group.reason
