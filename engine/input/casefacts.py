"""The facts a case provides to rule expressions: the vocabulary (`INPUT_FACTS`) and a validated case
flattened into it (`case_facts`). A fact the case does not state is absent, never zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .case import Attestation, Case, FinancialPeriod, ForeignParValue, Issuer, Offering, Placement, Stated, Subscription
from .units import MONEY, PRICE, RATIO, RECEIPT_PRICE, RECEIPTS, RECEIPTS_PER_SHARE, SHARES, Dim, Quantity

# ---------------------------------------------------------------------------------
# The facts a case provides to rule expressions


@dataclass(frozen=True)
class FactSpec:
    """One name the rule expressions may read from a case."""

    name: str
    kind: str  # "quantity", "bool", "text", "date"
    dim: Dim | None = None
    per_year: bool = False
    description: str = ""
    default: Any = None  # the value when nothing is stated (only for flags whose absence means "no")


def _offering_fact(field_name: str, dim: Dim) -> FactSpec:
    return FactSpec(field_name, "quantity", dim, description=Offering.model_fields[field_name].description or "")


PER_YEAR_FIELDS = ("revenue", "net_profit_parent", "net_profit_parent_deducted", "net_profit_lower",
                   "net_profit_consolidated", "net_profit_consolidated_deducted", "rd_investment", "operating_cash_flow")

INPUT_FACTS: dict[str, FactSpec] = {
    spec.name: spec
    for spec in (
        FactSpec("stage", "text", description="filing, pricing or subscription"),
        FactSpec("evaluation_date", "date", description="The case's date"),
        FactSpec("latest_period_end", "date",
                 description="End of the latest financial period stated (fiscal year or interim) before the case date"),
        FactSpec("incorporated_on", "date", description=Issuer.model_fields["incorporated_on"].description or ""),
        FactSpec("joint_stock_since", "date", description=Issuer.model_fields["joint_stock_since"].description or ""),
        FactSpec("converted_at_book_value", "bool",
                 description=Issuer.model_fields["converted_at_book_value"].description or ""),
        FactSpec("red_chip", "bool", description="红筹企业 (not stated: not a red chip)", default=False),
        FactSpec("weighted_voting_rights", "bool", description="表决权差异安排"),
        FactSpec("listed_abroad", "bool", description="Already listed abroad"),
        FactSpec("pharmaceutical", "bool", description="医药行业企业"),
        FactSpec("chosen_standard", "text", description="The standard the issuer chose"),
        _offering_fact("par_value", PRICE),
        _offering_fact("shares_before_issue", SHARES),
        _offering_fact("new_shares", SHARES),
        _offering_fact("existing_shares_offered", SHARES),
        _offering_fact("over_allotment_shares", SHARES),
        _offering_fact("expected_market_cap", MONEY),
        _offering_fact("issue_price", PRICE),
        FactSpec("price_range_low", "quantity", PRICE, description="Lower bound of the price range"),
        FactSpec("par_value_currency", "text", description="Currency of the par value: CNY, or e.g. USD for a red chip"),
        FactSpec("depositary_receipts", "bool", description="The issue is of 存托凭证 (CDRs)", default=False),
        FactSpec("cdrs_per_share", "quantity", RECEIPTS_PER_SHARE, description="存托凭证 per underlying share (份/股)"),
        FactSpec("new_cdrs", "quantity", RECEIPTS, description="本次公开发行的存托凭证 (份)"),
        FactSpec("cdrs_after_issue", "quantity", RECEIPTS, description="发行后存托凭证总份数"),
        FactSpec("price_per_cdr", "quantity", RECEIPT_PRICE, description="发行价格 per 份"),
        FactSpec("stated_rd_ratio_3y", "quantity", RATIO, description=Stated.model_fields["rd_ratio_3y"].description or ""),
        FactSpec("stated_market_cap_at_issue_price", "quantity", MONEY,
                 description=Stated.model_fields["market_cap_at_issue_price"].description or ""),
        FactSpec("strategic_investors", "quantity", RATIO, description="战略投资者家数 (count)"),
        *(FactSpec(name, "quantity", SHARES, description=Placement.model_fields[name].description or "")
          for name in ("strategic_shares", "offline_initial_shares", "sponsor_coinvestment_shares")),
        *(FactSpec(name, "quantity", SHARES, description=Subscription.model_fields[name].description or "")
          for name in ("offline_subscribed_shares", "clawback_shares", "paid_shares", "offline_allocated_shares",
                       "offline_locked_shares")),
        FactSpec("offline_lockup_by_proportion", "bool", description="网下限售采用比例限售方式"),
        FactSpec("online_subscription_multiple", "quantity", RATIO, description="网上投资者有效申购倍数"),
        FactSpec("sponsor_coinvestment_done", "bool", description="保荐机构相关子公司已按承诺实施跟投"),
        FactSpec("invention_patents", "quantity", RATIO, description="发明专利 (count)"),
        FactSpec("rd_staff", "quantity", RATIO, description="研发人员 (count)"),
        FactSpec("employees", "quantity", RATIO, description="员工总数 (count)"),
        FactSpec("software_enterprise", "bool", description="软件企业"),
        FactSpec("scitech_exception_claimed", "bool", description="Relies on 科创属性评价指引 第二条", default=False),
        FactSpec("core_invention_patents", "quantity", RATIO, description="核心技术发明专利（含国防专利） (count)"),
        FactSpec("sponsor_affiliates_holding", "quantity", RATIO, description="保荐机构及关联方持有发行人股份合计"),
        FactSpec("issuer_holding_in_sponsor", "quantity", RATIO, description="发行人持有、控制保荐机构股份"),
        FactSpec("joint_unaffiliated_sponsor", "bool", description="联合无关联保荐机构为第一保荐机构"),
        *(FactSpec(name, "quantity", MONEY, per_year=True,
                   description=FinancialPeriod.model_fields[name].description or "")
          for name in PER_YEAR_FIELDS),
    )
}


@dataclass(frozen=True)
class CaseFacts:
    """The raw facts of a case: scalars by name, per-year figures by year then name.

    A fact the case does not state is absent (not zero). `attestations` holds the
    attested judgments by name; `unaudited_years` the fiscal years whose figures the
    case marks as unaudited (they do not count for 2.1.2).
    """

    scalars: dict[str, Any]
    years: dict[int, dict[str, Quantity]]
    attestations: dict[str, Attestation]
    unaudited_years: frozenset[int]


def case_facts(case: Case) -> CaseFacts:
    """Flatten a validated case into the vocabulary of `INPUT_FACTS`."""
    offering = case.offering
    cdr = offering.depositary_receipts
    scalars: dict[str, Any] = {
        "stage": case.evaluation.stage.value,
        "evaluation_date": case.evaluation.date,
        "latest_period_end": case.latest_period_end(),
        "incorporated_on": case.issuer.incorporated_on,
        "joint_stock_since": case.issuer.joint_stock_since,
        "converted_at_book_value": case.issuer.converted_at_book_value,
        "red_chip": case.issuer.red_chip,
        "weighted_voting_rights": case.issuer.weighted_voting_rights,
        "listed_abroad": case.issuer.listed_abroad,
        "pharmaceutical": case.issuer.pharmaceutical,
        "chosen_standard": case.chosen_standard,
        "par_value": offering.par_value if isinstance(offering.par_value, Quantity) else None,
        "par_value_currency": offering.par_value.currency if isinstance(offering.par_value, ForeignParValue) else "CNY",
        "depositary_receipts": offering.depositary_receipts is not None,
        "cdrs_per_share": Quantity(cdr.ratio, RECEIPTS_PER_SHARE) if cdr else None,
        "new_cdrs": cdr.new_cdrs if cdr else None,
        "cdrs_after_issue": cdr.cdrs_after_issue if cdr else None,
        "price_per_cdr": cdr.price_per_cdr if cdr else None,
        "stated_rd_ratio_3y": case.stated.rd_ratio_3y,
        "stated_market_cap_at_issue_price": case.stated.market_cap_at_issue_price,
        "shares_before_issue": offering.shares_before_issue,
        "new_shares": offering.new_shares,
        "existing_shares_offered": offering.existing_shares_offered,
        "over_allotment_shares": offering.over_allotment_shares,
        "expected_market_cap": offering.expected_market_cap,
        "issue_price": offering.price_per_share(),
        "price_range_low": offering.price_range.low if offering.price_range else None,
        **{name: getattr(case.placement, name) for name in Placement.model_fields},
        **{name: getattr(case.subscription, name) for name in Subscription.model_fields},
        "invention_patents": case.scitech.invention_patents,
        "rd_staff": case.scitech.rd_staff,
        "employees": case.scitech.employees,
        "software_enterprise": case.scitech.software_enterprise,
        "scitech_exception_claimed": case.scitech.exception_claimed,
        "core_invention_patents": case.scitech.core_invention_patents,
        "sponsor_affiliates_holding": case.sponsor.affiliates_holding,
        "issuer_holding_in_sponsor": case.sponsor.issuer_holding_in_sponsor,
        "joint_unaffiliated_sponsor": case.sponsor.joint_unaffiliated_sponsor,
    }
    years: dict[int, dict[str, Quantity]] = {}
    unaudited: set[int] = set()
    for year, period in case.fiscal_years().items():
        if not period.audited:
            unaudited.add(year)
        years[year] = {name: getattr(period, name) for name in PER_YEAR_FIELDS if getattr(period, name) is not None}
    return CaseFacts({k: v for k, v in scalars.items() if v is not None}, years,
                     dict(case.attestations), frozenset(unaudited))
