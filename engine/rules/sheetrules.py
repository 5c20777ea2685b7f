"""What the rulebook tells a spreadsheet of issuers: the judgments a row may state, the standards it
may choose, and which rules read each column's fact (for the template's column reference)."""

from __future__ import annotations

from collections import defaultdict

from ..input.sheetcolumns import Vocabulary
from .expression import names_in
from .rulebook import Rulebook


def vocabulary(rulebook: Rulebook) -> Vocabulary:
    """The rulebook's attested judgments (in file order), standard labels and readers of each fact."""
    standards = tuple(dict.fromkeys(r.standard for r in rulebook.rules.values() if r.standard))
    return Vocabulary({name: a.title.zh for name, a in rulebook.attestations.items()}, standards,
                      readers_of_facts(rulebook))


def readers_of_facts(rulebook: Rulebook) -> dict[str, tuple[str, ...]]:
    """Input fact or judgment → the rules whose condition or applicability reads it, directly or
    through derived figures (any version). A `chosen_standard` rule reads `chosen_standard`."""
    inputs: dict[str, set[str]] = {}

    def leaves(name: str, trail: frozenset[str] = frozenset()) -> set[str]:
        if name not in rulebook.figures or name in trail:
            return {name}
        if name not in inputs:
            inputs[name] = set().union(*(leaves(n, trail | {name}) for n in names_in(rulebook.figures[name].expr)))
        return inputs[name]

    readers: dict[str, set[str]] = defaultdict(set)
    for rule in rulebook.rules.values():
        read = {"chosen_standard"} if rule.kind == "chosen_standard" else set()
        for version in rule.versions:
            for node in (version.condition, version.applies_when):
                if node is not None:
                    read |= set().union(*(leaves(n) for n in names_in(node)))
        for name in read:
            readers[name].add(rule.id)
    return {name: tuple(sorted(ids)) for name, ids in sorted(readers.items())}
