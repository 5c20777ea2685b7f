"""The issuer case file: a frozen, validated model of one issuer at one stage.

A case carries the facts of the stage it is at (filing, pricing or subscription);
anything it does not state stays absent, so a rule that needs it is *undetermined*
rather than silently passing or failing. Amounts carry their unit (or the file
declares one per dimension under `units:`); unknown keys are refused with a
"did you mean". `Case.facts()` is the flat vocabulary the rule expressions read.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Annotated, Any

from pydantic import (BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, ValidationError, ValidationInfo,
                      WithJsonSchema, field_validator, model_validator)

from ..common.interrupts import HeldBuild
from .amounts import (Amount, AmountOf, Count, Money, Multiple, NonNegativeMoney, OfferedCount, PositivePrice,
                      PositiveShareCount, Ratio, ShareCount, amount_validator)
from .units import (DEFAULT_UNIT_CHOICES, PRICE, RATIO, RECEIPT_PRICE, RECEIPTS, RECEIPTS_PER_SHARE, Dim, Quantity,
                    canonical_text, normalize_text, refuse_lookalike_digits)

# ---------------------------------------------------------------------------------
# Labels of listing standards: "2.1.2（四）", "2.1.2(4)" and "2.1.2(四)" are one standard.

_CN_NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
# An article number (2.1.2) or a CSRC announcement (证监会公告〔2020〕26号, the listed-abroad red-chip routes).
_STANDARD = re.compile(r"^(\d+(?:\.\d+)*|证监会公告〔\d{4}〕\d+号)\s*(?:\((\w+)\))?$")


def normalize_standard(label: str) -> str:
    """Canonical form `2.1.2(4)` of a listing-standard label; ValueError if malformed."""
    text = normalize_text(label)
    match = _STANDARD.match(text)
    if not match:
        raise ValueError(f"'{label}' is not a standard label such as 2.1.2（四）, 2.1.3(1) or 证监会公告〔2020〕26号（二）")
    article, item = match.group(1), match.group(2)
    if item is None:
        return article
    number = int(item) if item.isdigit() else _CN_NUMERALS.get(item)
    if number is None:
        raise ValueError(f"'{label}': item '{item}' is not a number such as （四） or (4)")
    return f"{article}({number})"


# ---------------------------------------------------------------------------------
# The model


# End of text, also under Python's `re` (where `$` alone lets "USD\n" through) and in a JSON Schema.
END = r"(?!\n)$"


class Strict(HeldBuild, BaseModel):
    # Python's `re` for `pattern=`: the Rust engine takes ~45 ms to compile the case id's
    # `\w{0,127}` (a Unicode class repeated 128 times) at import, a quarter of a single check.
    # Python's `$` also matches before a final newline, so patterns end in END (above).
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, regex_engine="python-re",
                              defer_build=True)


class Stage(str, Enum):
    """Where the IPO is: which facts exist and which rules apply."""

    filing = "filing"              # 申报: market cap is the sponsor's estimate
    pricing = "pricing"            # 定价: market cap is issue price × post-issue shares
    subscription = "subscription"  # 申购/缴款: the abort conditions apply


class Units(Strict):
    """Units for bare numbers in this file, one per dimension (optional)."""

    money: str | None = Field(None, description="元, 万元 or 亿元")
    shares: str | None = Field(None, description="股, 万股 or 亿股")
    price: str | None = Field(None, description="元/股")
    ratio: str | None = Field(None, description="% or 倍: the unit of bare numbers in ratio fields "
                                                "(without it a bare ratio is refused)")

    @field_validator("money", "shares", "price", "ratio")
    @classmethod
    def _known(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        value = normalize_text(value)
        choices = DEFAULT_UNIT_CHOICES[info.field_name]
        if value not in choices:
            raise ValueError(f"unit '{value}' is not one of {', '.join(choices)}")
        return value


class Issuer(Strict):
    """Who the issuer is, and the flags that decide which standards apply."""

    name: str = Field(description="发行人名称, as registered")
    name_en: str | None = Field(None, description="English name")
    incorporated_on: dt.date | None = Field(None, description="成立日期 as registered (a converted company may state its LLC's date)")
    joint_stock_since: dt.date | None = Field(None, description="Date it became a 股份有限公司, if converted from an LLC")
    converted_at_book_value: bool = Field(
        False, description="有限责任公司按原账面净资产值折股整体变更为股份有限公司 (operation counted from the LLC's founding)")
    red_chip: bool = Field(False, description="红筹企业 (listing rules 2.1.3)")
    weighted_voting_rights: bool = Field(False, description="表决权差异安排 (listing rules 2.1.4)")
    listed_abroad: bool = Field(False, description="Already listed outside mainland China (red chips)")
    pharmaceutical: bool | None = Field(None, description="医药行业企业 (standard 2.1.2（五）)")


class Evaluation(Strict):
    """When the case is judged and at which stage."""

    date: dt.date = Field(description="The case's own date; rules in force on it apply")
    stage: Stage


class PriceRange(Strict):
    low: PositivePrice = Field(description="发行价格区间下限 (a range is judged at it)")
    high: PositivePrice = Field(description="发行价格区间上限")

    @model_validator(mode="after")
    def _ordered(self) -> PriceRange:
        if self.low.value > self.high.value:
            raise ValueError("price_range.low is above price_range.high")
        return self


# Par values red chips state in their own currency: "0.004美元", "US$0.004", "HK$1", "1.00港元".
_FOREIGN_PAR = re.compile(r"^(?:(?P<pre>US\$|USD|HK\$|HKD)\s*(?P<a>\d+(?:\.\d+)?)"
                          r"|(?P<b>\d+(?:\.\d+)?)\s*(?P<post>美元|港元|港币|USD|HKD))$")
_CURRENCIES = {"US$": "USD", "USD": "USD", "美元": "USD", "HK$": "HKD", "HKD": "HKD", "港元": "HKD", "港币": "HKD"}


class ForeignParValue(Strict):
    """每股面值 in a foreign currency (a red chip's US$0.004): kept as stated, never converted.
    The rules that need 股本总额 in 元 then lack it; a red chip's 2.1.1 counts shares instead."""

    amount: Decimal = Field(gt=0, description="The amount in that currency, e.g. 0.004")
    currency: str = Field(pattern=r"^[A-Z]{3}" + END, description="ISO 4217 code, e.g. USD, HKD")

    @field_validator("currency")
    @classmethod
    def _not_rmb(cls, value: str) -> str:
        if value == "CNY":
            raise ValueError("a par value in 人民币 is written as an amount, e.g. 1.00元")
        return value


def _par_value(value: Any, info: ValidationInfo) -> Quantity | ForeignParValue:
    if isinstance(value, (Quantity, ForeignParValue)):
        return value
    if isinstance(value, dict):
        try:
            return ForeignParValue.model_validate(value)
        except ValidationError as exc:
            raise ValueError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    if isinstance(value, str):
        refuse_lookalike_digits(value)
        match = _FOREIGN_PAR.match(normalize_text(value).replace(" ", ""))
        if match:
            symbol = match.group("pre") or match.group("post")
            return ForeignParValue(amount=Decimal(match.group("a") or match.group("b")), currency=_CURRENCIES[symbol])
    return amount_validator(PRICE, non_negative=False, positive=True)(value, info)


ParValue = Annotated[Quantity | ForeignParValue, PlainValidator(_par_value), AmountOf(PRICE, "1.00元/股"),
                     PlainSerializer(lambda v: canonical_text(v) if isinstance(v, Quantity)
                                     else f"{v.amount} {v.currency}", return_type=str),
                     WithJsonSchema({"anyOf": [
                         {"type": "string", "description": "In 元 ('1.00元'), or in a foreign currency: "
                                                           "'0.004美元', 'US$0.004', 'HK$1', '1.00港元'"},
                         {"type": "object", "properties": {"amount": {"type": "number"},
                                                           "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}},
                          "required": ["amount", "currency"], "additionalProperties": False}],
                         "description": "每股面值 (of the underlying share, for CDRs)"})]

Receipts = Amount(RECEIPTS, "7,040.917万份", positive=True, whole=True)


class DepositaryReceipts(Strict):
    """存托凭证 (CDR): the conversion ratio and the figures a CDR filing states in 份."""

    cdrs_per_share: Amount(RECEIPTS_PER_SHARE, "10份/股", positive=True) | None = Field(
        None, description="存托凭证与基础股票的转换比例 as 份 per share (1股/10份 is 10份/股)")
    shares_per_cdr: Amount(Dim(0, 1, -1), "0.1股/份", positive=True) | None = Field(
        None, description="The same ratio as shares per 份 (give one of the two)")
    new_cdrs: Receipts | None = Field(None, description="本次公开发行的存托凭证 (份); must equal new_shares × cdrs_per_share")
    cdrs_after_issue: Receipts | None = Field(None, description="发行后存托凭证总份数 (上市规则 2.1.1 counts these)")
    price_per_cdr: Amount(RECEIPT_PRICE, "18.94元/份", positive=True) | None = Field(
        None, description="发行价格 per 份; the price per share is price_per_cdr × cdrs_per_share")

    @model_validator(mode="after")
    def _one_ratio(self) -> DepositaryReceipts:
        if (self.cdrs_per_share is None) == (self.shares_per_cdr is None):
            raise ValueError("give exactly one of cdrs_per_share (e.g. 10份/股) and shares_per_cdr (e.g. 0.1股/份)")
        return self

    @property
    def ratio(self) -> Fraction:
        """份 per share, exactly."""
        if self.cdrs_per_share is not None:
            return self.cdrs_per_share.value
        assert self.shares_per_cdr is not None
        return 1 / self.shares_per_cdr.value


class Stated(Strict):
    """Figures a document states as results (not inputs): used where the inputs are absent, and
    cross-checked against the engine's own product where they are not."""

    rd_ratio_3y: Amount(RATIO, "18.32%", non_negative=True, bare_ratio=False) | None = Field(
        None, description="最近三年累计研发投入占最近三年累计营业收入的比例, as the filing states it without the amounts")
    market_cap_at_issue_price: NonNegativeMoney | None = Field(
        None, description="The market cap the document states at the issue price (发行价格乘以发行后总股数); "
                          "checked against issue price × post-issue shares to the document's last digit")


class Offering(Strict):
    """Shares before and in the offering; the price once it is known."""

    par_value: ParValue = Field(description="每股面值, e.g. 1.00元, or 0.004美元 for a red chip")
    depositary_receipts: DepositaryReceipts | None = Field(None, description="存托凭证: set when the issue is of CDRs")
    shares_before_issue: ShareCount = Field(description="发行前总股本 in shares")
    new_shares: PositiveShareCount = Field(description="本次公开发行新股 (over-allotment excluded)")
    existing_shares_offered: ShareCount | None = Field(None, description="老股公开发售 (0 if none)")
    over_allotment_shares: ShareCount | None = Field(None, description="超额配售选择权 shares, kept out of market cap")
    expected_market_cap: NonNegativeMoney | None = Field(None, description="预计市值 at filing (the sponsor's estimate)")
    issue_price: PositivePrice | None = Field(None, description="发行价格 once priced (per share; for CDRs "
                                                                "price_per_cdr gives it)")
    price_range: PriceRange | None = Field(None, description="发行价格区间; judged at its lower bound")

    @model_validator(mode="after")
    def _receipts_agree(self) -> Offering:
        cdr = self.depositary_receipts
        if cdr is None:
            return self
        if cdr.new_cdrs is not None and cdr.new_cdrs.value != self.new_shares.value * cdr.ratio:
            raise ValueError(f"depositary_receipts.new_cdrs ({canonical_text(cdr.new_cdrs)}份) is not new_shares "
                             f"({canonical_text(self.new_shares)}股) × {canonical_text(Quantity(cdr.ratio, RATIO))}份/股")
        if cdr.price_per_cdr is not None and self.issue_price is not None \
                and cdr.price_per_cdr.value * cdr.ratio != self.issue_price.value:
            raise ValueError("issue_price is not depositary_receipts.price_per_cdr × cdrs_per_share")
        return self

    def price_per_share(self) -> Quantity | None:
        """发行价格 per share: stated, or from the price per 份 of a CDR issue."""
        if self.issue_price is not None:
            return self.issue_price
        cdr = self.depositary_receipts
        if cdr is not None and cdr.price_per_cdr is not None:
            return Quantity(cdr.price_per_cdr.value * cdr.ratio, PRICE)
        return None


_PERIOD = re.compile(r"^(?P<year>\d{4})(?:(?P<half>H1)|Q(?P<quarter>[1-3])|M(?P<m1>\d{1,2})-(?P<m2>\d{1,2}))?$")


class FinancialPeriod(Strict):
    """Audited figures of one fiscal year, or an interim period (never "the last year")."""

    period: str | int = Field(description="A fiscal year (2019) or an interim period (2020H1, 2020Q3, 2020M1-9)")
    audited: bool = Field(description="Figures audited (上市规则 2.1.2 counts audited figures only)")
    revenue: NonNegativeMoney | None = Field(None, description="营业收入")
    net_profit_parent: Money | None = Field(None, description="归属于母公司所有者的净利润")
    net_profit_parent_deducted: Money | None = Field(None, description="扣除非经常性损益后归属于母公司所有者的净利润")
    net_profit_lower: Money | None = Field(None, description="扣除非经常性损益前后孰低的净利润, when the filing states only "
                                                            "that one figure (used when the 归母 pair is absent)")
    net_profit_consolidated: Money | None = Field(None, description="净利润 (合并, all owners): reported; used for "
                                                                   "net_profit only when no 归母 figure is stated")
    net_profit_consolidated_deducted: Money | None = Field(None, description="扣除非经常性损益后的净利润 (合并)")
    rd_investment: NonNegativeMoney | None = Field(None, description="研发投入")
    operating_cash_flow: Money | None = Field(None, description="经营活动产生的现金流量净额")

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value: Any) -> str:
        text = normalize_text(str(value)).upper()
        match = _PERIOD.match(text)
        if not match:
            raise ValueError(f"'{value}' is not a period such as 2019, 2020H1, 2020Q3 or 2020M1-9")
        if match.group("m1") and not 1 <= int(match.group("m1")) <= int(match.group("m2")) <= 12:
            raise ValueError(f"'{value}' is not a period: months run from 1 to 12, first to last (e.g. 2020M1-9)")
        return text

    @property
    def fiscal_year(self) -> int | None:
        """The year, if this is a full fiscal year; None for an interim period."""
        match = _PERIOD.match(str(self.period))
        assert match is not None
        if match.group("half") or match.group("quarter") or match.group("m1"):
            return None
        return int(match.group("year"))

    @property
    def period_end(self) -> dt.date:
        """The last day of the period: 31 December of a fiscal year, 30 June of H1, the end of the
        quarter (Q1–Q3) or of the last month (M1-9)."""
        match = _PERIOD.match(str(self.period))
        assert match is not None
        year = int(match.group("year"))
        month = 6 if match.group("half") else 3 * int(match.group("quarter")) if match.group("quarter") else \
            int(match.group("m2")) if match.group("m2") else 12
        return dt.date(year, month, calendar.monthrange(year, month)[1])


class Evidence(Strict):
    document: str = Field(description="The document that supports the judgment")
    page: str | int | None = Field(None, description="Page or section in it")
    note: str | None = None


class Attestation(Strict):
    """A judgment (e.g. 主营业务稳定) the engine cannot compute: who says so, and on what evidence."""

    holds: bool
    attested_by: str | None = Field(None, description="Who makes the judgment (e.g. the sponsor)")
    evidence: list[Evidence] = Field(min_length=1)


class SciTech(Strict):
    """Facts for the sci-tech attribute indicators (科创属性评价指引)."""

    invention_patents: Count | None = Field(None, description="发明专利 applied in the main business (项)")
    rd_staff: Count | None = Field(None, description="研发人员 at the end of the latest fiscal year (人)")
    employees: Count | None = Field(None, description="员工总数 at the end of the latest fiscal year (人)")
    software_enterprise: bool | None = Field(None, description="软件企业: the patent indicator does not apply")
    exception_claimed: bool = Field(False, description="The issuer relies on 指引 第二条 (an exception) instead "
                                                       "of the 第一条 indicators")
    core_invention_patents: Count | None = Field(
        None, description="形成核心技术和应用于主营业务的发明专利（含国防专利）合计 (项), for exception (5)")


class Sponsor(Strict):
    """The sponsor (保荐机构) and the cross-holdings that decide whether a joint sponsor is needed."""

    name: str | None = Field(None, description="保荐机构名称")
    affiliates_holding: Ratio | None = Field(None, description="保荐机构及其控股股东、实际控制人、重要关联方持有发行人股份合计")
    issuer_holding_in_sponsor: Ratio | None = Field(None, description="发行人持有、控制保荐机构股份")
    joint_unaffiliated_sponsor: bool | None = Field(None, description="联合1家无关联保荐机构且其为第一保荐机构")


class Placement(Strict):
    """The offering's structure as the issuance announcement (发行公告) states it, known at pricing."""

    strategic_investors: Count | None = Field(None, description="战略投资者家数 (名)")
    strategic_shares: OfferedCount | None = Field(None, description="战略配售股数 (sponsor co-investment included)")
    offline_initial_shares: OfferedCount | None = Field(None, description="网下初始发行数量 (after strategic placement)")
    sponsor_coinvestment_shares: OfferedCount | None = Field(
        None, description="保荐机构相关子公司跟投股数 (the sponsor subsidiary's co-investment)")


class Subscription(Strict):
    """What subscription produced (网上网下申购、回拨、缴款): the facts of the subscription stage."""

    offline_subscribed_shares: OfferedCount | None = Field(None, description="网下投资者有效申购数量")
    online_subscription_multiple: Multiple | None = Field(None, description="网上投资者有效申购倍数, e.g. 2,000倍")
    clawback_shares: OfferedCount | None = Field(None, description="从网下向网上回拨的股数 (0 if none)")
    paid_shares: OfferedCount | None = Field(None, description="网下和网上投资者缴款认购的股份数量合计")
    sponsor_coinvestment_done: bool | None = Field(None, description="保荐机构相关子公司已按承诺实施跟投")
    offline_allocated_shares: OfferedCount | None = Field(None, description="网下投资者获配股数 (final offline allocation)")
    offline_locked_shares: OfferedCount | None = Field(None, description="网下比例限售股数 (shares locked by the offline lock-up)")
    offline_lockup_by_proportion: bool | None = Field(
        None, description="网下限售采用比例限售方式 (true) rather than 摇号限售 (false)")


# A case id is echoed in every report and stored row: no spaces, controls or markup can hide in it.
CASE_ID_PATTERN = r"^\w[\w.\-]{0,127}" + END


def _absent(model: type[Strict]) -> Any:
    """The default of a section the case leaves out: `model()` with every field at its default, made
    without building the section's own validator (the case's validator covers the sections it
    reads; building one for each absent section took ~17 ms of a single check). The sections
    defaulted so have no required field and no model validator, so there is nothing to check."""
    return lambda: model.model_construct()


class Case(Strict):
    """One issuer at one stage. Validated once; read-only afterwards."""

    case_id: str | None = Field(None, description="Stable id of the case (default: the file name): letters, "
                                "digits, '.', '_' and '-', at most 128 characters", pattern=CASE_ID_PATTERN)
    description: str | None = Field(None, description="What the case is about, in a line")
    issuer: Issuer
    evaluation: Evaluation
    chosen_standard: str | None = Field(None, description="The standard the prospectus names, e.g. 2.1.2（四）")
    units: Units = Field(default_factory=_absent(Units))
    offering: Offering
    financials: list[FinancialPeriod] = Field(default_factory=list)
    attestations: dict[str, Attestation] = Field(default_factory=dict)
    placement: Placement = Field(default_factory=_absent(Placement), description="Offering structure, at pricing (发行方案)")
    subscription: Subscription = Field(default_factory=_absent(Subscription),
                                       description="Subscription results (申购、回拨、缴款)")
    scitech: SciTech = Field(default_factory=_absent(SciTech), description="Sci-tech attribute facts (科创属性)")
    sponsor: Sponsor = Field(default_factory=_absent(Sponsor), description="The sponsor and cross-holdings (保荐机构)")
    stated: Stated = Field(default_factory=_absent(Stated), description="Results the documents state (R&D ratio, market cap)")
    sources: list[str] = Field(default_factory=list, description="Where the figures come from")

    @field_validator("chosen_standard")
    @classmethod
    def _standard(cls, value: str | None) -> str | None:
        return None if value is None else normalize_standard(value)

    def latest_period_end(self) -> dt.date | None:
        """The end of the latest period (fiscal year or interim) the case states, before its date."""
        ends = [p.period_end for p in self.financials if p.period_end < self.evaluation.date]
        return max(ends) if ends else None

    def fiscal_years(self) -> dict[int, FinancialPeriod]:
        """Full fiscal years ending before the evaluation date, by year."""
        return {p.fiscal_year: p for p in self.financials
                if p.fiscal_year is not None and dt.date(p.fiscal_year, 12, 31) < self.evaluation.date}
