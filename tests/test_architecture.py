"""The data flow runs one way: case → facts → rules → results → report. These tests keep it so."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"
# Each module may import only modules listed before it.
ORDER = ["sanitize", "errors", "interrupts", "safeio", "yamlsource", "units", "case", "sheets", "generate",
         "expression", "rulebook", "sheetrules", "checkout", "facts", "results", "compiler", "citations", "editions",
         "evaluation", "pricing", "report", "xlsxstore", "store", "batch", "ruletests", "revision", "web", "cli"]


def imports_of(module: str) -> set[str]:
    tree = ast.parse((ENGINE / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.add(node.module.split(".")[0])
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_engine_module_is_in_the_declared_order():
    modules = {p.stem for p in ENGINE.glob("*.py") if p.stem != "__init__"}
    assert modules == set(ORDER)


def test_modules_import_only_earlier_modules():
    for index, module in enumerate(ORDER):
        local = imports_of(module) & set(ORDER)
        later = local - set(ORDER[:index])
        assert not later, f"{module} imports {sorted(later)}, which come later in the data flow"


def test_only_compiler_and_evaluation_touch_durable_rules():
    for module in ORDER:
        uses = {"durable", "durable_rules_engine"} & imports_of(module)
        assert not uses or module in ("evaluation",), f"{module} imports {uses}"


def test_report_never_computes_a_verdict():
    assert "facts" not in imports_of("report") and "evaluation" not in imports_of("report")
