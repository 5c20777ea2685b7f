"""STAR Market (科创板) listing-eligibility rules engine.

Data flows one way:

    case file ─ case.load_case ─▶ validated Case ─ facts ─▶ derived figures
    rules/    ─ rulebook.load_rulebook ─▶ Rulebook ─ compiler ─▶ durable_rules ruleset
    evaluation.Evaluator: figures + ruleset ─▶ results.CaseResult ─ report ─▶ text / JSON / Markdown

The public surface is what this module names.
"""

from .case import Case, LoadedCase, load_case, load_case_text
from .errors import CaseError, EngineError, InputError, InternalError, Problem, RuleFileError
from .evaluation import Evaluator
from .results import CaseResult, RuleResult, Status, Verdict
from .rulebook import Rulebook, load_rulebook

__all__ = [
    "Case", "CaseError", "CaseResult", "EngineError", "Evaluator", "InputError", "InternalError", "LoadedCase",
    "Problem", "RuleFileError", "RuleResult", "Rulebook", "Status", "Verdict", "load_case", "load_case_text",
    "load_rulebook",
]
