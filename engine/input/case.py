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
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

from pydantic import (BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, ValidationError,
                      ValidationInfo, WithJsonSchema, field_validator, model_validator)

from ..common.errors import CaseError, Problem
from ..common.sanitize import MAX_PROBLEMS
from .units import (DEFAULT_UNIT_CHOICES, MONEY, PRICE, RATIO, RECEIPT_PRICE, RECEIPTS, RECEIPTS_PER_SHARE, SHARES,
                    Dim, Quantity, UnitError, canonical_text, from_number, normalize_text, parse_amount,
                    refuse_lookalike_digits)
from .yamlsource import Document, SourceMap, load_text, read_source

# ---------------------------------------------------------------------------------
# Amount fields


def _in_receipts(text: str) -> bool:
    return normalize_text(text).endswith("份")


def _receipts_as_shares(text: str, info: ValidationInfo) -> Quantity:
    """A placement or subscription figure a CDR filing states in 份, as the underlying shares it stands
    for (281.6366万份 at 10份/股 is 281,636.6 shares: a fraction of a share, kept exact)."""
    ratio = (info.context or {}).get("cdrs_per_share")
    if ratio is None:
        raise ValueError(f"'{text}' is in 份: state offering.depositary_receipts with its cdrs_per_share "
                         "(or shares_per_cdr) to convert it to underlying shares")
    receipts = parse_amount(text, dim=RECEIPTS)
    if receipts.value < 0 or receipts.value.denominator != 1:
        raise ValueError(f"a number of 份 must be whole and not negative, got '{text}'")
    return Quantity(receipts.value / ratio, SHARES)


def _amount_validator(dim: Dim, *, non_negative: bool, positive: bool = False, whole: bool = False,
                      bare_ratio: bool = True, in_receipts: bool = False):
    """`whole`: a count of shares (or 份) must be a whole number. `in_receipts`: a share figure may be
    written in 份 (a CDR issue's placement), converted by the case's ratio. `bare_ratio`: whether a number
    without a unit may stand for a ratio (counts of patents or staff: yes; a ratio field: only
    with `units.ratio` declared, since a bare 3 could mean 3% or 300%)."""
    def validate(value: Any, info: ValidationInfo) -> Quantity:
        if isinstance(value, Quantity):
            quantity = value
        elif dim == SHARES and in_receipts and isinstance(value, str) and _in_receipts(value):
            return _receipts_as_shares(value, info)
        else:
            units = (info.context or {}).get("units", {})
            default = units.get(dim.name) if dim != RATIO or not bare_ratio else None
            if not bare_ratio and default is None and _is_bare(value):
                raise ValueError(f"'{value}' is a bare ratio: a filing's 3 may mean 3% or 300%; write it with "
                                 "its unit (e.g. 25% or 2,000倍) or declare units.ratio for the file")
            if isinstance(value, bool) or value is None:
                raise ValueError(f"expected an amount of {dim.name} with its unit, got {value!r}")
            try:
                if isinstance(value, str):
                    quantity = parse_amount(value, dim=dim, default_unit=default)
                elif isinstance(value, (int,)) or type(value).__name__ == "Decimal":
                    quantity = from_number(value, dim=dim, unit=default)
                else:
                    raise UnitError(f"expected an amount of {dim.name} with its unit, got {value!r}")
            except UnitError as exc:
                raise ValueError(str(exc)) from None
        if positive and quantity.value <= 0:
            raise ValueError("must be greater than zero")
        if non_negative and quantity.value < 0:
            raise ValueError("must not be negative")
        if whole and quantity.value.denominator != 1:
            raise ValueError(f"a number of {'份' if quantity.dim == RECEIPTS else 'shares'} must be whole, got '{value}'")
        return quantity
    return validate


def _is_bare(value: Any) -> bool:
    """A number (or numeric text) written without any unit."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, Decimal)):
        return True
    return isinstance(value, str) and re.fullmatch(r"[+-]?\s*[0-9][0-9,]*(\.[0-9]+)?", normalize_text(value)) is not None


def _amount_schema(dim: Dim, example: str) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "string", "pattern": r"^[+-]?\s*(人民币)?\s*[0-9,]+(\.[0-9]+)?\s*\S*$"},
            {"type": "number"},
        ],
        "description": f"An amount of {dim.name} with its unit, e.g. '{example}'. "
                       f"A bare number needs units.{dim.name} declared for the file.",
        "examples": [example],
    }


@dataclass(frozen=True)
class AmountOf:
    """Marks an amount field with its dimension and an example (whose unit is the usual one), so
    other readers of the model (spreadsheet columns) know it without parsing validators."""

    dim: Dim
    example: str
    count: bool = False


def Amount(dim: Dim, example: str, *, non_negative: bool = False, positive: bool = False, whole: bool = False,
           bare_ratio: bool = True, in_receipts: bool = False) -> Any:
    """An annotated `Quantity` field type of dimension `dim`."""
    return Annotated[
        Quantity,
        PlainValidator(_amount_validator(dim, non_negative=non_negative, positive=positive, whole=whole,
                                         bare_ratio=bare_ratio, in_receipts=in_receipts)),
        PlainSerializer(canonical_text, return_type=str),
        WithJsonSchema(_amount_schema(dim, example)),
        AmountOf(dim, example),
    ]


Money = Amount(MONEY, "37,682.20万元")
NonNegativeMoney = Amount(MONEY, "37,682.20万元", non_negative=True)  # the example's unit heads sheet columns
ShareCount = Amount(SHARES, "1,200万股", non_negative=True, whole=True)
PositiveShareCount = Amount(SHARES, "1,200万股", positive=True, whole=True)
# placement and subscription figures: in shares, or in 份 for a CDR issue (converted to underlying shares)
OfferedCount = Amount(SHARES, "1,200万股 or 281.6366万份", non_negative=True, whole=True, in_receipts=True)
PositivePrice = Amount(PRICE, "63.70元/股", positive=True)
Ratio = Amount(RATIO, "25%", bare_ratio=False)
Multiple = Amount(RATIO, "2,000倍", bare_ratio=False)


def _whole_count(value: Any, info: ValidationInfo) -> Quantity:
    quantity = _amount_validator(RATIO, non_negative=True)(value, info)
    if quantity.value.denominator != 1:
        raise ValueError(f"a count must be a whole number, got '{value}'")
    return quantity


Count = Annotated[Quantity, PlainValidator(_whole_count), PlainSerializer(canonical_text, return_type=str),
                  WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}],
                                  "description": "A whole count, e.g. 7 or '7项' / '120人'"}),
                  AmountOf(RATIO, "7", count=True)]


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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


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
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD, HKD")

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
    return _amount_validator(PRICE, non_negative=False, positive=True)(value, info)


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
CASE_ID_PATTERN = r"^\w[\w.\-]{0,127}$"


class Case(Strict):
    """One issuer at one stage. Validated once; read-only afterwards."""

    case_id: str | None = Field(None, description="Stable id of the case (default: the file name): letters, "
                                "digits, '.', '_' and '-', at most 128 characters", pattern=CASE_ID_PATTERN)
    description: str | None = Field(None, description="What the case is about, in a line")
    issuer: Issuer
    evaluation: Evaluation
    chosen_standard: str | None = Field(None, description="The standard the prospectus names, e.g. 2.1.2（四）")
    units: Units = Field(default_factory=Units)
    offering: Offering
    financials: list[FinancialPeriod] = Field(default_factory=list)
    attestations: dict[str, Attestation] = Field(default_factory=dict)
    placement: Placement = Field(default_factory=Placement, description="Offering structure, at pricing (发行方案)")
    subscription: Subscription = Field(default_factory=Subscription,
                                       description="Subscription results (申购、回拨、缴款)")
    scitech: SciTech = Field(default_factory=SciTech, description="Sci-tech attribute facts (科创属性)")
    sponsor: Sponsor = Field(default_factory=Sponsor, description="The sponsor and cross-holdings (保荐机构)")
    stated: Stated = Field(default_factory=Stated, description="Results the documents state (R&D ratio, market cap)")
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


# ---------------------------------------------------------------------------------
# Loading


@dataclass(frozen=True)
class LoadedCase:
    """A validated case with the file it came from and where each value sits in it."""

    case: Case
    source: SourceMap
    case_id: str
    text_sha256: str
    warnings: tuple[Problem, ...] = ()  # legal but implausible figures, with their places


_MIN_PRICE = Fraction(1, 100)  # 0.01元: the smallest price a filing states


def plausibility_warnings(case: Case, source: SourceMap) -> tuple[Problem, ...]:
    """Figures the format accepts but no real filing states: worth a second look, not a refusal."""
    offering, out = case.offering, []
    if offering.shares_before_issue.value == 0:
        out.append(source.problem(("offering", "shares_before_issue"),
                                  "0 shares before the issue: a company offering its first shares? "
                                  "(发行前总股本 is the share count before the offering)"))
    prices = [("issue_price", offering.issue_price)]
    if offering.price_range:
        prices += [("price_range", offering.price_range.low)]
    for name, price in prices:
        if price is not None and price.value < _MIN_PRICE:
            out.append(source.problem(("offering", name), f"an issue price below 0.01元 per share "
                                      f"({canonical_text(price)}元): is the unit right?"))
    out += _stated_market_cap_check(case, source)
    return tuple(out)


def stated_rounding(value: Fraction) -> Fraction:
    """Half a unit of the last digit a stated amount shows: 1,959.66亿元 (a multiple of 0.01亿元 =
    1万元) is exact to ±50万元; 30亿元 to ±5亿元. Amounts are in base units (元)."""
    step = Fraction(1, 100)
    while step < 10**12 and value % (step * 10) == 0:
        step *= 10
    return step / 2 if value else Fraction(0)


def _stated_market_cap_check(case: Case, source: SourceMap) -> list[Problem]:
    stated, price = case.stated.market_cap_at_issue_price, case.offering.price_per_share()
    if stated is None or price is None:
        return []
    shares = case.offering.shares_before_issue.value + case.offering.new_shares.value
    computed = price.value * shares
    tolerance = stated_rounding(stated.value)
    if abs(computed - stated.value) <= tolerance:
        return []
    return [source.problem(("stated", "market_cap_at_issue_price"),
                           f"the document states {canonical_text(stated)}元 but issue price × post-issue shares is "
                           f"{canonical_text(Quantity(computed, MONEY))}元, more than its rounding "
                           f"(±{canonical_text(Quantity(tolerance, MONEY))}元) apart",
                           expected="the product, rounded as the document rounds")]


def load_case(path: str | Path) -> LoadedCase:
    """Load and validate a case file; every problem is reported with its line."""
    import hashlib

    path = Path(path)
    text, data = read_source(path)  # read once: the digest is of the bytes parsed
    return _validate(load_text(text, str(path)), default_id=path.stem, digest=hashlib.sha256(data).hexdigest())


def load_case_text(text: str, filename: str = "<case>") -> LoadedCase:
    """Load a case from text (tests, stdin)."""
    import hashlib

    document = load_text(text, filename)
    return _validate(document, default_id=Path(filename).stem,
                     digest=hashlib.sha256(text.encode("utf-8")).hexdigest())


def _validate(document: Document, default_id: str, digest: str) -> LoadedCase:
    data = document.data
    source = document.source
    if not isinstance(data, dict):
        raise CaseError([source.problem((), "a case file must be a mapping of fields",
                                        expected="issuer:, evaluation:, offering:, financials:")])
    units: dict[str, str] = {}
    raw_units = data.get("units")
    if isinstance(raw_units, dict):
        try:
            units = {k: v for k, v in Units.model_validate(raw_units).model_dump().items() if v}
        except ValidationError as exc:
            raise CaseError(problems_from_validation(exc, source, prefix=("units",))) from None
    try:
        case = Case.model_validate(data, context={"units": units, "cdrs_per_share": _raw_cdr_ratio(data)})
    except ValidationError as exc:
        raise CaseError(problems_from_validation(exc, source, model=Case)) from None
    seen: set[str] = set()
    for index, period in enumerate(case.financials):  # checked here to point at the second one
        if period.period in seen:
            raise CaseError([source.problem(("financials", index, "period"),
                                            f"financial period {period.period} is listed twice")])
        seen.add(str(period.period))
    return LoadedCase(case, source, case.case_id or default_id, digest, plausibility_warnings(case, source))


def _raw_cdr_ratio(data: dict) -> Fraction | None:
    """The CDR ratio as written, before validation (placement figures in 份 need it); None when the
    case states none or states it badly (the model then reports that at its own place)."""
    cdr = (data.get("offering") or {}).get("depositary_receipts") if isinstance(data.get("offering"), dict) else None
    if not isinstance(cdr, dict):
        return None
    try:
        if cdr.get("cdrs_per_share") is not None:
            return parse_amount(str(cdr["cdrs_per_share"]), dim=RECEIPTS_PER_SHARE).value or None
        if cdr.get("shares_per_cdr") is not None:
            value = parse_amount(str(cdr["shares_per_cdr"]), dim=Dim(0, 1, -1)).value
            return 1 / value if value else None
    except UnitError:
        return None
    return None


def problems_from_validation(exc: ValidationError, source: SourceMap, prefix: tuple = (),
                             model: type[BaseModel] | None = None) -> list[Problem]:
    """Map pydantic errors to problems at their lines, with "did you mean" for unknown keys."""
    problems = []
    errors = exc.errors(include_url=False)
    for error in errors[:MAX_PROBLEMS]:  # "did you mean" costs a search per error: only for those listed
        loc = prefix + tuple(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        expected = None
        if error["type"] == "extra_forbidden":
            known = _known_keys(model, loc[:-1]) if model else []
            import difflib  # only for a bad key: a check that goes well never loads it

            guess = difflib.get_close_matches(str(loc[-1]), known, n=1)
            message = f"unknown field '{loc[-1]}'" + (f"; did you mean '{guess[0]}'?" if guess else "")
            expected = ", ".join(known) if known else None
        elif error["type"] == "missing":
            message = "required field is missing"
        elif error["type"] == "string_pattern_mismatch" and loc == ("case_id",):
            message = "a case id is letters, digits, '.', '_' and '-' (at most 128, no spaces or control characters)"
        problems.append(source.problem(loc, message, expected=expected))
    if len(errors) > MAX_PROBLEMS:
        problems.append(Problem(f"and {len(errors) - MAX_PROBLEMS} more problems (only the first {MAX_PROBLEMS} "
                                "are listed)", file=source.file))
    return problems


def _known_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the sub-model reached by `loc` (list indices and dict keys skipped)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            continue
        annotation = fields[part].annotation
        current = _model_in(annotation)
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def case_json_schema() -> dict[str, Any]:
    """JSON Schema of case files, for editors."""
    schema = Case.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "STAR Market listing case"
    return schema
