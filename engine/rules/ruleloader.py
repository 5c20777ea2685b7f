"""Loading a rules directory into a checked `Rulebook`.

Loading parses every expression once, type-checks it against the vocabulary, checks
effective periods (no overlap, no gap) and collects *every* problem with its file,
line and rule id before raising, so `rules lint` and normal loading are the same code.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..common.errors import ExpressionError, Problem, RuleFileError
from ..input.casefacts import INPUT_FACTS
from ..input.caseload import problems_from_validation
from ..input.units import DIM_BY_NAME, Quantity
from ..input.yamlsource import SourceMap, dotted, load_file
from .expression import YEAR_FUNCTIONS, Call, Compare, Name, Node, Type, children, names_in, quantity
from .parser import clean_source, parse
from .typecheck import check
from .expression import Literal as LiteralNode
from .rulebook import Citation, Figure, Rule, RuleVersion, Rulebook, vocabulary_type
from .rulesources import HEADER, article_files, bundled_rules_dir, figure_files, instrument_files  # noqa: F401 - re-exported
from .rulefiles import (ArticleFile, Attested, Edition, FigureFile, FiguresFile, InstrumentFile, LatestYearWindow,
                        RuleFile, RulebookFile)

# ---------------------------------------------------------------------------------
# Loading


def load_rulebook(directory: str | Path | None = None) -> Rulebook:
    """Load and check a rules directory; `RuleFileError` lists every problem found."""
    return _Loader(Path(directory) if directory else bundled_rules_dir()).load()


class _Loader:
    def __init__(self, directory: Path):
        self.directory = directory
        self.problems: list[Problem] = []
        self.broken: set[str] = set()
        self.digest = hashlib.sha256()

    def read(self, path: Path, model: type[BaseModel]) -> tuple[Any, SourceMap] | None:
        from ..common.errors import InputError

        try:
            document = load_file(path)
        except InputError as exc:
            self.problems.extend(exc.problems)
            return None
        self.digest.update(str(path.relative_to(self.directory)).encode() + b"\0" + path.read_bytes() + b"\0")
        try:
            return model.model_validate(document.data), document.source
        except ValidationError as exc:
            self.problems.extend(problems_from_validation(exc, document.source, model=model))
            return None

    def load(self) -> Rulebook:
        if not self.directory.is_dir():
            raise RuleFileError([Problem("rules directory not found", file=str(self.directory))])
        header = self.read(self.directory / HEADER, RulebookFile)
        instruments: dict[str, InstrumentFile] = {}
        instrument_places: dict[str, tuple[SourceMap, int]] = {}
        for path in instrument_files(self.directory):
            loaded = self.read(path, InstrumentFile)
            if loaded:
                instrument, source = loaded
                if instrument.id in instruments:
                    self.problems.append(source.problem(("id",), f"duplicate instrument id '{instrument.id}'"))
                instruments[instrument.id] = instrument
                instrument_places[instrument.id] = (source, 0)
        figures, attestations = self.load_figures(instruments)
        rules: dict[str, Rule] = {}
        for path in article_files(self.directory):
            loaded = self.read(path, ArticleFile)
            if loaded:
                article, source = loaded
                self.load_article(article, source, instruments, figures, attestations, rules)
        self.check_groups(rules)
        if header is not None:
            parts = {part.id: part for part in header[0].parts}
            for rule in rules.values():
                if rule.part not in parts:
                    self.problems.append(Problem(f"unknown part '{rule.part}'", file=rule.file, line=rule.line,
                                                 rule_id=rule.id, expected=", ".join(parts)))
        windows = self.latest_year_windows(header, rules) if header is not None else ()
        if self.problems or header is None:
            unique = list(dict.fromkeys(self.problems))
            raise RuleFileError(unique or [Problem("missing rulebook.yaml", file=str(self.directory))])
        book, _ = header
        # Reports list rules part by part, in the rulebook's order (files load alphabetically).
        order = list(parts)
        rules = dict(sorted(rules.items(), key=lambda item: order.index(item[1].part)))
        return Rulebook(book.name, book.version, self.directory, rules, figures, attestations, instruments,
                        self.digest.hexdigest(), parts, book.known_as_of, windows)

    def latest_year_windows(self, header: tuple[RulebookFile, SourceMap],
                            rules: dict[str, Rule]) -> tuple[LatestYearWindow, ...]:
        book, source = header
        if book.latest_year_rule is None:
            return ()
        rule = rules.get(book.latest_year_rule)
        if rule is None:
            self.problems.append(source.problem(("latest_year_rule",), f"unknown rule '{book.latest_year_rule}'",
                                                expected="the id of the statement-validity rule"))
            return ()
        windows = []
        for version in rule.versions:
            node = version.condition
            value = node.right.value if isinstance(node, Compare) and isinstance(node.right, LiteralNode) else None
            if not (isinstance(node, Compare) and node.op == "<=" and isinstance(value, Quantity)
                    and value.value.denominator == 1 and 1 <= value.value <= 24):
                self.problems.append(Problem("the latest-year rule's condition must read `<figure> <= N个月` "
                                             "(N whole, 1–24)", file=rule.file, line=rule.line, rule_id=rule.id,
                                             field=f"versions ({version.period()})",
                                             expected="e.g. statements_age_months <= 9个月"))
                continue
            windows.append(LatestYearWindow(version.effective_from, int(value.value), rule.id))
        return tuple(windows)

    def load_figures(self, instruments: dict[str, InstrumentFile]) -> tuple[dict[str, Figure], dict[str, Attested]]:
        """Figures and judgments from `figures.yaml` and every `<instrument>/figures.yaml`."""
        files = figure_files(self.directory)
        attestations: dict[str, Attested] = {}
        declared: dict[str, FigureFile] = {}
        places: dict[str, tuple[SourceMap, int]] = {}
        for path in files:
            loaded = self.read(path, FiguresFile)
            if not loaded:
                continue
            figures_file, source = loaded
            for i, attested in enumerate(figures_file.attestations):
                if attested.id in attestations or attested.id in INPUT_FACTS or attested.id in declared:
                    self.problems.append(source.problem(("attestations", i, "id"), f"duplicate name '{attested.id}'",
                                                        rule_id=attested.id, kind="judgment"))
                attestations[attested.id] = attested
            for i, fig in enumerate(figures_file.figures):
                if fig.id in INPUT_FACTS or fig.id in attestations or fig.id in declared:
                    self.problems.append(source.problem(("figures", i, "id"), f"duplicate name '{fig.id}'",
                                                        rule_id=fig.id, kind="figure"))
                    continue
                declared[fig.id] = fig
                places[fig.id] = (source, i)
        parsed: dict[str, Node] = {}
        for fig_id, fig in declared.items():
            source, i = places[fig_id]
            node = self.parse_expr(fig.expr, source, ("figures", i, "expr"), fig_id, kind="figure")
            if node is not None:
                parsed[fig_id] = node
            if fig.citation:
                self.check_citation_edition(fig.citation.instrument, fig.citation.edition, instruments, source,
                                            ("figures", i, "citation"), fig_id, kind="figure")
        figures: dict[str, Figure] = {}
        self.broken = set(declared) - set(parsed)  # figures with a problem already reported
        order = self.topological_order(declared, parsed, places)
        for fig_id in order:
            fig = declared[fig_id]
            source, i = places[fig_id]
            if fig_id in self.broken or names_in(parsed[fig_id]) & self.broken:
                self.broken.add(fig_id)  # its own problem, or a dependency's, is reported once
                continue
            declared_type = _declared_type(fig.unit, fig.per_year)
            try:
                found = check(parsed[fig_id], _Scope(figures, attestations), fig.expr)
            except ExpressionError as exc:
                self.problems.append(self.expr_problem(exc, source, ("figures", i, "expr"), fig_id, kind="figure"))
                self.broken.add(fig_id)
                continue
            if (found.kind, found.dim) != (declared_type.kind, declared_type.dim):
                self.problems.append(source.problem(("figures", i, "expr"),
                                                    f"expression gives {found.describe()}, but unit is '{fig.unit}'",
                                                    rule_id=fig_id, kind="figure"))
                self.broken.add(fig_id)
                continue
            if found.per_year != fig.per_year:
                self.problems.append(source.problem(("figures", i, "per_year"),
                                                    f"expression is {'per year' if found.per_year else 'not per year'}"
                                                    f", but per_year is {str(fig.per_year).lower()}", rule_id=fig_id,
                                                    kind="figure"))
                self.broken.add(fig_id)
                continue
            figures[fig_id] = Figure(fig_id, fig.title, found, parsed[fig_id], fig.expr, fig.citation, source.file)
        return figures, attestations

    def topological_order(self, declared: dict[str, FigureFile], parsed: dict[str, Node],
                          places: dict[str, tuple[SourceMap, int]]) -> list[str]:
        """Figures in dependency order; a cycle is a problem naming its members."""
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2 or name not in parsed:
                return
            if state.get(name) == 1:
                cycle = trail[trail.index(name):] + [name]
                source, i = places[name]
                self.problems.append(source.problem(("figures", i, "expr"),
                                                    "derived figures form a cycle: " + " → ".join(cycle),
                                                    rule_id=name, kind="figure"))
                self.broken.update(cycle)
                return
            state[name] = 1
            for dependency in sorted(names_in(parsed[name])):
                if dependency in declared:
                    visit(dependency, trail + [name])
            state[name] = 2
            order.append(name)

        for name in declared:
            visit(name, [])
        return order

    def load_article(self, article: ArticleFile, source: SourceMap, instruments: dict[str, InstrumentFile],
                     figures: dict[str, Figure], attestations: dict[str, Attested], rules: dict[str, Rule]) -> None:
        instrument = instruments.get(article.instrument)
        if instrument is None:
            self.problems.append(source.problem(("instrument",), f"unknown instrument '{article.instrument}'",
                                                expected=", ".join(sorted(instruments)) or "an instrument.yaml"))
            return
        scope = _Scope(figures, attestations)
        for i, rule in enumerate(article.rules):
            where = ("rules", i)
            if rule.id in rules:
                self.problems.append(source.problem(where + ("id",), f"duplicate rule id '{rule.id}'",
                                                    rule_id=rule.id))
                continue
            versions = []
            for j, version in enumerate(rule.versions):
                vwhere = where + ("versions", j)
                cited = instruments.get(version.instrument or instrument.id, instrument)
                edition = self.check_citation_edition(version.instrument or instrument.id, version.edition,
                                                      instruments, source, vwhere + ("edition",), rule.id)
                applies_text = version.applies_when or rule.applies_when
                condition_text = version.condition or rule.condition
                applies_where = vwhere + ("applies_when",) if version.applies_when else where + ("applies_when",)
                condition_where = vwhere + ("condition",) if version.condition else where + ("condition",)
                applies = self.checked_condition(applies_text, source, applies_where, rule.id, scope)
                condition = self.checked_condition(condition_text, source, condition_where, rule.id, scope)
                if rule.kind == "check" and condition_text is None:
                    self.problems.append(source.problem(vwhere, "a check rule needs a condition",
                                                        rule_id=rule.id))
                if version.effective_to and version.effective_to < version.effective_from:
                    self.problems.append(source.problem(vwhere + ("effective_to",),
                                                        "effective_to is before effective_from", rule_id=rule.id))
                quote = version.quote or rule.quote
                if quote is None:
                    self.problems.append(source.problem(vwhere, "no quote: the rule or the version must quote "
                                                                "the article text", rule_id=rule.id))
                if edition is None or quote is None:
                    continue
                citation = Citation(cited.id, cited.title, edition.document, edition.id, edition.date,
                                    version.article or article.article, rule.item, quote.strip(), version.text,
                                    version.source, version.script, _displayed(quote.strip(), version.script))
                versions.append(RuleVersion(version.effective_from, version.effective_to, citation, applies,
                                            applies_text, condition, condition_text))
            self.check_periods(rule, versions, source, where)
            ordered = sorted(versions, key=lambda v: v.effective_from)
            if ordered and ordered[-1].effective_to is not None and not rule.ended:
                self.problems.append(source.problem(
                    where, f"the last version ends on {ordered[-1].effective_to.isoformat()}: say why in `ended` "
                           "(repealed by …, or not encoded after … and why)", rule_id=rule.id,
                    expected="ended: <reason>"))
            if rule.ended and (not ordered or ordered[-1].effective_to is None):
                self.problems.append(source.problem(where + ("ended",), "`ended` given, but the last version is open",
                                                    rule_id=rule.id))
            if rule.kind == "chosen_standard" and not rule.alternatives:
                self.problems.append(source.problem(where, "a chosen_standard rule needs 'alternatives'",
                                                    rule_id=rule.id))
            if rule.standard and not rule.group:
                self.problems.append(source.problem(where + ("standard",), "a standard must belong to a group",
                                                    rule_id=rule.id))
            line, _ = source.locate(where)
            rules[rule.id] = Rule(rule.id, rule.title, article.part, rule.kind, tuple(s.value for s in rule.stages),
                                  rule.group,
                                  rule.standard, rule.alternatives, tuple(versions), source.file, line,
                                  " ".join(rule.ended.split()) if rule.ended else None, rule.severity)

    def check_periods(self, rule: RuleFile, versions: list[RuleVersion], source: SourceMap, where: tuple) -> None:
        ordered = sorted(versions, key=lambda v: v.effective_from)
        for earlier, later in zip(ordered, ordered[1:]):
            if earlier.effective_to is None or earlier.effective_to >= later.effective_from:
                self.problems.append(source.problem(where + ("versions",),
                                                    f"versions overlap: {earlier.label()} and {later.label()}",
                                                    rule_id=rule.id))
            elif earlier.effective_to + dt.timedelta(days=1) != later.effective_from:
                self.problems.append(source.problem(where + ("versions",),
                                                    f"gap between versions: {earlier.label()} and {later.label()}",
                                                    rule_id=rule.id))

    def check_groups(self, rules: dict[str, Rule]) -> None:
        groups = {r.group for r in rules.values() if r.group}
        labels: dict[tuple[str, str], str] = {}
        for rule in rules.values():
            if rule.kind == "chosen_standard" and rule.alternatives not in groups:
                self.problems.append(Problem(f"alternatives group '{rule.alternatives}' has no members",
                                             file=rule.file, line=rule.line, rule_id=rule.id))
            if rule.group and rule.standard:
                key = (rule.group, rule.standard)
                if key in labels:
                    self.problems.append(Problem(f"standard {rule.standard} is also rule {labels[key]}",
                                                 file=rule.file, line=rule.line, rule_id=rule.id))
                labels[key] = rule.id

    def check_citation_edition(self, instrument_id: str, edition_id: str, instruments: dict[str, InstrumentFile],
                               source: SourceMap, where: tuple, rule_id: str, kind: str = "rule") -> Edition | None:
        instrument = instruments.get(instrument_id)
        if instrument is None:
            self.problems.append(source.problem(where, f"unknown instrument '{instrument_id}'", rule_id=rule_id,
                                                kind=kind))
            return None
        for edition in instrument.editions:
            if edition.id == edition_id:
                return edition
        self.problems.append(source.problem(where, f"unknown edition '{edition_id}' of {instrument_id}",
                                            expected=", ".join(e.id for e in instrument.editions), rule_id=rule_id,
                                            kind=kind))
        return None

    def parse_expr(self, text: str, source: SourceMap, where: tuple, rule_id: str,
                   kind: str = "rule") -> Node | None:
        try:
            return parse(text)
        except ExpressionError as exc:
            self.problems.append(self.expr_problem(exc, source, where, rule_id, kind))
            return None

    def checked_condition(self, text: str | None, source: SourceMap, where: tuple, rule_id: str,
                          scope: _Scope) -> Node | None:
        if text is None:
            return None
        node = self.parse_expr(text, source, where, rule_id)
        if node is None or names_in(node) & self.broken:
            return None  # a figure it reads is broken: that problem is reported once, there
        try:
            found = check(node, scope, text)
        except ExpressionError as exc:
            self.problems.append(self.expr_problem(exc, source, where, rule_id))
            return None
        if found.kind == "bool" and found.per_year:
            bare = _bare_per_year(node, scope)
            names = sorted({n.name for n in bare})
            first = names[0] if names else "the figure"
            column = f" (column {bare[0].column})" if bare else ""
            self.problems.append(source.problem(
                where, f"{', '.join(names)} {'has' if len(names) == 1 else 'have'} one value per fiscal year; "
                       f"compare latest({first}), year(k, {first}) or sum_latest(n, {first}) in "
                       f"`{clean_source(text)}`{column}", rule_id=rule_id))
            return None
        if found.kind != "bool":
            self.problems.append(source.problem(where, f"a condition must be true or false, not {found.describe()}",
                                                rule_id=rule_id))
            return None
        return node

    @staticmethod
    def expr_problem(exc: ExpressionError, source: SourceMap, where: tuple, rule_id: str,
                     kind: str = "rule") -> Problem:
        line, column = source.locate(where)
        detail = f"{exc.message} in `{exc.text}`" + (f" (column {exc.column})" if exc.column else "")
        return Problem(detail, file=source.file, line=line, column=column, field=dotted(where), rule_id=rule_id,
                       kind=kind)


@dataclass
class _Scope:
    figures: dict[str, Figure]
    attestations: dict[str, Attested]
    extra: dict[str, Type] = field(default_factory=dict)

    def type_of(self, name: str) -> Type | None:
        return vocabulary_type(name, self.figures, self.attestations)

    def names(self) -> list[str]:
        return sorted(set(INPUT_FACTS) | set(self.figures) | set(self.attestations))


def _bare_per_year(node: Node, scope: _Scope) -> list[Name]:
    """Per-year names used outside any year function, in text order."""
    if isinstance(node, Call) and node.function in YEAR_FUNCTIONS:
        return []
    if isinstance(node, Name):
        found = scope.type_of(node.name)
        return [node] if found is not None and found.per_year else []
    out: list[Name] = []
    for child in children(node):
        out += _bare_per_year(child, scope)
    return sorted(out, key=lambda n: n.column)


def _displayed(quote: str, script: str) -> str:
    """The quote in simplified characters: OpenCC's t2s conversion of a quote read in traditional."""
    if script != "traditional":
        return quote
    return _t2s().convert(quote)


@functools.lru_cache(maxsize=1)
def _t2s() -> Any:
    """One OpenCC converter for every traditional quote (each one built costs ~7 ms at start-up)."""
    import opencc  # only rule sets with a traditional quote need it

    return opencc.OpenCC("t2s")


def _declared_type(unit: str, per_year: bool) -> Type:
    if unit in ("bool", "text", "date"):
        return Type(unit, None, per_year)
    return quantity(DIM_BY_NAME[unit], per_year)
