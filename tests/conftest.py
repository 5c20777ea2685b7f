"""Shared fixtures: the bundled rulebook, one evaluator per test session, and a case builder.

`make_case` writes a small, valid case as YAML text (the same path a user's file takes),
with any part overridden, so an article's tests state only the facts they are about.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine import Evaluator, load_case_text, load_rulebook

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "cases"

# A profitable, ordinary issuer at filing that meets every listing condition under 2.1.2（四）.
BASE_CASE: dict[str, Any] = {
    "case_id": "test-case",
    "issuer": {"name": "测试科技股份有限公司", "red_chip": False, "weighted_voting_rights": False,
               "pharmaceutical": False},
    "evaluation": {"date": "2021-06-30", "stage": "filing"},
    "chosen_standard": "2.1.2（四）",
    "offering": {"par_value": "1.00元", "shares_before_issue": "7500万股", "new_shares": "2500万股",
                 "expected_market_cap": "50亿元"},
    "financials": [
        {"period": 2018, "audited": True, "revenue": "30000万元", "net_profit_parent": "3000万元",
         "net_profit_parent_deducted": "2800万元", "rd_investment": "3000万元", "operating_cash_flow": "4000万元"},
        {"period": 2019, "audited": True, "revenue": "35000万元", "net_profit_parent": "4000万元",
         "net_profit_parent_deducted": "3800万元", "rd_investment": "3500万元", "operating_cash_flow": "5000万元"},
        {"period": 2020, "audited": True, "revenue": "40000万元", "net_profit_parent": "5000万元",
         "net_profit_parent_deducted": "4800万元", "rd_investment": "4000万元", "operating_cash_flow": "6000万元"},
    ],
    "attestations": {
        "issuance_conditions_met": {"holds": True, "attested_by": "sponsor",
                                    "evidence": [{"document": "发行保荐书", "page": 12}]},
        "other_listing_conditions_met": {"holds": True, "attested_by": "sponsor",
                                         "evidence": [{"document": "上市保荐书", "page": "八(五)"}]},
    },
}


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `overrides` into a copy of `base`; a value of None deletes the key."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def case_yaml(**overrides: Any) -> str:
    """YAML text of BASE_CASE with `overrides` merged in."""
    return yaml.safe_dump(merge(BASE_CASE, overrides), allow_unicode=True, sort_keys=False)


def pytest_configure(config):
    """The compiled-rule cache of every run the tests start is a fresh directory, never the user's."""
    os.environ["STAR_LISTING_CACHE"] = config._rule_cache = tempfile.mkdtemp(prefix="star-listing-cache-")


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_rule_cache", ""), ignore_errors=True)


@pytest.fixture(scope="session")
def rulebook():
    return load_rulebook()


@pytest.fixture(scope="session")
def evaluator(rulebook):
    with Evaluator(rulebook) as instance:
        yield instance


@pytest.fixture
def evaluate(evaluator):
    """evaluate(**overrides) -> CaseResult for BASE_CASE with overrides (see `merge`)."""

    def run(as_of=None, **overrides: Any):
        return evaluator.evaluate(load_case_text(case_yaml(**overrides), "test-case.yaml"), as_of=as_of)

    return run


def status(result, rule_id: str) -> str:
    """The status value ('pass', 'fail', 'not_applicable', 'undetermined') of one rule."""
    return result.result(rule_id).status.value
