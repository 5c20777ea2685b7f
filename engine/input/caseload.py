"""Loading a case: YAML text with the line of every value becomes a validated `LoadedCase`, and every
problem (pydantic's included) is reported at its place, with "did you mean" for unknown keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..common.errors import CaseError, Problem
from ..common.interrupts import build_validator
from ..common.sanitize import MAX_PROBLEMS
from .case import Case, Units
from .units import MONEY, RECEIPTS_PER_SHARE, Dim, Quantity, UnitError, canonical_text, parse_amount
from .yamlsource import Document, SourceMap, load_text, read_source

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


def build_case_validator() -> None:
    """Build the case models' validators now (they are deferred, so a command that validates no case
    never pays for them; else `HeldBuild` builds each at its first use): a batch does so once,
    before forking workers, which then share them."""
    for model in (Units, Case):
        build_validator(model)


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
