"""STAR Market (科创板) listing-eligibility rules engine.

Data flows one way:

    case file ─ case.load_case ─▶ validated Case ─ facts ─▶ derived figures
    rules/    ─ rulebook.load_rulebook ─▶ Rulebook ─ compiler ─▶ durable_rules ruleset
    evaluation.Evaluator: figures + ruleset ─▶ results.CaseResult ─ report ─▶ text / JSON / Markdown

The public surface is what this module names.
"""

# Names are imported when first used (PEP 562), not with the package: `check-listing` starts
# without durable_rules, so a durable_rules that cannot be imported (Python 3.13) is reported by
# the CLI as one message, not as a traceback from this file.
_WHERE = {
    "Case": "case", "LoadedCase": "case", "load_case": "case", "load_case_text": "case",
    "CaseError": "errors", "EngineError": "errors", "InputError": "errors", "InternalError": "errors",
    "Problem": "errors", "RuleFileError": "errors", "Evaluator": "evaluation", "CaseResult": "results",
    "RuleResult": "results", "Status": "results", "Verdict": "results", "Rulebook": "rulebook",
    "load_rulebook": "rulebook",
}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)


__all__ = [
    "Case", "CaseError", "CaseResult", "EngineError", "Evaluator", "InputError", "InternalError", "LoadedCase",
    "Problem", "RuleFileError", "RuleResult", "Rulebook", "Status", "Verdict", "load_case", "load_case_text",
    "load_rulebook",
]
