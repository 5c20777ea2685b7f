"""STAR Market (科创板) listing-eligibility rules engine.

Data flows one way, and the packages are its stages (each imports only those before it):

    input/     case file or sheet row ─ case.load_case ─▶ validated Case
    rules/     rules/ directory ─ rulebook.load_rulebook ─▶ Rulebook
    decide/    Case ─ facts ─▶ derived figures; Rulebook ─ compiler ─▶ durable_rules ruleset;
               evaluation.Evaluator: figures + ruleset ─▶ results.CaseResult
    output/    CaseResult ─ report ─▶ text / JSON / Markdown / HTML; store ─▶ CSV / JSONL / SQLite / .xlsx
    frontends/ cli, batch, web, rule tests
    common/    error values, escaping, safe IO and interrupts, used by all

The public surface is what this module names. Names are imported when first used (PEP 562), so
`check-listing --version`, `--help` or `schema` start without pydantic models or durable_rules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"  # the distribution's version too (pyproject.toml reads it from here)

_EXPORTS = {
    "Case": "input.case", "LoadedCase": "input.caseload", "load_case": "input.caseload",
    "load_case_text": "input.caseload",
    "CaseError": "common.errors", "EngineError": "common.errors", "InputError": "common.errors",
    "InternalError": "common.errors", "Problem": "common.errors", "RuleFileError": "common.errors",
    "Evaluator": "decide.evaluation",
    "CaseResult": "decide.results", "RuleResult": "decide.results", "Status": "decide.results",
    "Verdict": "decide.results",
    "Rulebook": "rules.rulebook", "load_rulebook": "rules.ruleloader",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from .common.errors import CaseError, EngineError, InputError, InternalError, Problem, RuleFileError
    from .decide.evaluation import Evaluator
    from .decide.results import CaseResult, RuleResult, Status, Verdict
    from .input.case import Case
    from .input.caseload import LoadedCase, load_case, load_case_text
    from .rules.rulebook import Rulebook
    from .rules.ruleloader import load_rulebook
