"""Synthetic case files for tests and benchmarks: reproducible for a seed, covering every path.

Each generated case is one of a set of profiles (the five standards of 2.1.2, a red chip, weighted
voting rights, a priced case, a subscription case, a small float, missing facts, a figure sitting
on a threshold) with figures drawn around the thresholds, so a batch exercises pass, fail and
undetermined on every rule. About one case in fifty is deliberately bad input (an amount without
its unit, an unknown field, malformed YAML) to exercise error rows.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Callable

import yaml

PROFILES = ("standard-1", "standard-2", "standard-3", "standard-4", "standard-5", "red-chip",
            "weighted-voting-rights", "pricing", "subscription", "small-float", "missing-facts", "boundary")
BAD_KINDS = ("amount-without-unit", "unknown-field", "malformed-yaml", "negative-shares")
BAD_SHARE = 50  # one case in BAD_SHARE is bad input


def _wan(value: float) -> str:
    return f"{value:,.2f}万元"


def _years(rng: random.Random, last: int, revenue: float, growth: float, margin: float, rd: float,
           cash: float) -> list[dict[str, Any]]:
    """Three audited fiscal years ending with `last`, revenue growing by `growth` a year."""
    out = []
    for k, year in enumerate(range(last - 2, last + 1)):
        rev = revenue / (1 + growth) ** (2 - k)
        profit = rev * margin
        out.append({"period": year, "audited": True, "revenue": _wan(rev),
                    "net_profit_parent": _wan(profit * 1.05), "net_profit_parent_deducted": _wan(profit),
                    "rd_investment": _wan(rev * rd), "operating_cash_flow": _wan(cash / 3 * rng.uniform(0.8, 1.2))})
    return out


def _attest(*names: str, holds: bool = True) -> dict[str, Any]:
    return {n: {"holds": holds, "attested_by": "示例证券 (sponsor)", "evidence": [{"document": "发行保荐书", "page": 10}]}
            for n in names}


def make_case(index: int, rng: random.Random) -> dict[str, Any]:
    """One synthetic case (a dict ready for YAML), its profile chosen by index."""
    profile = PROFILES[index % len(PROFILES)]
    year = rng.choice((2019, 2020, 2021, 2022, 2023))
    date = f"{year + 1}-{rng.randint(3, 11):02d}-{rng.randint(1, 28):02d}"
    shares_before = rng.choice((4500, 6000, 7500, 9000, 12000, 30000))
    new_shares = round(shares_before / 3 * rng.uniform(0.9, 1.1))
    cap = rng.uniform(8, 60)
    case: dict[str, Any] = {
        "case_id": f"synthetic-{index:06d}-{profile}",
        "issuer": {"name": f"合成科技{index}股份有限公司", "red_chip": False, "weighted_voting_rights": False,
                   "pharmaceutical": False, "incorporated_on": f"{year - 8}-06-01"},
        "evaluation": {"date": date, "stage": "filing"},
        "offering": {"par_value": "1.00元", "shares_before_issue": f"{shares_before:,}万股",
                     "new_shares": f"{new_shares:,}万股", "expected_market_cap": f"{cap:.2f}亿元"},
        "attestations": _attest("issuance_conditions_met", "other_listing_conditions_met"),
        "sponsor": {"affiliates_holding": f"{rng.uniform(0, 10):.2f}%", "issuer_holding_in_sponsor": "0%",
                    "joint_unaffiliated_sponsor": False},
    }
    revenue = rng.uniform(5000, 80000)
    margin = rng.uniform(-0.3, 0.25)
    financials = _years(rng, year, revenue, rng.uniform(-0.1, 0.5), margin, rng.uniform(0.03, 0.3),
                        rng.uniform(-20000, 30000))
    standard = "2.1.2（四）"
    if profile == "standard-1":
        standard = "2.1.2（一）"
    elif profile == "standard-2":
        standard = "2.1.2（二）"
    elif profile == "standard-3":
        standard = "2.1.2（三）"
    elif profile == "standard-5":
        standard = "2.1.2（五）"
        case["issuer"]["pharmaceutical"] = True
        case["attestations"].update(_attest("major_business_approved", "large_market_space",
                                            "staged_results_achieved", "core_product_phase2_approved",
                                            holds=rng.random() > 0.2))
    elif profile == "red-chip":
        standard = rng.choice(("2.1.3（一）", "2.1.3（二）"))
        case["issuer"].update(red_chip=True, listed_abroad=False)
        case["attestations"].update(_attest("red_chip_innovation_profile"))
        case["offering"]["expected_market_cap"] = f"{rng.uniform(40, 150):.2f}亿元"
    elif profile == "weighted-voting-rights":
        standard = rng.choice(("2.1.4（一）", "2.1.4（二）"))
        case["issuer"]["weighted_voting_rights"] = True
        case["offering"]["expected_market_cap"] = f"{rng.uniform(40, 150):.2f}亿元"
    elif profile in ("pricing", "subscription"):
        case["evaluation"]["stage"] = profile
        price = cap * 1e8 / ((shares_before + new_shares) * 1e4)
        case["offering"]["issue_price"] = f"{price:.2f}元/股"
        public = new_shares * 10_000
        strategic = public // 20
        case["placement"] = {"strategic_investors": rng.randint(1, 12), "strategic_shares": f"{strategic:,}股",
                             "offline_initial_shares": f"{int((public - strategic) * rng.uniform(0.65, 0.85)):,}股",
                             "sponsor_coinvestment_shares": f"{strategic:,}股"}
        if profile == "subscription":
            initial = int((public - strategic) * 0.8)
            case["subscription"] = {"offline_subscribed_shares": f"{int(initial * rng.uniform(0.95, 50)):,}股",
                                    "online_subscription_multiple": f"{rng.uniform(10, 4000):.2f}倍",
                                    "clawback_shares": f"{int((public - strategic) * 0.1):,}股",
                                    "paid_shares": f"{int(public * rng.uniform(0.65, 1)):,}股",
                                    "sponsor_coinvestment_done": rng.random() > 0.05}
    elif profile == "small-float":
        case["offering"]["new_shares"] = f"{round(shares_before * rng.uniform(0.2, 0.34)):,}万股"
    elif profile == "missing-facts":
        del case["offering"]["expected_market_cap"]
        financials[0].pop("operating_cash_flow")
    elif profile == "boundary":
        case["offering"]["new_shares"] = f"{shares_before // 3:,}万股"  # float exactly 25%
        case["offering"]["expected_market_cap"] = "30亿元"  # on the 30亿元 threshold
        financials[-1]["revenue"] = "30,000.00万元"  # on the 3亿元 threshold
    case["chosen_standard"] = standard
    case["financials"] = financials
    return case


def _bad(text: str, kind: str) -> str:
    if kind == "amount-without-unit":
        return text.replace("expected_market_cap: ", "expected_market_cap: 30 # ", 1).replace(
            "shares_before_issue: ", "shares_before_issue: 4500 # ", 1)
    if kind == "unknown-field":
        return text.replace("offering:\n", "offering:\n  expected_marketcap: 30亿元\n", 1)
    if kind == "malformed-yaml":
        return text.replace("issuer:\n", "issuer: [\n", 1)
    return text.replace("new_shares: ", "new_shares: -", 1)


def case_text(index: int, seed: int) -> str:
    """The YAML text of case `index` for `seed` (the same every time)."""
    rng = random.Random(seed * 1_000_003 + index)
    text = yaml.safe_dump(make_case(index, rng), allow_unicode=True, sort_keys=False, width=200)
    if index % BAD_SHARE == BAD_SHARE - 1:
        text = _bad(text, BAD_KINDS[(index // BAD_SHARE) % len(BAD_KINDS)])
    return text


def generate(count: int, directory: Path, seed: int = 0, progress: Callable[[int], None] | None = None) -> list[Path]:
    """Write `count` case files into `directory` (created if needed); return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = directory / f"case-{index:06d}.yaml"
        path.write_text(case_text(index, seed), encoding="utf-8")
        paths.append(path)
        if progress:
            progress(1)
    return paths
