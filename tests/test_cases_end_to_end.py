"""Every bundled case end to end, through the real command line, against figures worked out by hand.

Each case in `cases/` exercises another path of the listing conditions (a standard, a red chip,
weighted voting rights, the 10% float, a float short of 25%, missing facts, a chosen standard that
fails while another holds). The expectations below were computed by hand from the case files
(the arithmetic is in each case file's header), not copied from the engine's output; a case added
to `cases/` without an expectation here fails `test_every_bundled_case_has_an_expectation`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction

import pytest
from click.testing import CliRunner

from conftest import CASES
from engine.frontends.cli import main


@dataclass(frozen=True)
class Expected:
    exit_code: int
    verdict: str
    chosen: str | None
    chosen_status: str
    holding: tuple[str, ...]
    figures: dict[str, Fraction] = field(default_factory=dict)  # in base units: 元, 股, or a ratio
    failing: tuple[str, ...] = ()  # counted rules that fail
    missing: tuple[str, ...] = ()  # facts named as missing by undetermined counted rules
    options: tuple[str, ...] = ()


YI = 100_000_000  # 1亿元 in 元
WAN = 10_000

EXPECTED: dict[str, Expected] = {
    "qingcloud-filing.yaml": Expected(
        0, "eligible", "2.1.2(4)", "pass", ("2.1.2(2)", "2.1.2(4)"),
        {"post_issue_share_capital": Fraction(47_462_175), "public_float_ratio": Fraction(1200, 47462175) * WAN,
         "market_cap": Fraction(30 * YI)}),
    "scitech-2024-revision.yaml": Expected(
        0, "eligible", "2.1.2(1)", "pass", ("2.1.2(1)",), {"post_issue_share_capital": Fraction(10_000 * WAN)},
        options=("--require", "scitech")),
    "std1-profit-two-years.yaml": Expected(
        0, "eligible", "2.1.2(1)", "pass", ("2.1.2(1)",),
        {"post_issue_share_capital": Fraction(8_000 * WAN), "public_float_ratio": Fraction(1, 4),
         "market_cap": Fraction(12 * YI)}),
    "std1-revenue-branch.yaml": Expected(
        0, "eligible", "2.1.2(1)", "pass", ("2.1.2(1)",),
        {"post_issue_share_capital": Fraction(6_000 * WAN), "public_float_ratio": Fraction(1, 4),
         "market_cap": Fraction(10 * YI)}),
    "std2-rd-intensive.yaml": Expected(
        0, "eligible", "2.1.2(2)", "pass", ("2.1.2(2)",),
        {"rd_ratio_3y": Fraction(9_500, 60_000), "market_cap": Fraction(16 * YI),
         "post_issue_share_capital": Fraction(24_000 * WAN)}),
    "std3-cash-flow.yaml": Expected(
        0, "eligible", "2.1.2(3)", "pass", ("2.1.2(3)",),
        {"market_cap": Fraction(22 * YI), "rd_ratio_3y": Fraction(2_000 + 2_400 + 2_900, 21_000 + 26_000 + 32_000)}),
    "std5-biotech.yaml": Expected(
        0, "eligible", "2.1.2(5)", "pass", ("2.1.2(5)",),
        {"market_cap": Fraction(45 * YI), "post_issue_share_capital": Fraction(40_000 * WAN)}),
    "red-chip.yaml": Expected(
        0, "eligible", "2.1.3(2)", "pass", ("2.1.3(2)",),
        {"post_issue_share_capital": Fraction(27_000 * WAN), "public_float_ratio": Fraction(7_000, 27_000)}),
    "weighted-voting-rights.yaml": Expected(
        0, "eligible", "2.1.4(1)", "pass", ("2.1.4(1)", "2.1.4(2)"),
        {"post_issue_share_capital": Fraction(40_500 * WAN), "public_float_ratio": Fraction(4_500, 40_500)}),
    "float-below-25.yaml": Expected(
        1, "not_eligible", "2.1.2(4)", "pass", ("2.1.2(1)", "2.1.2(4)"),
        {"post_issue_share_capital": Fraction(11_900 * WAN), "public_float_ratio": Fraction(2_900, 11_900)},
        failing=("listing.2.1.1.3.float-25",)),
    "missing-facts.yaml": Expected(
        3, "undetermined", "2.1.2(4)", "undetermined", (),
        {"post_issue_share_capital": Fraction(10_000 * WAN)}, missing=("expected_market_cap",)),
    "chosen-standard-fails.yaml": Expected(
        1, "not_eligible", "2.1.2(4)", "fail", ("2.1.2(2)",),
        {"rd_ratio_3y": Fraction(3_300 + 3_960 + 4_620, 20_000 + 24_000 + 28_000), "market_cap": Fraction(32 * YI)},
        failing=("listing.2.1.1.4",)),
    # Screening (no chosen standard): 2.1.1（四） holds because （二） and （四） hold.
    "qingcloud-screening.yaml": Expected(
        0, "eligible", None, "pass", ("2.1.2(2)", "2.1.2(4)"),
        {"post_issue_share_capital": Fraction(47_462_175), "market_cap": Fraction(30 * YI),
         "rd_ratio_3y": Fraction(1_644_860, 8_978_217)}),
    # Filed today: the 2026 上市规则 and the 2023 注册管理办法; 最近一年 is FY2025 (2026H1 is an interim period).
    "filing-2026.yaml": Expected(
        0, "eligible", "2.1.2(4)", "pass", ("2.1.2(4)",),
        {"post_issue_share_capital": Fraction(12_000 * WAN), "public_float_ratio": Fraction(1, 4),
         "market_cap": Fraction(36 * YI), "rd_ratio_3y": Fraction(2_600 + 3_300 + 3_900, 19_000 + 23_000 + 32_000)},
        options=("--require", "issuance")),
    # Real red chips and weighted voting rights (rules/reference/filings.md; arithmetic in each header).
    # SMIC: listed in Hong Kong, US$0.004 par; 2.1.1 by share count (above 4亿股: 10%); route 26号（二）.
    "smic-pricing.yaml": Expected(
        0, "eligible", "证监会公告〔2020〕26号(2)", "pass", ("证监会公告〔2020〕26号(2)",),
        {"market_cap": Fraction("27.46") * 7_136_423_226, "post_issue_total_shares": Fraction(7_136_423_226),
         "public_float_ratio": Fraction(1_685_620_000, 7_136_423_226)}),
    # Ninebot: CDRs 1股/10份 at 18.94元/份, US$0.0001 par; 2.1.1 by 份数 (above 4亿份: 10%); screened.
    "ninebot-cdr-pricing.yaml": Expected(
        0, "eligible", None, "pass", ("2.1.3(1)", "2.1.4(1)"),
        {"market_cap": Fraction("189.40") * 70_409_167, "public_float_ratio": Fraction(7_040_917, 70_409_167)}),
    # UCloud: weighted voting rights, 42,253.2164万元 share capital > 4亿元, so 10%; screened.
    "ucloud-wvr-pricing.yaml": Expected(
        0, "eligible", None, "pass", ("2.1.4(1)",),
        {"post_issue_share_capital": Fraction(422_532_164), "market_cap": Fraction("33.23") * 422_532_164,
         "public_float_ratio": Fraction(58_500_000, 422_532_164)}),
    # Unitree (2026 rules): weighted voting rights, 40,446,434 / 404,464,340 = 10% exactly, on the threshold.
    "unitree-wvr-pricing.yaml": Expected(
        0, "eligible", "2.1.4(1)", "pass", ("2.1.4(1)", "2.1.4(2)"),
        {"post_issue_share_capital": Fraction(404_464_340), "public_float_ratio": Fraction(1, 10),
         "market_cap": Fraction("150.80") * 404_464_340}),
    # Pricing and subscription: market cap = issue price × post-issue total shares (47,462,175 for QingCloud).
    "qingcloud-pricing.yaml": Expected(
        0, "eligible", "2.1.2(4)", "pass", ("2.1.2(2)", "2.1.2(4)"),
        {"market_cap": Fraction("63.70") * 47_462_175, "post_issue_share_capital": Fraction(47_462_175)}),
    "qingcloud-priced-low.yaml": Expected(
        1, "not_eligible", "2.1.2(4)", "fail", ("2.1.2(2)",),
        {"market_cap": Fraction("63.20") * 47_462_175},
        failing=("listing.2.1.1.4", "abort.market-cap")),
    "subscription-offline-shortfall.yaml": Expected(
        1, "not_eligible", "2.1.2(1)", "pass", ("2.1.2(1)",),
        {"market_cap": Fraction(15) * 8_000 * WAN}, failing=("abort.offline-shortfall",)),
}

# Which rule of 2.1.1 sets the float threshold, by post-issue share capital (≤ 4亿元: 25%, above: 10%).
FLOAT_RULE = {"weighted-voting-rights.yaml": "listing.2.1.1.3.float-10",
              "ucloud-wvr-pricing.yaml": "listing.2.1.1.3.float-10",
              "unitree-wvr-pricing.yaml": "listing.2.1.1.3.float-10",
              "red-chip.yaml": "listing.2.1.1.3.red-chip-float-25",          # red chips count shares
              "smic-pricing.yaml": "listing.2.1.1.3.red-chip-float-10",      # 7,136,423,226 > 4亿股
              "ninebot-cdr-pricing.yaml": "listing.2.1.1.3.cdr-float-10"}    # 704,091,670份 > 4亿份


def run(path, *options: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, [str(path), "--format", "json", *options])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, json.loads(result.stdout)


def figure_values(report: dict) -> dict[str, Fraction]:
    """Every figure any rule read, by name, as an exact fraction in base units."""
    values = {}
    for rule in report["rules"]:
        for fig in rule["figures"]:
            if isinstance(fig["value"], dict) and "exact" in fig["value"]:
                values[fig["name"]] = Fraction(fig["value"]["exact"])
    return values


def test_every_bundled_case_has_an_expectation():
    assert sorted(p.name for p in CASES.glob("*.yaml")) == sorted(EXPECTED)


@pytest.fixture(scope="module")
def reports():
    return {name: run(CASES / name, *expected.options) for name, expected in EXPECTED.items()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdict_exit_code_and_standards(name, reports):
    expected = EXPECTED[name]
    code, report = reports[name]
    assert (code, report["verdict"], report["exit_code"]) == (expected.exit_code, expected.verdict, expected.exit_code)
    assert report["chosen_standard"] == expected.chosen
    chosen = [r for r in report["rules"] if r["chosen"]]
    assert [r["standard"] for r in chosen] == ([expected.chosen] if expected.chosen else [])
    group = next(r for r in report["rules"] if r["id"] == "listing.2.1.1.4")
    assert (chosen[0] if chosen else group)["status"] == expected.chosen_status
    assert tuple(report["standards_holding"]) == expected.holding


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_figures_are_exact(name, reports):
    values = figure_values(reports[name][1])
    for figure, value in EXPECTED[name].figures.items():
        assert values.get(figure) == value, f"{name}: {figure}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_failing_and_missing_are_named(name, reports):
    expected = EXPECTED[name]
    report = reports[name][1]
    counted = [r for r in report["rules"] if r["counts_for_verdict"]]
    assert tuple(r["id"] for r in counted if r["status"] == "fail") == expected.failing
    missing = {m for r in counted if r["status"] == "undetermined" for m in r.get("missing", ())}
    assert missing == set(expected.missing)
    if expected.missing:
        assert all(m in report["summary"] for m in expected.missing)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_float_threshold_follows_share_capital(name, reports):
    report = reports[name][1]
    applicable = {r["id"] for r in report["rules"]
                  if r["id"].startswith("listing.2.1.1.3") and r["status"] != "not_applicable"}
    assert applicable == {FLOAT_RULE.get(name, "listing.2.1.1.3.float-25")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_rule_names_status_figures_threshold_and_citation(name, reports):
    for rule in reports[name][1]["rules"]:
        assert rule["status"] in ("pass", "fail", "not_applicable", "not_in_force", "undetermined")
        if rule["version"] is None:  # not in force on the case date: nothing to cite
            continue
        citation = rule["citation"]
        assert citation["instrument"] and citation["article"] and citation["document"] and citation["quote"]
        for comparison in rule["comparisons"]:
            assert comparison["threshold"] is not None or comparison["op"] in ("", "is"), comparison


def test_the_two_standard_one_branches_are_told_apart(reports):
    """Standard 一 holds by two profitable years in one case and by revenue ≥ 1亿元 in the other."""
    def comparisons(name):
        rule = next(r for r in reports[name][1]["rules"] if r["id"] == "listing.2.1.2.1")
        return {c["left"]: c["holds"] for c in rule["comparisons"]}

    by_profit = comparisons("std1-profit-two-years.yaml")
    assert by_profit["net_profit[2020] + net_profit[2019]"] is True and by_profit["revenue[2020]"] is False
    by_revenue = comparisons("std1-revenue-branch.yaml")
    assert by_revenue["net_profit[2019]"] is False and by_revenue["revenue[2020]"] is True


def test_interim_periods_are_never_the_latest_year(reports):
    """std3's 2021 H1 cash flow (−5,000万元) would sink the 3-year sum if it were counted."""
    rule = next(r for r in reports["std3-cash-flow.yaml"][1]["rules"] if r["id"] == "listing.2.1.2.3")
    sums = [c for c in rule["comparisons"] if "operating_cash_flow" in c["left"]]
    assert Fraction(sums[0]["left_value"]["exact"]) == (2_500 + 3_500 + 4_200) * WAN
    assert "2021" not in sums[0]["left"]


def test_attested_judgments_are_reported_with_evidence(reports):
    report = reports["std5-biotech.yaml"][1]
    attested = {a["name"]: a for a in report["attestations"]}
    assert attested["core_product_phase2_approved"]["holds"] is True
    assert any("临床试验" in e for e in attested["core_product_phase2_approved"]["evidence"])
    assert attested["major_business_approved"]["attested_by"].startswith("示例律师事务所")


def test_red_chips_are_judged_on_share_count_and_cdrs_on_their_count(reports):
    """SMIC (US$ par) is judged on 股份总数, Ninebot (CDRs) on 存托凭证总份数; neither on 股本总额 in 元."""
    def rule(name, rule_id):
        return next(r for r in reports[name][1]["rules"] if r["id"] == rule_id)

    smic = rule("smic-pricing.yaml", "listing.2.1.1.2.red-chip")
    assert smic["status"] == "pass" and smic["comparisons"][0]["left"] == "post_issue_total_shares"
    assert rule("smic-pricing.yaml", "listing.2.1.1.2")["status"] == "not_applicable"
    cdr = rule("ninebot-cdr-pricing.yaml", "listing.2.1.1.2.cdr")
    assert cdr["status"] == "pass" and Fraction(cdr["comparisons"][0]["left_value"]["exact"]) == 704_091_670
    route = rule("smic-pricing.yaml", "red-chip-abroad.2")
    assert route["chosen"] and route["citation"]["document"] == "证监会公告〔2020〕26号"


def test_smic_stated_market_cap_agrees_with_the_product():
    result = CliRunner().invoke(main, [str(CASES / "smic-pricing.yaml")])
    assert result.exit_code == 0 and "warning" not in result.stderr


def test_ninebot_coinvestment_in_cdrs_meets_its_tier():
    """281.6366万份 at 10份/股 is 281,636.6 shares: 4% of 7,040,917 (281,636 whole shares), the 10亿–20亿元 tier."""
    code, report = run(CASES / "ninebot-cdr-pricing.yaml", "--require", "offering")
    coinvest = next(r for r in report["rules"] if r["id"] == "offering.coinvest")
    assert coinvest["status"] == "pass"
    assert Fraction(coinvest["comparisons"][0]["left_value"]["exact"]) == Fraction("281636.6")


def test_unitree_net_profit_stated_only_as_the_lower_figure(reports, tmp_path):
    """Unitree's 上市公告书 states 2025 net profit only as 扣非前后孰低 (27,821.05万元): that is the net_profit
    figure, so the issuer is not 上市时未盈利 (no U mark), as history has it; without it, undetermined."""
    report = reports["unitree-wvr-pricing.yaml"][1]
    u_mark = next(r for r in report["rules"] if r["id"] == "consequence.u-mark")
    assert u_mark["status"] == "fail"  # a consequence that does not apply
    assert next(f for f in u_mark["figures"] if f["name"] == "listed_unprofitable")["value"] is False
    text = (CASES / "unitree-wvr-pricing.yaml").read_text(encoding="utf-8")
    without = tmp_path / "unitree-without-lower.yaml"
    without.write_text(text.replace("    net_profit_lower: 27,821.05万元", ""), encoding="utf-8")
    _, bare = run(without)
    assert next(r for r in bare["rules"] if r["id"] == "consequence.u-mark")["status"] == "undetermined"
