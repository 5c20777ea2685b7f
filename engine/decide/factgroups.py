"""Pack the rules of one period into few durable facts that share their operands.

`compiler` gives each rule version durable rules over a fact of its own (`{"rule": <key>, …}`).
A case meets ~30 rule versions that read the same ~40 operands again and again (`year(1, revenue)`,
the expected market value…): one fact per rule makes durable parse, index and match each value
once per rule that reads it. Here the rules of a period are put into groups, each group one fact
(`{"rule": <tag>, …}`) whose fields are the union of its rules' operands, an operand the rules
state with the same text being one field encoded against the union of their constants.

durable bounds what one fact may meet:
- its matcher walks a fact through the alpha network with a fixed stack of 64 nodes (error 303
  beyond). Each rule is added to a group only if the group's network, modelled as durable builds
  it with its shared nodes (`alphastack`), keeps the stack within `alphastack.LIMIT` for every
  value the fact may hold. A rule that alone exceeds it is a group of its own, the fact it would
  have had anyway.
- an object has at most 255 properties (`MAX_OBJECT_PROPERTIES`): a group has at most
  `MAX_FACT_FIELDS` operand fields.

Sharing a field keeps every comparison exact: `encode_number` places the operand's double on the
same side of each constant as the exact value, for any set of constants whose doubles are at least
two apart. Two distinct constants whose doubles coincide or are adjacent (values within ~1e-16
relative of each other) are kept in separate fields.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..input.units import Quantity
from ..rules.expression import unparse
from .alphastack import LIMIT, AlphaNetwork
from .compiler import CompiledRule, CompiledRulebook, Operand, _dumps, _field_name

MAX_FACT_FIELDS = 240  # durable's objects hold 255 properties; `sid`, `id` and `rule` are three of them


@dataclass(frozen=True)
class FactGroup:
    """The rules decided on one fact: the fact's `rule` tag and the operand fields it carries."""

    tag: str
    keys: tuple[str, ...]
    operands: tuple[Operand, ...]

    @cached_property
    def json_head(self) -> str:
        """`"rule":"<tag>"`, the start of the group's fact after the session id."""
        return '"rule":' + json.dumps(self.tag, ensure_ascii=False)


@dataclass(frozen=True)
class PeriodRuleset:
    """The durable ruleset of one period's rule versions and the facts a case sends it."""

    groups: tuple[FactGroup, ...]
    definition_json: str
    rule_keys: dict[str, str]  # durable rule name → key of the rule version it decides


def period_of(compiled: CompiledRulebook, rules: list[CompiledRule]) -> PeriodRuleset:
    """The ruleset of `rules` (the versions checked on some date at some stage): packed the first
    time, then kept in `compiled.periods`."""
    key = tuple(rule.key for rule in rules)
    period = compiled.periods.get(key)
    if period is None:
        period = compiled.periods[key] = pack_period(compiled, rules)
    return period


def pack_periods(compiled: CompiledRulebook) -> None:
    """Pack every period of the rulebook ahead, at every stage: what the rule cache stores, so that
    neither a single check nor a batch worker packs (~20 ms a period, 32 periods in the bundled rules)."""
    stages = compiled.rulebook.stages()
    for start in compiled.rulebook.period_starts():
        for stage in stages:
            rules = compiled.checked_on(start, stage)
            if rules:
                period_of(compiled, rules)


def pack_period(compiled: CompiledRulebook, rules: list[CompiledRule]) -> PeriodRuleset:
    """Group `rules` into facts within durable's bounds; the ruleset that reads them. Each rule, in
    order, joins the group it shares most operands with (the earliest of equals) among those whose
    matcher stack it keeps within `alphastack.LIMIT`, or starts a group."""
    builders: list[_GroupBuilder] = []
    texts: dict[int, str] = {}
    for rule in rules:
        ranked = sorted(builders, key=lambda builder: -builder.shared(rule))  # stable: earliest of equals
        target = next((builder for builder in ranked if builder.try_add(compiled, rule)), None)
        if target is None:
            target = _GroupBuilder(f"g{len(builders) + 1}", texts)
            builders.append(target)
            target.try_add(compiled, rule, always=True)  # alone, it is the fact it had before grouping
    definition = {name: durable for builder in builders for name, durable in builder.definition.items()}
    groups = tuple(builder.group() for builder in builders)
    keys = {name: rule.key for rule in rules for name in rule.durable_names}
    return PeriodRuleset(groups, _dumps(definition), keys)


class _GroupBuilder:
    def __init__(self, tag: str, texts: dict[int, str]):
        self.tag = tag
        self.texts = texts  # id(term) → its text, shared by the builders of one period (terms outlive it)
        self.rules: list[CompiledRule] = []
        self.network = AlphaNetwork()  # the group's alpha network, to bound the matcher's stack
        self.fields: dict[str, _Field] = {}  # group field name → what it carries
        self.by_text: dict[str, list[str]] = {}  # operand text → the group fields of that text
        self.fields_of: dict[str, dict[str, str]] = {}  # rule key → {rule's field → group field}
        self.definition: dict[str, Any] = {}  # durable rule name → its conditions over the group's fact

    def shared(self, rule: CompiledRule) -> int:
        """How many of `rule`'s operands this group already carries."""
        return sum(1 for operand in rule.operands if self._field_for(operand) is not None)

    def try_add(self, compiled: CompiledRulebook, rule: CompiledRule, always: bool = False) -> bool:
        """Add `rule` if the group's fields and matcher stack stay within durable's bounds (or `always`)."""
        mapping = self._plan(rule)
        new_fields = sum(1 for name in mapping.values() if name not in self.fields)
        if not always and len(self.fields) + new_fields > MAX_FACT_FIELDS:
            return False
        mark = self.network.mark()
        durable = {name: _remap(compiled.definition[name], mapping, rule.key, self.tag) for name in rule.durable_names}
        for conditions in durable.values():
            self.network.add(conditions)
        if not always and self.network.depth() > LIMIT:
            self.network.undo(mark)
            return False
        self._add(rule, mapping)
        self.definition.update(durable)
        return True

    def _plan(self, rule: CompiledRule) -> dict[str, str]:
        """The group field each of `rule`'s operands would take: one of the same text whose constants
        it can join, else a new one."""
        mapping: dict[str, str] = {}
        taken = set(self.fields)
        for operand in rule.operands:
            name = self._field_for(operand)
            if name is None:
                name = _field_name(operand.term, len(taken), taken)
                taken.add(name)
            mapping[operand.field] = name
        return mapping

    def _add(self, rule: CompiledRule, mapping: dict[str, str]) -> None:
        self.rules.append(rule)
        for operand in rule.operands:
            name = mapping[operand.field]
            if name in self.fields:
                self.fields[name].merge(operand)
            else:
                self.fields[name] = _Field(operand)
                self.by_text.setdefault(self._text(operand.term), []).append(name)
        self.fields_of[rule.key] = mapping

    def group(self) -> FactGroup:
        return FactGroup(self.tag, tuple(r.key for r in self.rules),
                         tuple(f.operand(name) for name, f in self.fields.items()))

    def _text(self, term: Any) -> str:
        text = self.texts.get(id(term))
        if text is None:
            text = self.texts[id(term)] = unparse(term)
        return text

    def _field_for(self, operand: Operand) -> str | None:
        """A field of the same text whose constants `operand`'s can join, if any."""
        for name in self.by_text.get(self._text(operand.term), ()):
            if self.fields[name].accepts(operand):
                return name
        return None

class _Field:
    """One operand field of a group: the first rule's term, the other rules' terms of the same text
    (aliases, so the exact cross-check reads the value sent), and the union of their constants."""

    def __init__(self, operand: Operand):
        self.term = operand.term
        self.aliases: list[Any] = []
        self.constants: list[Any] = list(operand.constants)

    def accepts(self, operand: Operand) -> bool:
        return all(_apart(c, d) for c in operand.constants for d in self.constants)

    def merge(self, operand: Operand) -> None:
        if operand.term is not self.term and all(operand.term is not a for a in self.aliases):
            self.aliases.append(operand.term)
        self.constants.extend(c for c in operand.constants if c not in self.constants)

    def operand(self, name: str) -> Operand:
        return Operand(name, self.term, tuple(self.constants), tuple(self.aliases))


def _apart(a: Any, b: Any) -> bool:
    """Whether one field may be encoded against both constants: not two distinct numbers whose
    doubles coincide or are adjacent."""
    if not (isinstance(a, Quantity) and isinstance(b, Quantity)) or a.value == b.value:
        return True
    x, y = float(a.value), float(b.value)
    return x != y and math.nextafter(x, y) != y


def _remap(rule: dict[str, Any], mapping: dict[str, str], key: str, tag: str) -> dict[str, Any]:
    """A durable rule of `compiler` over the group's fact: `rule` matches the tag, fields renamed."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        out = {}
        for name, value in node.items():
            if name in ("$and", "$or"):
                out[name] = walk(value)
            elif name.startswith("$"):  # `{"$lt": {field: constant}}`, `{"$ex": {"rule": 1}}`
                out[name] = {("rule" if inner == "rule" else mapping[inner]): v for inner, v in value.items()}
            elif name == "rule":
                if value != key:  # pragma: no cover - compiler writes the rule's own key
                    raise ValueError(f"durable rule of {key} matches rule {value}")
                out[name] = tag
            else:
                out[mapping[name]] = value
        return out

    return {"all": [{"m": walk(rule["all"][0]["m"])}]}
