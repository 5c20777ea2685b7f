"""STAR Market (科创板) listing-eligibility rules engine.

Data flows one way:

    case file ─ case.load_case ─▶ validated Case ─ facts ─▶ derived figures
    rules/    ─ rulebook.load_rulebook ─▶ Rulebook ─ compiler ─▶ durable_rules ruleset
    evaluation.Evaluator: figures + ruleset ─▶ results.CaseResult ─ report ─▶ text / JSON / Markdown

The public surface is what this module names. Names are imported when first used (PEP 562), so
`check-listing --version`, `--help` or `schema` start without pydantic models or durable_rules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Case": "case", "LoadedCase": "case", "load_case": "case", "load_case_text": "case",
    "CaseError": "errors", "EngineError": "errors", "InputError": "errors", "InternalError": "errors",
    "Problem": "errors", "RuleFileError": "errors",
    "Evaluator": "evaluation",
    "CaseResult": "results", "RuleResult": "results", "Status": "results", "Verdict": "results",
    "Rulebook": "rulebook", "load_rulebook": "rulebook",
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
    from .case import Case, LoadedCase, load_case, load_case_text
    from .errors import CaseError, EngineError, InputError, InternalError, Problem, RuleFileError
    from .evaluation import Evaluator
    from .results import CaseResult, RuleResult, Status, Verdict
    from .rulebook import Rulebook, load_rulebook
