"""Pricing: the market cap at the issue price, break-even prices from the rules' own thresholds,
the issuance-abort rule, and the price sweep (check-listing price)."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest
from click.testing import CliRunner

from conftest import CASES
from engine import load_case
from engine.frontends.cli import main
from engine.decide.pricing import at_price, break_even_prices, evaluate_priced, price_steps
from engine.decide.results import Status

QINGCLOUD = CASES / "qingcloud-pricing.yaml"
SHARES_AFTER = 47_462_175


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def priced(evaluator):
    return evaluate_priced(evaluator, load_case(QINGCLOUD))


def by_standard(result):
    return {b.standard: b for b in result.break_even}


def test_market_cap_at_the_issue_price_is_exact(priced):
    chosen = priced.result("listing.2.1.2.4")
    cap = next(c for c in chosen.comparisons if c.left == "market_cap")
    assert cap.left_value.value == Fraction("3023340547.50")
    assert cap.margin.value == Fraction("23340547.50")
    assert priced.result("abort.market-cap").status == Status.passed


def test_break_even_for_30_yi_is_the_lowest_fen(priced):
    item = by_standard(priced)["2.1.2(4)"]
    assert item.outcome == "price" and item.chosen
    assert item.price.value == Fraction("63.21")
    # worked by hand: 63.20 × 47,462,175 = 2,999,609,460 < 3,000,000,000 ≤ 63.21 × 47,462,175
    assert Fraction("63.20") * SHARES_AFTER < 3_000_000_000 <= Fraction("63.21") * SHARES_AFTER
    assert item.market_cap.value == Fraction("63.21") * SHARES_AFTER


def test_break_even_for_15_yi_and_standards_that_never_hold(priced):
    items = by_standard(priced)
    assert items["2.1.2(2)"].price.value == Fraction("31.61")  # 15亿 / 47,462,175 = 31.6040…
    assert Fraction("31.60") * SHARES_AFTER < 1_500_000_000 <= Fraction("31.61") * SHARES_AFTER
    assert items["2.1.2(1)"].outcome == "no_price"  # loss-making: no price makes it profitable
    assert items["2.1.2(3)"].outcome == "no_price"  # negative operating cash flow
    assert items["2.1.2(5)"].outcome == "undetermined"  # judgments not attested
    assert {items[s].outcome for s in ("2.1.3(1)", "2.1.3(2)", "2.1.4(1)", "2.1.4(2)")} == {"not_applicable"}


def test_break_even_agrees_with_the_engine_one_fen_either_side(evaluator, priced):
    loaded = load_case(QINGCLOUD)
    for item in priced.break_even:
        if item.outcome != "price":
            continue
        price = Decimal(item.price.value.numerator) / Decimal(item.price.value.denominator)
        at = evaluator.evaluate(at_price(loaded, price))
        below = evaluator.evaluate(at_price(loaded, price - Decimal("0.01")))
        assert at.result(item.rule_id).status == Status.passed, item.standard
        assert below.result(item.rule_id).status == Status.failed, item.standard


def test_break_even_follows_the_rules_thresholds(evaluator, rulebook):
    """A rule set with another threshold gives another break-even price: nothing is hard-coded."""
    loaded = load_case(QINGCLOUD)
    rule = rulebook.rules["listing.2.1.2.4"]
    version = rule.version_on(loaded.case.evaluation.date)
    from engine.rules.parser import parse

    altered = type(version)(version.effective_from, version.effective_to, version.citation, version.applies_when,
                            version.applies_when_text, parse("market_cap >= 31亿元 and latest(revenue) >= 3亿元"),
                            "market_cap >= 31亿元 and latest(revenue) >= 3亿元")
    original = rule.versions
    object.__setattr__(rule, "versions", tuple(altered if v is version else v for v in original))
    try:
        items = {b.standard: b for b in break_even_prices(evaluator, loaded, loaded.case.evaluation.date)}
    finally:
        object.__setattr__(rule, "versions", original)
    assert items["2.1.2(4)"].price.value == Fraction("65.32")  # 31亿 / 47,462,175 = 65.3151…
    assert Fraction("65.31") * SHARES_AFTER < 3_100_000_000 <= Fraction("65.32") * SHARES_AFTER


def test_filing_reports_no_break_even(evaluator):
    result = evaluate_priced(evaluator, load_case(CASES / "qingcloud-filing.yaml"))
    assert result.break_even == ()


def test_one_fen_below_break_even_the_abort_rule_fires():
    result = invoke(CASES / "qingcloud-priced-low.yaml", "--format", "json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1
    abort = next(r for r in data["rules"] if r["id"] == "abort.market-cap")
    assert abort["status"] == "fail" and abort["counts_for_verdict"]
    assert abort["citation"]["article"] == "第十一条" and abort["citation"]["document"] == "上证发〔2019〕21号"
    assert "应当中止发行" in abort["citation"]["quote"]


def test_reports_show_break_even_in_every_format():
    text = invoke(QINGCLOUD).stdout
    assert "63.21元/股" in text and "3,023,340,547.50元" in text and "+23,340,547.50元" in text
    data = json.loads(invoke(QINGCLOUD, "--format", "json").stdout)
    four = next(b for b in data["break_even"] if b["standard"] == "2.1.2(4)")
    assert four["price"]["exact"] == "63.21" and four["chosen"]
    assert "63.21元/股" in invoke(QINGCLOUD, "--format", "markdown").stdout
    assert "63.21元/股" in invoke(QINGCLOUD, "--format", "html").stdout


def test_price_sweep_marks_the_abort_boundary():
    result = invoke("price", QINGCLOUD, "--from", "63.19", "--to", "63.22", "--step", "0.01", "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["price"] for r in rows] == ["63.19", "63.20", "63.21", "63.22"]
    assert [r["aborts"] for r in rows] == [True, True, False, False]
    assert rows[2]["market_cap"]["exact"] == "3000084081.75"
    assert rows[0]["standards_holding"] == ["2.1.2(2)"]
    text = invoke("price", QINGCLOUD, "--from", "63.20", "--to", "63.21", "--step", "0.01").stdout
    assert "ABORT" in text and "proceeds" in text and "3,000,084,081.75元" in text


def test_price_steps_are_exact_decimals():
    assert price_steps(Decimal("0.1"), Decimal("0.3"), Decimal("0.1")) == [Decimal("0.1"), Decimal("0.2"), Decimal("0.3")]
    with pytest.raises(ValueError):
        price_steps(Decimal(1), Decimal(2), Decimal(0))


@pytest.mark.parametrize("args, message", [
    (["--from", "64", "--to", "63", "--step", "0.01"], "--to must not be below --from"),
    (["--from", "abc", "--to", "63", "--step", "0.01"], "is not a price"),
    (["--from", "-1", "--to", "63", "--step", "0.01"], "is not a positive price"),
    (["--from", "1", "--to", "1000", "--step", "0.01"], "choose a larger step"),
])
def test_price_sweep_usage_errors(args, message):
    result = invoke("price", QINGCLOUD, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_price_sweep_bad_case_file_is_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("issuer: [", encoding="utf-8")
    result = invoke("price", bad, "--from", "1", "--to", "2", "--step", "1")
    assert result.exit_code == 2 and "bad.yaml" in result.output


def _priced_cases(tmp_path):
    from engine.input.generate import generate

    loaded = []
    for path in sorted(CASES.glob("*.yaml")) + generate(120, tmp_path, seed=3):
        try:
            case = load_case(path)
        except Exception:  # noqa: BLE001 - the generator's deliberately bad files
            continue
        if case.case.evaluation.stage.value != "filing":
            loaded.append(case)
    return loaded


def test_break_even_in_closed_form_needs_at_most_three_exact_evaluations(evaluator, tmp_path, monkeypatch):
    """Counted at the one function every break-even evaluation goes through; and the closed form
    finds exactly what bisection over every fen finds."""
    import engine.decide.pricing as pricing

    cases = _priced_cases(tmp_path)
    assert len(cases) >= 20
    calls = []
    original = pricing.exact_status
    monkeypatch.setattr(pricing, "exact_status", lambda *a: calls.append(1) or original(*a))
    outcomes = set()
    for loaded in cases:
        on = loaded.case.evaluation.date
        for rule in evaluator.rulebook.members(pricing.STANDARDS_GROUP):
            version = rule.version_on(on)
            if version is None or rule.kind != "check":
                continue
            priced = pricing._PricedFacts(evaluator, loaded, on)
            calls.clear()
            fast = pricing._break_even(priced, rule, version, False)
            assert len(calls) <= 3, (loaded.case_id, rule.id, len(calls))
            assert fast == pricing._by_bisection(priced, rule, version, False), (loaded.case_id, rule.id)
            outcomes.add(fast.outcome)
    assert outcomes == {"price", "no_price", "not_applicable", "undetermined"}


def test_a_rule_the_closed_form_cannot_read_falls_back_to_bisection(evaluator):
    """A linear figure gets the candidate (market_cap + market_cap is still price × 2 × shares);
    an affine one, or a comparison under `not`, gets none, and bisection finds the same fen."""
    from engine.rules.parser import parse
    from engine.decide.pricing import _break_even, _closed_form_candidate, _PricedFacts

    loaded = load_case(QINGCLOUD)
    priced = _PricedFacts(evaluator, loaded, loaded.case.evaluation.date)
    rule = evaluator.rulebook.rules["listing.2.1.2.4"]
    version = rule.version_on(loaded.case.evaluation.date)
    assert _closed_form_candidate(priced, version) == 6321
    assert _closed_form_candidate(priced, replace(version, condition=parse("market_cap + market_cap >= 60亿元"))) == 6321
    for text in ("market_cap - 1亿元 >= 29亿元", "not market_cap < 30亿元"):
        other = replace(version, condition=parse(text))
        assert _closed_form_candidate(priced, other) is None
        assert _break_even(priced, rule, other, True).price.value == Fraction("63.21")
