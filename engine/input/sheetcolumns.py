"""The columns of an issuers sheet, derived from the case model, and a header bound to its column.

The columns are generated from the case model (`engine.input.case`), never listed by hand: every
leaf field of `Case` is one column, named after the fact it provides (`new_shares`,
`evaluation_date`, `price_range_low`), a fiscal-year figure is one column a period (`revenue_2019`,
`audited_2019`, `revenue_2020H1`), and every attested judgment of the rulebook is three
(`issuance_conditions_met` yes/no, `…_attested_by`, `…_evidence`). A field added to the model is a
column without more code. The same source gives the column reference (the template's second
sheet and the README's table).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from pydantic import BaseModel

from .amounts import AmountOf
from .case import Attestation, Case, Evidence, FinancialPeriod, Stage
from .casefacts import INPUT_FACTS
from .units import UNITS, Dim, normalize_text
from .yamlsource import dotted

# ---------------------------------------------------------------------------------
# Columns, from the case model


@dataclass(frozen=True)
class Column:
    """One column (or, with a `{period}` / `{attestation}` in its name, one family of columns).

    `path` is where its value goes in the case dict; `kind` how a cell is read: amount, bool,
    date, text, lines (one item a line), evidence (one `document | page | note` a line)."""

    name: str
    path: tuple[str, ...]
    kind: str
    description: str = ""
    dim: Dim | None = None
    unit: str = ""  # the unit the template writes in the header
    count: bool = False
    required: str = ""  # "yes", or when it is: "with its period", "with its judgment", "with price_range"
    fact: str | None = None  # the rule-expression name it provides (INPUT_FACTS or an attestation)
    choices: tuple[str, ...] = ()
    default: Any = None  # the model's value when the cell is blank (a flag's False): written blank
    unit_note: str = ""  # the model's example (e.g. '1,200万股 or 281.6366万份')

    @property
    def units(self) -> tuple[str, ...]:
        """The units its cells may be in, as the model's example states them: ('万股',), or ('万股',
        '万份') for a figure a CDR filing states in 份 (converted by the case's ratio)."""
        return tuple(_unit_of(example.strip()) for example in self.unit_note.split(" or ")) if self.unit_note else ()

    def header(self, key: str = "") -> str:
        name = self.name.replace("{period}", key).replace("{attestation}", key)
        return f"{name} [{self.unit}]" if self.unit else name


def _amount_of(annotation: Any, metadata: Iterable[Any] = ()) -> AmountOf | None:
    for item in list(metadata) + list(getattr(annotation, "__metadata__", ())):
        if isinstance(item, AmountOf):
            return item
    for arg in typing.get_args(annotation):
        found = _amount_of(arg)
        if found is not None:
            return found
    return None


def _plain(annotation: Any) -> set[Any]:
    """The non-None types of an annotation (`bool | None` → {bool})."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return {a for a in args if a is not type(None)}
    return {annotation}


def _unit_of(example: str) -> str:
    """The unit of an example such as '1,200万股' (of its first amount, for '1,200万股 or 281.6366万份')."""
    match = re.match(r"^[+-]?[\d,.]*(\S*)", example)
    return match.group(1) if match else ""


def _leaf(name: str, path: tuple[str, ...], info: Any, fact: str | None, within: str | None = "yes") -> Column:
    """`within`: what the field is required within ("yes": the case itself; None: optional there)."""
    description = info.description or ""
    required = (within or "") if info.is_required() else ""
    default = None if info.is_required() else info.default
    amount = _amount_of(info.annotation, info.metadata)
    if amount is not None:
        return Column(name, path, "amount", description, amount.dim, _unit_of(amount.example), amount.count,
                      required, fact, unit_note=amount.example)
    types = _plain(info.annotation)
    if types == {bool}:
        return Column(name, path, "bool", description, required=required, fact=fact, choices=("yes", "no"),
                      default=default)
    if types == {dt.date}:
        return Column(name, path, "date", description, required=required, fact=fact)
    if len(types) == 1 and isinstance(next(iter(types)), type) and issubclass(next(iter(types)), Stage):
        return Column(name, path, "text", description, required=required, fact=fact,
                      choices=tuple(s.value for s in Stage))
    if types == {list[str]}:
        return Column(name, path, "lines", description + " (one a line)", required=required, fact=fact)
    if types == {list[Evidence]}:
        return Column(name, path, "evidence", "Evidence, one a line: document | page | note", required=required)
    if types <= {str, int}:
        return Column(name, path, "text", description, required=required, fact=fact)
    raise TypeError(f"no spreadsheet column for case field {dotted(path)} ({info.annotation})")


def _model_columns(model: type[BaseModel], path: tuple[str, ...], within: str | None = "yes") -> list[Column]:
    out: list[Column] = []
    for name, info in model.model_fields.items():
        here = path + (name,)
        types = _plain(info.annotation)
        sub = next((t for t in types if isinstance(t, type) and issubclass(t, BaseModel)), None)
        if _amount_of(info.annotation, info.metadata) is not None:
            sub = None  # an amount (a par value may also be a foreign-currency model): one column
        if name == "units" and not path:
            continue  # a header states its unit: nothing to declare for the file
        if name == "financials" and not path:
            out += _period_columns()
        elif name == "attestations" and not path:
            out += _attestation_columns()
        elif sub is not None:
            out += _model_columns(sub, here, within if info.is_required() else f"with {name}")
        else:
            name, _, fact = _column_name(here)
            out.append(_leaf(name, here, info, fact, within))
    return out


def _column_name(path: tuple[str, ...]) -> tuple[str, tuple[str, ...], str | None]:  # noqa: D401
    """A leaf's column: the fact name it provides (`evaluation_date`, `price_range_low`, `stage`),
    else the field's name qualified by its section (`issuer_name`)."""
    parent, leaf = (path[-2] if len(path) > 1 else ""), path[-1]
    for candidate in (f"{parent}_{leaf}" if parent else leaf, leaf):
        if candidate in INPUT_FACTS:
            return candidate, path, candidate
    return (f"{parent}_{leaf}" if parent else leaf), path, None


def _period_columns() -> list[Column]:
    out = []
    for name, info in FinancialPeriod.model_fields.items():
        if name == "period":
            continue
        column = _leaf(f"{name}_{{period}}", ("financials", "{period}", name), info,
                       name if name in INPUT_FACTS else None, "with its period")
        out.append(column)
    return out


def _attestation_columns() -> list[Column]:
    out = []
    for name, info in Attestation.model_fields.items():
        column_name = "{attestation}" if name == "holds" else f"{{attestation}}_{name}"
        out.append(_leaf(column_name, ("attestations", "{attestation}", name), info, None, "with its judgment"))
    return out


COLUMNS: tuple[Column, ...] = tuple(_model_columns(Case, ()))
SCALAR_COLUMNS = {c.name: c for c in COLUMNS if "{" not in c.name}
PERIOD_COLUMNS = tuple(c for c in COLUMNS if "{period}" in c.name)
ATTESTATION_COLUMNS = tuple(c for c in COLUMNS if "{attestation}" in c.name)


@dataclass(frozen=True)
class Vocabulary:
    """What the rulebook adds to the columns: the attested judgments a case may state (name → title),
    the standard labels a case may choose, and the rules that read each fact."""

    attestations: Mapping[str, str] = field(default_factory=dict)
    standards: tuple[str, ...] = ()
    readers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------
# Headers


@dataclass(frozen=True)
class Bound:
    """A header cell bound to its column: the period or judgment it is for, and the header's unit."""

    column: Column
    key: str
    unit: str
    path: tuple[str, ...]


_HEADER = re.compile(r"^(?P<name>[^\[\]]*?)\s*(?:\[(?P<unit>[^\[\]]*)\])?$")
_PERIOD_TAIL = re.compile(r"_(\d{4}\w*)$")


def bind_header(text: str, attestations: Iterable[str]) -> Bound | str:
    """The column a header names, or why it names none (a message)."""
    match = _HEADER.match(normalize_text(text))
    if not match or not match.group("name"):
        return f"'{text}' is not a column header such as new_shares [万股]"
    name, unit = match.group("name"), normalize_text(match.group("unit") or "")
    attestations = set(attestations)
    found: tuple[Column, str] | None = None
    if name in SCALAR_COLUMNS:
        found = (SCALAR_COLUMNS[name], "")
    else:
        for column in sorted(PERIOD_COLUMNS, key=lambda c: -len(c.name)):
            prefix = column.name.replace("{period}", "")
            rest = name[len(prefix):]
            if name.startswith(prefix) and rest[:1].isdigit():
                found = (column, rest)
                break
        for column in ATTESTATION_COLUMNS:
            suffix = column.name.replace("{attestation}", "")
            base = name[:len(name) - len(suffix)] if suffix else name
            if found is None and (not suffix or name.endswith(suffix)) and base in attestations:
                found = (column, base)
    if found is None:
        return _unknown(name, attestations)
    column, key = found
    if unit and column.kind != "amount":
        return f"column '{name}' takes no unit, but its header says [{unit}]"
    if unit:
        symbol = "元/股" if unit == "元" and column.dim == Dim(1, -1) else unit
        dims = [column.dim] + [UNITS[u].dim for u in column.units if u in UNITS and UNITS[u].dim != column.dim]
        if symbol not in UNITS or UNITS[symbol].dim not in dims:
            return (f"the header of '{name}' gives the unit [{unit}], which is not a unit of "
                    f"{' or '.join(dim.name for dim in dims)}")
        unit = symbol
    path = tuple(key if part in ("{period}", "{attestation}") else part for part in column.path)
    return Bound(column, key, unit, path)


def _unknown(name: str, attestations: set[str]) -> str:
    known = list(SCALAR_COLUMNS) + [c.name.replace("{attestation}", a) for c in ATTESTATION_COLUMNS
                                    for a in sorted(attestations)]
    period = _PERIOD_TAIL.search(name)
    known += [c.name.replace("{period}", period.group(1) if period else "2019") for c in PERIOD_COLUMNS]
    guess = difflib.get_close_matches(name, known, n=1)
    return f"unknown column '{name}'" + (f"; did you mean '{guess[0]}'?" if guess else "")



def column_letter(index: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# ---------------------------------------------------------------------------------
# The column reference (the template's second sheet and the README's table)

REFERENCE_HEADER = ("column", "meaning", "unit", "required", "read by rules")
_KIND_NOTE = {"bool": "yes / no", "date": "date (2020-09-04)", "lines": "text, one item a line",
              "evidence": "document | page | note, one a line", "text": "text"}


def column_reference(vocabulary: Vocabulary) -> list[tuple[str, str, str, str, str]]:
    """One line per column (families once, with `<period>` / `<judgment>`), from the model."""
    out = []
    for column in COLUMNS:
        name = column.name.replace("{period}", "<period>").replace("{attestation}", "<judgment>")
        meaning = column.description or column.name
        if "{period}" in column.name:
            meaning += "; one column a fiscal year (2019) or interim period (2020H1, 2020Q3, 2020M1-9)"
        if "{attestation}" in column.name:
            meaning = {"holds": "The judgment holds (yes) or not (no)", "attested_by": meaning,
                       "evidence": meaning}.get(column.path[-1], meaning)
        if column.choices or column.name == "chosen_standard":
            choices = vocabulary.standards if column.name == "chosen_standard" else column.choices
            if choices and column.kind != "bool":
                meaning += f" — one of {', '.join(choices)}"
        unit = (" or ".join(f"[{u}]" for u in column.units) if column.unit else "count" if column.count else
                "ratio") if column.kind == "amount" else _KIND_NOTE[column.kind]
        fact = column.fact or (column.path[-1] if column.path[0] == "financials" else None)
        readers = ", ".join(vocabulary.readers.get(fact, ())) if fact else ""
        if "{attestation}" in column.name and column.path[-1] == "holds":
            readers = "the rules that read the judgment (below)"
        out.append((f"{name} [{column.unit}]" if column.unit else name, meaning, unit,
                    column.required, readers))
    for name, title in vocabulary.attestations.items():
        out.append((name, f"Judgment: {title}", "yes / no", "", ", ".join(vocabulary.readers.get(name, ()))))
    return out


def reference_markdown(vocabulary: Vocabulary) -> str:
    """The column reference as a Markdown table (the README's)."""
    lines = ["| " + " | ".join(REFERENCE_HEADER) + " |", "|" + "---|" * len(REFERENCE_HEADER)]
    for line in column_reference(vocabulary):
        lines.append("| " + " | ".join(f"`{part}`" if i == 0 else part.replace("|", "\\|")
                                         for i, part in enumerate(line)) + " |")
    return "\n".join(lines) + "\n"
