"""Evaluate a case: select the rule versions in force, run durable_rules, build results.

For one case: the rule versions in force on the case's date (or `as_of`) and stage
are selected; their operands are computed exactly and sent as a few facts, each shared
by a group of rules (`factgroups`); durable_rules decides pass / fail / not applicable
for each rule (neither firing means undetermined, with the missing facts named). The
same conditions are also evaluated exactly in Python (Kleene logic on rationals,
compiled once into closures by `conditions`); a disagreement is an `InternalError`,
never a silent answer. Alternatives groups (the listing standards) are then composed: the
chosen standard must hold, and the others are reported as information.

durable_rules is driven through the C binding it ships (`durable_rules_engine`)
synchronously, one session id per case, deleted when the case is done: no host
threads, no state kept between cases, at most one live session.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import json
from dataclasses import dataclass, replace
from typing import Any, Callable

import durable_rules_engine

from ..common.errors import CaseError, InternalError, Problem
from ..common.interrupts import held
from ..input.casefacts import CaseFacts, case_facts
from ..input.caseload import LoadedCase
from ..input.units import UNITS, Quantity, display_unit_for
from ..rules.expression import NEGATED, SYMBOL, BoolOp, Compare, If, Literal, Name, Node, Unary, YearRef, children, rebuild, unparse
from ..rules.rulebook import Rule, Rulebook, RuleVersion
from .compiler import CompiledRule, CompiledRulebook, compile_rulebook
from .conditions import Condition, compile_condition
from .factgroups import PeriodRuleset, period_of
from .facts import FactEnvironment, Missing, compare, required_latest_year
from .results import (NOT_COUNTED, Attested, CaseResult, Comparison, FigureValue, PartResult, RuleResult, Status,
                      Verdict)

_ENGINE_IDS = itertools.count(1)
_FIRED_STATUS = {"pass": Status.passed, "fail": Status.failed, "na": Status.not_applicable}
_MAX_SHARED = 20_000  # results shared between cases (`Evaluator._plain`)


@dataclass
class _Pending:
    rule: Rule
    version: RuleVersion
    compiled: CompiledRule
    applies_when: Condition | None  # the compiled rule's conditions as closures (`conditions`)
    condition: Condition


@dataclass
class _Plan:
    """The rules of one period and stage: not in force, at another stage (results made once),
    checked through durable_rules, chosen among alternatives."""

    not_in_force: list[Rule]
    off_stage: dict[str, RuleResult]
    pending: list[_Pending]
    chosen: list[tuple[Rule, RuleVersion]]


class Evaluator:
    """A compiled rulebook loaded into durable_rules, ready to evaluate many cases."""

    def __init__(self, rulebook: Rulebook, compiled: CompiledRulebook | None = None):
        self.rulebook = rulebook
        self.compiled = compiled or compile_rulebook(rulebook)
        self._name = f"star_listing_{next(_ENGINE_IDS)}"
        # One durable ruleset per set of rule versions a case meets (the versions in force on its
        # date, at its stage), created the first time a case needs it: a case is matched against
        # its ~30 rules, not all 246 durable rules of every period.
        self._rulesets: dict[tuple[str, ...], tuple[Any, PeriodRuleset]] = {}
        self._sessions = itertools.count(1)
        self._breaks: list[dt.date] | None = None  # the dates on which some version starts or ends
        self._plans: dict[tuple[int, str], _Plan] = {}
        self._earliest = rulebook.earliest_date()
        # A result without explanations depends on the rule version, its status, the durable rules
        # fired and the facts missing alone: made once and shared (results are frozen), as are its
        # variants marked informational or chosen among alternatives.
        self._plain: dict[tuple[str, Status, tuple[str, ...], Missing | None], RuleResult] = {}
        self._shared: set[int] = set()  # identities of the results in `_plain`
        self._marked: dict[tuple[int, bool, bool], RuleResult] = {}
        self._standards = sorted({r.standard for r in rulebook.rules.values() if r.standard})
        self._members: dict[str, list[Rule]] = {}  # an alternatives rule's id → the rules of its group
        self._compiled_conditions: dict[str, tuple[Condition | None, Condition]] = {}
        self._constants = FactEnvironment(rulebook, CaseFacts({}, {}, {}, frozenset()))  # no facts: constants
        self._fired: dict[tuple[str, ...], tuple[tuple[str, ...], Status]] = {}

    def close(self) -> None:
        for handle, _ in self._rulesets.values():
            durable_rules_engine.delete_ruleset(handle)
        self._rulesets.clear()

    def _ruleset(self, pending: list[_Pending]) -> tuple[Any, PeriodRuleset]:
        key = tuple(item.compiled.key for item in pending)
        made = self._rulesets.get(key)
        if made is None:
            period = period_of(self.compiled, [item.compiled for item in pending])
            handle = durable_rules_engine.create_ruleset(f"{self._name}_{len(self._rulesets) + 1}",
                                                         period.definition_json)
            made = self._rulesets[key] = (handle, period)
        return made

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------
    def evaluate(self, loaded: LoadedCase, as_of: dt.date | None = None, require: tuple[str, ...] = (),
                 explain: bool = True) -> CaseResult:
        """Judge one case. `require` names parts (e.g. "scitech") that count for the verdict
        even though the rulebook reports them apart. With `explain=False` (a batch row shows
        none of it) rules carry status, missing facts and fired rules only: no comparisons,
        figures or reasons beyond the status."""
        case = loaded.case
        unknown = [p for p in require if p not in self.rulebook.parts]
        if unknown:
            raise CaseError([Problem(f"unknown part '{unknown[0]}'", expected=", ".join(self.rulebook.parts))])
        on = as_of or case.evaluation.date
        earliest = self._earliest
        if on < earliest:
            message = f"no STAR Market rule is in force on {on.isoformat()}"
            if as_of is not None:  # the option, not the case, asked for that date
                raise CaseError([Problem(message, field="--as-of", expected=f"a date from {earliest.isoformat()}")])
            raise CaseError([loaded.source.problem(("evaluation", "date"), message,
                                                   expected=f"a date from {earliest.isoformat()}")])
        self._check_case_names(loaded)
        env = self.fact_environment(case_facts(case), on)
        ordered = self.evaluate_rules(env, on, case.evaluation.stage.value, case.chosen_standard, explain)
        return self._case_result(loaded, on, ordered, env, require, explain)

    def fact_environment(self, facts: CaseFacts, on: dt.date,
                         overrides: dict[str, Any] | None = None) -> FactEnvironment:
        """The case's facts under the rules in force on `on`: 最近一年 is at least the fiscal year a
        filing on the case's own date must show (the statement-validity window in force on `on`)."""
        window = self.rulebook.latest_year_window(on)
        dated = facts.scalars.get("evaluation_date")
        required, because = None, ""
        if window is not None and isinstance(dated, dt.date):
            required = required_latest_year(dated, window.months)
            because = (f"a case dated {dated.isoformat()} must show fiscal year {required} or later: financial "
                       f"statements are usable at most {window.months} months after their period end ({window.rule})")
        return FactEnvironment(self.rulebook, facts, overrides, required, because)

    def evaluate_rules(self, env: FactEnvironment, on: dt.date, stage: str,
                       chosen_standard: str | None, explain: bool = True) -> tuple[RuleResult, ...]:
        """Every rule's result for the facts in `env`, under the versions in force `on`, at `stage`.

        The building block of `evaluate`, also used directly by the YAML rule tests, which
        state only the facts a rule needs.
        """
        plan = self._plan(on, stage)
        results: dict[str, RuleResult] = {}
        for rule in plan.not_in_force:
            results[rule.id] = _not_in_force(rule, on)
        results.update(plan.off_stage)
        fired = self._run_durable(plan.pending, env)
        for item in plan.pending:
            results[item.rule.id] = self._check_result(item, env, fired.get(item.compiled.key, []), explain)
        for rule, version in plan.chosen:
            results[rule.id] = self._chosen_result(rule, version, chosen_standard, results)
        return tuple(results[r.id] for r in self.rulebook.rules.values())

    def _plan(self, on: dt.date, stage: str) -> _Plan:
        """Which rules are in force, at the stage, checked or chosen: the same for every date of
        a period in which no version starts or ends, so made once per period and stage."""
        if self._breaks is None:
            self._breaks = self.rulebook.period_starts()
        key = (bisect.bisect_right(self._breaks, on), stage)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _Plan([], {}, [], [])
            for rule in self.rulebook.rules.values():
                version = rule.version_on(on)
                if version is None:
                    plan.not_in_force.append(rule)
                elif stage not in rule.stages:
                    plan.off_stage[rule.id] = _simple(
                        rule, version, Status.not_applicable,
                        f"applies at the {' and '.join(rule.stages)} stage, not at {stage}")
                elif rule.kind == "chosen_standard":
                    plan.chosen.append((rule, version))
            plan.pending.extend(_Pending(compiled.rule, compiled.version, compiled, *self._conditions(compiled))
                                for compiled in self.compiled.checked_on(on, stage))
        return plan

    def _conditions(self, compiled: CompiledRule) -> tuple[Condition | None, Condition]:
        made = self._compiled_conditions.get(compiled.key)
        if made is None:
            applies = compiled.applies_when
            made = self._compiled_conditions[compiled.key] = (
                compile_condition(applies, self._constants) if applies is not None else None,
                compile_condition(compiled.condition, self._constants))
        return made

    # ------------------------------------------------------------------------
    def _run_durable(self, pending: list[_Pending], env: FactEnvironment) -> dict[str, list[str]]:
        """Assert the period's facts (`factgroups`: one per group of rules, sharing their operands) in
        a fresh session; return the durable rules fired by the key of the rule version they decide."""
        if not pending:
            return {}
        handle, period = self._ruleset(pending)
        keys = period.rule_keys
        sid = f"case{next(self._sessions)}"
        head = '{"sid":"' + sid + '",'
        facts = []
        for group in period.groups:  # JSON text built from fragments made at compile time
            parts = [head, group.json_head]
            for operand in group.operands:
                key = operand.lookup_key
                value = env.lookup(*key) if key is not None else env.shared_operand(operand.term, operand.aliases)
                if not isinstance(value, Missing):
                    parts.append(operand.json_item(value))
            parts.append("}")
            facts.append("".join(parts))
        payload = "[" + ",".join(facts) + "]"
        fired: dict[str, list[str]] = {}
        # SIGINT and SIGTERM wait until the session is deleted: a signal raised between durable's calls
        # (a worker leaves on SIGTERM by unwinding) would delete a state whose action is half taken, and
        # durable then frees a pointer it never set ("free(): invalid pointer", the process aborted)
        with held():
            try:
                code, state_handle = durable_rules_engine.assert_facts(handle, payload)
                result = durable_rules_engine.start_action_for_state(handle, state_handle)
                message = result[1] if result else None
                while message:
                    # one action a message, `{"<rule name>":<frame>}`, the name written as it was given:
                    # a name read off the front is looked up among the ruleset's own, else the JSON is parsed
                    name = message[2:message.find('":', 2)]
                    key = keys.get(name)
                    if key is not None:
                        fired.setdefault(key, []).append(name)
                    else:
                        for name in json.loads(message):  # `<key>|pass`, `<key>|fail`, `<key>|na`
                            fired.setdefault(name.rsplit("|", 1)[0], []).append(name)
                    message = durable_rules_engine.complete_and_start_action(handle, state_handle)
                # checked once every action is taken: durable can corrupt its heap when a state is
                # deleted with dozens of actions pending (seen with 33-64 on durable_rules 2.0.28)
                if code == 2:
                    raise InternalError("durable_rules reported a fact as already observed in a fresh session")
            finally:
                durable_rules_engine.delete_state(handle, sid)
        return fired

    def _check_result(self, item: _Pending, env: FactEnvironment, fired: list[str], explain: bool) -> RuleResult:
        compiled = item.compiled
        names, durable_status = self._fired_status(item, fired)
        exact, missing = status_of(env, item.applies_when, item.condition)
        if exact != durable_status:
            raise InternalError(f"rule {item.rule.id}: durable_rules says {durable_status.value}, "
                                f"exact evaluation says {exact.value}")
        if not explain:
            key = (compiled.key, durable_status, names, missing)
            plain = self._plain.get(key)
            if plain is None:
                if len(self._plain) >= _MAX_SHARED:  # distinct missing facts are bounded, but be sure
                    self._plain.clear()
                    self._shared.clear()
                    self._marked.clear()
                plain = self._plain[key] = self._result(item, durable_status, (), (), (), missing, names)
                self._shared.add(id(plain))
            return plain
        comparisons = _explain(compiled.condition, env)
        applicability = _explain(compiled.applies_when, env) if compiled.applies_when is not None else ()
        return self._result(item, durable_status, comparisons, applicability, _figures(compiled, env, self.rulebook),
                            missing, names)

    def _fired_status(self, item: _Pending, fired: list[str]) -> tuple[tuple[str, ...], Status]:
        """The durable rules fired for a rule (each once) and the status they say; a few combinations
        recur in every case, so each is read once."""
        key = tuple(fired)
        known = self._fired.get(key)
        if known is None:
            names = tuple(sorted(set(fired)))  # durable fires a rule once per satisfied branch of an `or`
            outcomes = {name.rsplit("|", 1)[1] for name in names}
            if len(outcomes) > 1:
                raise InternalError(f"rule {item.rule.id}: durable_rules fired {list(names)}")
            known = names, _FIRED_STATUS.get(next(iter(outcomes), ""), Status.undetermined)
            if len(self._fired) < _MAX_SHARED:
                self._fired[key] = known
        return known

    @staticmethod
    def _result(item: _Pending, status: Status, comparisons: tuple[Comparison, ...],
                applicability: tuple[Comparison, ...], figures: tuple[FigureValue, ...], missing: Missing | None,
                fired: tuple[str, ...]) -> RuleResult:
        return _simple(item.rule, item.version, status, _reason(status, comparisons, applicability, missing),
                       comparisons=comparisons, applicability=applicability, figures=figures,
                       missing=tuple(sorted(missing.facts)) if missing else (),
                       missing_reasons=missing.reasons if missing else (), fired=fired)

    def _chosen_result(self, rule: Rule, version: RuleVersion, chosen: str | None,
                       results: dict[str, RuleResult]) -> RuleResult:
        members = self._members.get(rule.id)
        if members is None:
            members = self._members[rule.id] = self.rulebook.members(rule.alternatives or "")
        if chosen is None:
            return _screening_result(rule, version, members, results, self._mark)
        member = next((m for m in members if m.standard == chosen), None)
        if member is None:
            return _simple(rule, version, Status.failed,
                           f"{chosen} is not one of the standards of {rule.alternatives}")
        outcome = results[member.id]
        if outcome.status == Status.not_in_force:
            status, reason = Status.undetermined, f"chosen standard {chosen} is not encoded: {outcome.reason}"
        elif outcome.status == Status.not_applicable:
            status, reason = Status.failed, f"chosen standard {chosen} does not apply: {outcome.reason}"
        elif outcome.status == Status.passed:
            status, reason = Status.passed, f"chosen standard {chosen} holds"
        elif outcome.status == Status.failed:
            status, reason = Status.failed, f"chosen standard {chosen} does not hold: {outcome.reason}"
        else:
            status, reason = Status.undetermined, f"chosen standard {chosen} is undetermined: {outcome.reason}"
        holding = [m.standard for m in members if results[m.id].status == Status.passed and m.standard]
        if holding:
            reason += "; standards that hold: " + ", ".join(holding)
        for m in members:
            # the group rule carries the verdict; members are reported, the chosen one marked
            results[m.id] = self._mark(results[m.id], True, m.id == member.id)
        return _simple(rule, version, status, reason, comparisons=outcome.comparisons,
                       applicability=outcome.applicability, figures=outcome.figures, missing=outcome.missing)

    def _mark(self, result: RuleResult, informational: bool, chosen: bool = False) -> RuleResult:
        """`result` as an alternative (informational), chosen or not; made once for a shared result."""
        key = (id(result), informational, chosen)
        marked = self._marked.get(key)
        if marked is None:
            marked = replace(result, informational=informational, chosen=chosen)
            if id(result) in self._shared:  # alive as long as the evaluator: its identity stays its own
                self._marked[key] = marked
        return marked

    def _check_case_names(self, loaded: LoadedCase) -> None:
        """Attestation names and the chosen standard must be ones the rulebook knows."""
        problems: list[Problem] = []
        for name in loaded.case.attestations:
            if name not in self.rulebook.attestations:
                import difflib  # only for a bad name: a good case never loads it

                guess = difflib.get_close_matches(name, list(self.rulebook.attestations), n=1)
                problems.append(loaded.source.problem(
                    ("attestations", name), f"unknown attestation '{name}'" + (f"; did you mean '{guess[0]}'?" if guess else ""),
                    expected=", ".join(sorted(self.rulebook.attestations))))
        chosen = loaded.case.chosen_standard
        if chosen is not None and chosen not in self._standards:
            problems.append(loaded.source.problem(("chosen_standard",), f"unknown standard '{chosen}'",
                                                  expected=", ".join(self._standards)))
        if problems:
            raise CaseError(problems)

    def _case_result(self, loaded: LoadedCase, on: dt.date, results: tuple[RuleResult, ...],
                     env: FactEnvironment, require: tuple[str, ...] = (), explained: bool = True) -> CaseResult:
        by_part: dict[str, list[RuleResult]] = {part: [] for part in self.rulebook.parts}
        for r in results:
            by_part.setdefault(r.part, []).append(r)
        parts = tuple(
            _consequences_result(part.id, part.title.zh, part.title.en, by_part[part.id])
            if part.consequences else
            _part_result(part.id, part.title.zh, part.title.en, part.decides_verdict or part.id in require,
                         by_part[part.id], on)
            for part in self.rulebook.parts.values())
        # a part the user required must judge something: no rule judged is undetermined, never eligible
        parts = tuple(replace(p, verdict=Verdict.undetermined,
                              summary=f"required, but no rule of this part is judged: {p.summary}")
                      if p.part in require and p.applicable is False else p for p in parts)
        counted_parts = {p.part for p in parts if p.counts}
        counting = [r for r in results if r.part in counted_parts]
        overall = _part_result("overall", "", "", True, counting)
        verdict, summary = overall.verdict, overall.summary
        unjudged = [p for p in parts if p.counts and (not p.encoded or (p.part in require and not p.applicable))]
        if unjudged and verdict == Verdict.eligible:  # a part that counts but judged no rule decides nothing
            verdict = Verdict.undetermined
            summary = "undetermined: " + "; ".join(f"{p.part} ({p.title_en}) is {p.summary}" for p in unjudged)
        warnings = []
        known = self.rulebook.known_as_of
        if known is not None and on > known:
            warnings.append(f"judged on {on.isoformat()}, after the rule set's known-as-of date {known.isoformat()}: "
                            "editions published since then are not encoded")
        if env.stale:
            warnings.append(f"the case states no fiscal year {env.latest_year}; {env.required_because}. "
                            f"Rules that read 最近一年 are not judged on older years")
        holding = tuple(r.standard for r in results if r.standard and r.status == Status.passed)
        attested = tuple(
            Attested(name, self.rulebook.attestations[name].title.zh, a.holds, a.attested_by,
                     tuple(_evidence_text(e) for e in a.evidence))
            for name, a in sorted(loaded.case.attestations.items()))
        versions = sorted({r.version for r in results if r.version})
        case = loaded.case
        return CaseResult(
            case_id=loaded.case_id, case_file=loaded.source.file, case_sha256=loaded.text_sha256,
            issuer=case.issuer.name, stage=case.evaluation.stage.value, case_date=case.evaluation.date, as_of=on,
            chosen_standard=case.chosen_standard, rulebook_name=self.rulebook.name,
            rulebook_version=self.rulebook.version, rulebook_sha256=self.rulebook.sha256, verdict=verdict,
            summary=summary, results=results, standards_holding=holding, attestations=attested,
            versions_used=tuple(versions), parts=parts, warnings=tuple(warnings), explained=explained)


# ---------------------------------------------------------------------------------
# Building results


def exact_status(env: FactEnvironment, applies_when: Node | None, condition: Node) -> tuple[Status, Missing | None]:
    """A rule's status by exact evaluation alone (three-valued): what durable_rules must agree
    with, and what break-even prices are searched on. Missing facts come back with undetermined."""
    return status_of(env, (lambda e: e.evaluate(applies_when)) if applies_when is not None else None,
                     lambda e: e.evaluate(condition))


def status_of(env: FactEnvironment, applies_when: Condition | None,
              condition: Condition) -> tuple[Status, Missing | None]:
    """`exact_status` of conditions given as functions of the environment (`conditions`)."""
    applies = applies_when(env) if applies_when is not None else True
    if isinstance(applies, Missing):
        return Status.undetermined, applies
    if not applies:
        return Status.not_applicable, None
    holds = condition(env)
    if isinstance(holds, Missing):
        return Status.undetermined, holds
    return (Status.passed if holds else Status.failed), None


def _needs(undetermined: list[RuleResult]) -> str:
    """`rule needs fact, fact; rule needs …` for a part's summary."""
    return "; ".join(f"{r.rule_id} needs {', '.join(r.missing) or 'more facts'}" for r in undetermined)


def _consequences_result(part: str, title_zh: str, title_en: str, results: list[RuleResult]) -> PartResult:
    """Which consequences apply (their condition holds); never part of the verdict."""
    applies = [r.rule_id for r in results if r.status == Status.passed]
    unknown = [r for r in results if r.status == Status.undetermined]
    summary = ("applies: " + ", ".join(applies)) if applies else "none applies"
    if unknown:
        summary += "; undetermined: " + _needs(unknown)
    verdict = Verdict.undetermined if unknown else Verdict.eligible
    return PartResult(part, title_zh, title_en, verdict, summary, False, consequences=True)


def _part_result(part: str, title_zh: str, title_en: str, counts: bool, results: list[RuleResult],
                 on: dt.date | None = None) -> PartResult:
    """Not eligible if a counted rule fails; else undetermined if one is undetermined; else eligible."""
    counted = [r for r in results if not r.informational and not r.guideline and r.status not in NOT_COUNTED]
    if results and all(r.status == Status.not_in_force for r in results):
        summary = f"not encoded for {on.isoformat() if on else 'this date'}: no rule of this part is in force then"
        ended = sorted({r.reason for r in results})
        summary += " (" + "; ".join(ended) + ")"
        return PartResult(part, title_zh, title_en, Verdict.undetermined, summary, counts, encoded=False)
    failed = [r for r in counted if r.status == Status.failed]
    undetermined = [r for r in counted if r.status == Status.undetermined]
    if failed:
        verdict = Verdict.not_eligible
        summary = "not eligible: " + "; ".join(f"{r.rule_id} fails" for r in failed)
    elif undetermined:
        verdict = Verdict.undetermined
        summary = "undetermined: " + _needs(undetermined)
    elif not counted:
        verdict, summary = Verdict.eligible, "no rule of this part applies on this date and stage"
        return PartResult(part, title_zh, title_en, verdict, summary, counts, applicable=False)
    else:
        verdict = Verdict.eligible
        summary = ("eligible: the applicable rule passes" if len(counted) == 1
                   else f"eligible: all {len(counted)} applicable rules pass")
    return PartResult(part, title_zh, title_en, verdict, summary, counts)


def _simple(rule: Rule, version: RuleVersion | None, status: Status, reason: str, *,
            comparisons: tuple[Comparison, ...] = (), applicability: tuple[Comparison, ...] = (),
            figures: tuple[FigureValue, ...] = (),
            missing: tuple[str, ...] = (), missing_reasons: tuple[str, ...] = (),
            fired: tuple[str, ...] = ()) -> RuleResult:
    if missing_reasons:
        reason = reason + " (" + "; ".join(missing_reasons) + ")"
    guideline = rule.severity == "guideline"
    if guideline and status == Status.failed:
        reason = "exceeds the guideline (原则上: a presumption the offering plan may rebut, not a bar): " + reason
    return RuleResult(
        rule_id=rule.id, part=rule.part, title_zh=rule.title.zh, title_en=rule.title.en, status=status,
        reason=reason,
        citation=version.citation if version else None, version=version.label() if version else None,
        condition=version.condition_text if version else None,
        applies_when=version.applies_when_text if version else None,
        comparisons=comparisons, applicability=applicability, figures=figures, missing=missing,
        group=rule.group, standard=rule.standard, guideline=guideline,
        durable_rules_fired=fired)


def _screening_result(rule: Rule, version: RuleVersion, members: list[Rule], results: dict[str, RuleResult],
                      mark: Callable[[RuleResult, bool], RuleResult]) -> RuleResult:
    """No standard chosen (a sponsor screening an issuer): the group holds when at least one
    applicable standard holds, fails when every applicable one fails, is undetermined otherwise."""
    outcomes = [results[m.id] for m in members if results[m.id].status not in NOT_COUNTED]
    for m in members:
        results[m.id] = mark(results[m.id], True)
    holding = [o for o in outcomes if o.status == Status.passed]
    open_ = [o for o in outcomes if o.status == Status.undetermined]
    prefix = "no standard is chosen (screening)"
    if holding:
        labels = ", ".join(o.standard or o.rule_id for o in holding)
        return _simple(rule, version, Status.passed, f"{prefix}; standards that hold: {labels}",
                       comparisons=tuple(c for o in holding for c in o.comparisons))
    if open_:
        missing = tuple(sorted({name for o in open_ for name in o.missing}))
        labels = ", ".join(o.standard or o.rule_id for o in open_)
        return _simple(rule, version, Status.undetermined,
                       f"{prefix}; none holds, undetermined: {labels}", missing=missing)
    if not outcomes:
        return _simple(rule, version, Status.failed, f"{prefix}; no standard of {rule.alternatives} applies")
    return _simple(rule, version, Status.failed,
                   f"{prefix}; every applicable standard fails: " + ", ".join(o.standard or o.rule_id for o in outcomes))


def _not_in_force(rule: Rule, on: dt.date) -> RuleResult:
    """No version on `on`: before the first, or after the last (then the rule says why it ended)."""
    first = min(v.effective_from for v in rule.versions)
    if on < first:
        return _simple(rule, None, Status.not_in_force, f"not in force on {on.isoformat()}: in force from {first.isoformat()}")
    last = max((v.effective_to for v in rule.versions if v.effective_to), default=None)
    return _simple(rule, None, Status.not_in_force,
                   f"not in force on {on.isoformat()}: ended {last.isoformat() if last else '?'} — {rule.ended or 'no reason given'}")





def _reason(status: Status, comparisons: tuple[Comparison, ...], applicability: tuple[Comparison, ...],
            missing: Missing | None) -> str:
    if status == Status.undetermined:
        return "undetermined: missing " + ", ".join(sorted(missing.facts) or ["facts"]) if missing else "undetermined"
    if status == Status.not_applicable:
        unmet = [c.text for c in applicability if c.holds is False]
        return "does not apply: " + "; ".join(unmet) if unmet else "does not apply to this issuer"
    failing = [c.text for c in comparisons if c.holds is False and not c.selector]
    if status == Status.failed and failing:
        return "does not hold: " + "; ".join(failing)
    return "holds" if status == Status.passed else "does not hold"


def _explain(node: Node, env: FactEnvironment) -> tuple[Comparison, ...]:
    """The leaves of a condition (comparisons and judgments), each with its own outcome.

    A leaf under `not` is shown as the law reads it (`not red_chip`, `x < 3`); of an
    `if`, the condition and the branch taken are shown (both branches when undecided).
    """
    out: dict[str, Comparison] = {}

    def walk(n: Node, negated: bool, selector: bool) -> None:
        if isinstance(n, BoolOp):
            for operand in n.operands:
                walk(operand, negated, selector)
        elif isinstance(n, Unary) and n.op == "not":
            walk(n.operand, not negated, selector)
        elif isinstance(n, If):
            walk(n.condition, False, True)
            decided = env.evaluate(n.condition)
            if isinstance(decided, Missing) or decided:
                walk(n.then, negated, selector)
            if isinstance(decided, Missing) or not decided:
                walk(n.otherwise, negated, selector)
        elif isinstance(n, (Compare, Name, YearRef)):
            if isinstance(n, Compare):
                item = _comparison(Compare(NEGATED[n.op], n.left, n.right) if negated else n, env)
            else:
                item = _judgment(n, env, negated)
            out.setdefault(item.text, replace(item, selector=selector))

    walk(node, False, False)
    return tuple(out.values())


def _judgment(node: Node, env: FactEnvironment, negated: bool) -> Comparison:
    value = env.evaluate(node)
    known = None if isinstance(value, Missing) else bool(value)
    label = _label(node, env)
    text = f"not {label}" if negated else label
    holds = None if known is None else (known != negated)
    return Comparison(text=text, left=label, op="==", right="false" if negated else "true", left_value=known,
                      right_value=not negated, holds=holds, margin=None, relative_margin=None, display_unit=None)


def _label(node: Node, env: FactEnvironment) -> str:
    """Readable text of a term, with k-th latest years shown as calendar years."""

    def rename(n: Node) -> Node:
        if isinstance(n, YearRef):
            year = env.year_of(n.k)
            return Name(f"{n.name}[{year}]" if year else f"{n.name}[year -{n.k - 1}]")
        return rebuild(n, rename)

    return unparse(rename(node))


def _comparison(node: Compare, env: FactEnvironment) -> Comparison:
    left, right = env.evaluate(node.left), env.evaluate(node.right)
    left_value = None if isinstance(left, Missing) else left
    right_value = None if isinstance(right, Missing) else right
    if isinstance(left_value, Quantity) and isinstance(right_value, Quantity) and right_value.dim != left_value.dim:
        right_value = Quantity(right_value.value, left_value.dim)  # a unitless 0 is 0 in the figure's unit
    holds = None
    margin = relative = None
    if left_value is not None and right_value is not None:
        holds = compare(node.op, left_value, right_value)
        if isinstance(left_value, Quantity):
            margin = left_value - right_value
            if right_value.value != 0:
                relative = Quantity(margin.value / abs(right_value.value), margin.dim / margin.dim)
    unit = None
    for side in (node.right, node.left):
        if isinstance(side, Literal) and isinstance(side.value, Quantity):
            symbol = side.written.lstrip("0123456789,.")
            unit = symbol if symbol in UNITS and symbol else None
            break
    if unit is None and isinstance(left_value, Quantity):
        unit = display_unit_for(left_value)
    return Comparison(text=f"{_label(node.left, env)} {SYMBOL[node.op]} {_label(node.right, env)}",
                      left=_label(node.left, env), op=node.op, right=_label(node.right, env),
                      left_value=left_value, right_value=right_value, holds=holds, margin=margin,
                      relative_margin=relative, display_unit=unit, operands_key=operands_key(node))


def operands_key(node: Compare) -> str:
    """What a comparison compares, whatever its operator or the case's years: `year(1, revenue) ? 3亿元`."""
    return f"{unparse(node.left)} ? {unparse(node.right)}"


def _figures(compiled: CompiledRule, env: FactEnvironment, rulebook: Rulebook) -> tuple[FigureValue, ...]:
    nodes: list[Node] = [compiled.condition] + ([compiled.applies_when] if compiled.applies_when else [])
    refs: dict[str, Node] = {}
    for node in nodes:
        _collect_refs(node, refs, env)
    out = []
    for label, ref in sorted(refs.items()):
        value = env.evaluate(ref)
        name = ref.name if isinstance(ref, (Name, YearRef)) else label
        figure = rulebook.figures.get(name)
        title = figure.title.zh if figure else (rulebook.attestations[name].title.zh if name in rulebook.attestations
                                                 else None)
        out.append(FigureValue(label, title, None if isinstance(value, Missing) else value,
                               figure.expr_text if figure else None,
                               "; ".join(value.reasons) if isinstance(value, Missing) else None))
    return tuple(out)


def _collect_refs(node: Node, refs: dict[str, Node], env: FactEnvironment) -> None:
    if isinstance(node, Name):
        refs[node.name] = node
    elif isinstance(node, YearRef):
        year = env.year_of(node.k)
        refs[f"{node.name}[{year}]" if year else f"{node.name}[year -{node.k - 1}]"] = node
    for child in children(node):
        _collect_refs(child, refs, env)


def _evidence_text(evidence: Any) -> str:
    text = evidence.document
    if evidence.page is not None:
        text += f", p. {evidence.page}" if str(evidence.page).isdigit() else f", {evidence.page}"
    if evidence.note:
        text += f" ({evidence.note})"
    return text
