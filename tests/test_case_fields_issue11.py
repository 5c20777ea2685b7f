"""Case fields for red chips, CDRs and figures as filings state them (issue 11): foreign par
values, depositary receipts in 份, 孰低-only and consolidated net profit, stated R&D ratio and
stated market cap (cross-checked to the document's rounding). Every field is in the JSON Schema."""

from __future__ import annotations

from fractions import Fraction

import pytest

from conftest import case_yaml
from engine import load_case_text
from engine.input.casefacts import case_facts
from engine.input.caseload import case_json_schema, stated_rounding
from engine.common.errors import CaseError

NINEBOT_CDR = {"cdrs_per_share": "10份/股", "new_cdrs": "70,409,170份", "cdrs_after_issue": "704,091,670份",
               "price_per_cdr": "18.94元/份"}


def _load(**overrides):
    return load_case_text(case_yaml(**overrides), "case.yaml")


def _problem(**overrides):
    with pytest.raises(CaseError) as err:
        _load(**overrides)
    [problem] = err.value.problems
    return problem


@pytest.mark.parametrize("text, amount, currency", [("0.004美元", "0.004", "USD"), ("US$0.004", "0.004", "USD"),
                                                    ("HK$1", "1", "HKD"), ("1.00港元", "1.00", "HKD")])
def test_a_foreign_par_value_is_kept_in_its_currency(text, amount, currency):
    facts = case_facts(_load(offering={"par_value": text}).case).scalars
    assert "par_value" not in facts and facts["par_value_currency"] == currency  # no FX: share capital in 元 is missing
    assert str(_load(offering={"par_value": text}).case.offering.par_value.amount) == amount


def test_a_par_value_as_amount_and_currency():
    par = _load(offering={"par_value": {"amount": "0.0001", "currency": "USD"}}).case.offering.par_value
    assert par.currency == "USD"
    problem = _problem(offering={"par_value": {"amount": "0.0001", "currency": "usd"}})
    assert problem.field == "offering.par_value"


def test_a_rmb_par_value_reads_as_before():
    facts = case_facts(_load().case).scalars
    assert facts["par_value"].value == 1 and facts["par_value_currency"] == "CNY"


def test_cdr_figures_and_the_price_per_share():
    case = _load(offering={"par_value": "0.0001美元", "shares_before_issue": "63,368,250股", "new_shares": "7,040,917股",
                           "depositary_receipts": NINEBOT_CDR}).case
    facts = case_facts(case).scalars
    assert facts["depositary_receipts"] is True
    assert facts["cdrs_after_issue"].value == 704_091_670 and facts["new_cdrs"].value == 70_409_170
    assert facts["issue_price"].value == Fraction("189.40")  # 18.94元/份 × 10份/股


def test_shares_per_cdr_is_the_same_ratio():
    cdr = dict(NINEBOT_CDR, cdrs_per_share=None, shares_per_cdr="0.1股/份")
    cdr = {k: v for k, v in cdr.items() if v is not None}
    case = _load(offering={"shares_before_issue": "63,368,250股", "new_shares": "7,040,917股",
                           "depositary_receipts": cdr}).case
    assert case.offering.depositary_receipts.ratio == 10


def test_cdr_counts_must_agree_with_the_shares():
    problem = _problem(offering={"new_shares": "7,040,918股", "depositary_receipts": NINEBOT_CDR})
    assert problem.field == "offering" and "new_cdrs" in problem.message
    problem = _problem(offering={"depositary_receipts": {"new_cdrs": "1份"}})
    assert "exactly one of cdrs_per_share" in problem.message
    problem = _problem(offering={"depositary_receipts": dict(NINEBOT_CDR, cdrs_after_issue="0.5份")})
    assert "must be whole" in problem.message


def test_shares_and_receipts_are_never_mixed():
    problem = _problem(offering={"depositary_receipts": dict(NINEBOT_CDR, cdrs_after_issue="704,091,670股")})
    assert "receipts" in problem.message


def test_stated_market_cap_agreeing_to_its_rounding_is_quiet_and_beyond_it_is_warned():
    smic = {"issue_price": "27.46元/股", "shares_before_issue": "5,450,803,226股", "new_shares": "1,685,620,000股"}
    assert not _load(offering=smic, stated={"market_cap_at_issue_price": "1,959.66亿元"}).warnings
    [warning] = _load(offering=smic, stated={"market_cap_at_issue_price": "1,959.67亿元"}).warnings
    assert warning.field == "stated.market_cap_at_issue_price" and warning.line is not None


def test_stated_rounding_is_half_the_last_digit():
    assert stated_rounding(Fraction(195_966 * 10**6)) == 500_000      # 1,959.66亿元: ±0.005亿元
    assert stated_rounding(Fraction(3 * 10**9)) == 5 * 10**8          # 30亿元: ±5亿元
    assert stated_rounding(Fraction("3023340547.50")) == Fraction(5, 100)


def test_net_profit_shapes_and_stated_ratio_are_facts():
    facts = case_facts(_load(financials=[{"period": 2020, "audited": True, "revenue": "3亿元",
                                          "net_profit_lower": "-1.2亿元", "net_profit_consolidated": "-1亿元"}],
                             stated={"rd_ratio_3y": "18.32%"}).case)
    assert facts.years[2020]["net_profit_lower"].value == -120_000_000
    assert facts.years[2020]["net_profit_consolidated"].value == -100_000_000
    assert facts.scalars["stated_rd_ratio_3y"].value == Fraction(1832, 10_000)


def test_every_new_field_is_in_the_case_schema():
    schema = case_json_schema()
    text = str(schema)
    for name in ("depositary_receipts", "cdrs_per_share", "shares_per_cdr", "new_cdrs", "cdrs_after_issue",
                 "price_per_cdr", "net_profit_lower", "net_profit_consolidated", "net_profit_consolidated_deducted",
                 "rd_ratio_3y", "market_cap_at_issue_price", "stated", "ratio", "currency"):
        assert f"'{name}'" in text, name


def test_a_placement_stated_in_cdrs_is_read_as_underlying_shares():
    case = _load(offering={"shares_before_issue": "63,368,250股", "new_shares": "7,040,917股",
                           "depositary_receipts": NINEBOT_CDR},
                 placement={"sponsor_coinvestment_shares": "281.6366万份"}).case
    assert case.placement.sponsor_coinvestment_shares.value == Fraction("281636.6")  # 2,816,366份 ÷ 10


def test_a_placement_in_cdrs_needs_the_ratio():
    problem = _problem(placement={"sponsor_coinvestment_shares": "281.6366万份"})
    assert problem.field == "placement.sponsor_coinvestment_shares" and "cdrs_per_share" in problem.message
    problem = _problem(offering={"depositary_receipts": NINEBOT_CDR, "shares_before_issue": "63,368,250股",
                                 "new_shares": "7,040,917股"}, placement={"strategic_shares": "0.5份"})
    assert "must be whole" in problem.message


@pytest.mark.parametrize("currency", ["USD\n", "US", "USDX", "usd"])
def test_a_currency_is_exactly_three_capitals(currency):
    """The models use Python's `re`, whose `$` alone would let a final newline through."""
    assert _problem(offering={"par_value": {"amount": "0.0001", "currency": currency}}).field == "offering.par_value"


@pytest.mark.parametrize("case_id, accepted", [("a" * 128, True), ("a" * 129, False), ("qingcloud-2020.v1", True),
                                               ("abc\n", False), ("abc\ndef", False), ("-abc", False), ("青云", True)])
def test_a_case_id_is_one_line_of_word_characters(case_id, accepted):
    if accepted:
        assert _load(case_id=case_id).case.case_id == case_id
    else:
        assert _problem(case_id=case_id).field == "case_id"
