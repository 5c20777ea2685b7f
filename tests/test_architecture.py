"""The data flow runs one way: case → facts → rules → results → report. These tests keep it so.

`engine/` is grouped by stage; a stage imports only the stages before it, and inside a stage a module
imports only the modules before it. `common` holds what every stage shares.
"""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"
STAGES = [
    ("common", ["sanitize", "errors", "interrupts", "safeio", "bundled"]),
    ("input", ["yamlsource", "units", "amounts", "case", "casefacts", "caseload", "sheetcolumns", "sheetcells",
               "sheetxlsx", "sheetrows", "sheetwrite", "generate"]),
    ("rules", ["expression", "parser", "typecheck", "rulefiles", "rulebook", "rulesources", "ruleloader", "sheetrules", "checkout",
               "citations", "editions"]),
    ("decide", ["facts", "conditions", "results", "compiler", "alphastack", "factgroups", "rulecache", "evaluation", "pricing", "revision"]),
    ("output", ["report", "xlsxstore", "store"]),
    ("frontends", ["workers", "batch", "ruletests", "web", "clicommon", "rulescli", "cli", "launch"]),
]
# Each module may import only modules listed before it.
ORDER = [f"{stage}.{module}" for stage, modules in STAGES for module in modules]
STAGE_NAMES = [stage for stage, _ in STAGES]


def imports_of(module: str) -> set[str]:
    """The engine modules (as `stage.module`) and outside packages that `module` imports."""
    stage = module.split(".")[0]
    tree = ast.parse((ENGINE / f"{module.replace('.', '/')}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            assert node.module, f"{module}: `from . import` hides which module is imported"
            found.add(f"{stage}.{node.module.split('.')[0]}")
        elif isinstance(node, ast.ImportFrom) and node.level == 2:
            assert node.module and node.module.count(".") >= 1, f"{module}: import a module, not a stage"
            found.add(".".join(node.module.split(".")[:2]))
        elif isinstance(node, ast.ImportFrom) and node.level > 2:
            raise AssertionError(f"{module}: relative import beyond engine/")
        elif isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            found.add(".".join(parts[1:3]) if parts[0] == "engine" else parts[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                found.add(".".join(parts[1:3]) if parts[0] == "engine" else parts[0])
    return found


def test_every_engine_module_is_in_the_declared_order():
    modules = {f"{p.parent.name}.{p.stem}" for p in ENGINE.glob("*/*.py") if p.stem != "__init__"}
    assert modules == set(ORDER)
    assert {p.stem for p in ENGINE.glob("*.py")} == {"__init__"}, "every module belongs to a stage"
    assert {p.name for p in ENGINE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(STAGE_NAMES)


def test_modules_import_only_earlier_modules():
    for index, module in enumerate(ORDER):
        local = imports_of(module) & set(ORDER)
        later = local - set(ORDER[:index])
        assert not later, f"{module} imports {sorted(later)}, which come later in the data flow"


def test_stages_import_only_earlier_stages():
    for module in ORDER:
        stage = STAGE_NAMES.index(module.split(".")[0])
        for imported in imports_of(module) & set(ORDER):
            assert STAGE_NAMES.index(imported.split(".")[0]) <= stage, f"{module} imports {imported}"


def test_engine_modules_are_imported_by_their_stage_path():
    """`engine.X` for a module that moved into a stage would fail only at run time; catch it here."""
    for module in ORDER:
        unknown = {name for name in imports_of(module) if "." in name} - set(ORDER)
        assert not unknown, f"{module} imports {sorted(unknown)}, which is no engine module"


def test_only_evaluation_touches_durable_rules():
    for module in ORDER:
        uses = {"durable", "durable_rules_engine"} & imports_of(module)
        assert not uses or module == "decide.evaluation", f"{module} imports {uses}"


def test_report_never_computes_a_verdict():
    uses = imports_of("output.report")
    assert "decide.facts" not in uses and "decide.evaluation" not in uses


def test_scripts_and_tests_import_engine_names_that_exist():
    """Scripts run outside the suite: a name they import from a moved or split module would fail only
    when someone runs them. Every `from engine… import name` in scripts/ and tests/ must resolve."""
    import importlib

    root = ENGINE.parent
    broken = []
    for path in sorted([*root.glob("scripts/*.py"), *root.glob("tests/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "engine":
                module = importlib.import_module(node.module)
                for alias in node.names:
                    if not hasattr(module, alias.name):
                        try:
                            importlib.import_module(f"{node.module}.{alias.name}")
                        except ModuleNotFoundError:
                            broken.append(f"{path.name}:{node.lineno} {node.module}.{alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "engine":
                        try:
                            importlib.import_module(alias.name)
                        except ModuleNotFoundError:
                            broken.append(f"{path.name}:{node.lineno} {alias.name}")
    assert not broken, broken
