"""Cold start: `check-listing --version` and `--help` load neither pydantic nor durable_rules, and
`schema case` loads the case model alone (no rules, no durable_rules). Import hygiene is what a
test can check without timing; the benchmark measures the milliseconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

PROBE = """
import json, sys
from engine.frontends.cli import main
try:
    main({args!r})
except SystemExit:
    pass
names = ("pydantic", "durable_rules_engine", "engine.input.case", "engine.rules.rulebook", "engine.rules.ruleloader",
         "engine.rules.parser", "engine.rules.typecheck", "engine.decide.evaluation", "difflib")
report = {{n: n in sys.modules for n in names}}
plugins = sys.modules.get("pydantic.plugin._loader")  # pydantic's plugin scan ran (it sets _plugins)
report["pydantic plugins scanned"] = plugins is not None and plugins._plugins is not None
print(json.dumps(report))
"""


def loaded_after(*args: str, env: dict[str, str] | None = None) -> dict[str, bool]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=list(args))], capture_output=True, text=True,
                         check=True, cwd=REPO, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("batch", "--help")])
def test_version_and_help_load_no_models_and_no_durable(args):
    assert not any(loaded_after(*args).values())


def test_schema_loads_the_case_model_alone():
    loaded = loaded_after("schema", "case")
    assert loaded["engine.input.case"] and not loaded["durable_rules_engine"]
    assert not loaded["engine.rules.rulebook"] and not loaded["engine.rules.ruleloader"]


def test_a_good_check_never_loads_difflib():
    loaded = loaded_after("cases/qingcloud-filing.yaml")
    assert loaded["durable_rules_engine"] and not loaded["difflib"]


def test_a_second_check_reads_the_compiled_rules_from_the_cache(tmp_path):
    """The first check loads and compiles the rules; the next parses no rule expression at all."""
    env = os.environ | {"STAR_LISTING_CACHE": str(tmp_path)}
    first = loaded_after("cases/qingcloud-filing.yaml", env=env)
    assert first["engine.rules.ruleloader"] and first["engine.rules.parser"]
    second = loaded_after("cases/qingcloud-filing.yaml", env=env)
    assert second["durable_rules_engine"] and not any(second[n] for n in (
        "engine.rules.ruleloader", "engine.rules.parser", "engine.rules.typecheck"))


@pytest.mark.parametrize("environment, scanned", [({}, False), ({"PYDANTIC_DISABLE_PLUGINS": ""}, True)])
def test_a_check_skips_pydantics_plugin_scan_unless_asked(environment, scanned):
    """The scan of every installed distribution's entry points lengthens a check's cold start; the CLI
    skips it, and a user who sets PYDANTIC_DISABLE_PLUGINS themselves decides."""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"} | environment
    assert loaded_after("cases/qingcloud-filing.yaml", env=env)["pydantic plugins scanned"] is scanned


def test_the_case_validator_is_built_on_first_use_or_before_a_batch_forks():
    probe = ("import sys\nfrom engine.input.case import Case\nfrom engine.input.caseload import build_case_validator\n"
             "before = Case.__pydantic_complete__\nbuild_case_validator()\nprint(before, Case.__pydantic_complete__)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert out.split() == ["False", "True"]


def test_version_is_answered_before_click_or_the_engine_is_imported():
    """The console script's `--version` prints click's own line without importing click, dataclasses or
    any engine stage; every other command reaches the click group."""
    import importlib.metadata

    from click.testing import CliRunner

    from engine.frontends.cli import main

    probe = ("import json, sys\nsys.argv = ['check-listing', '--version']\nfrom engine.frontends.launch import main\n"
             "code = main()\nprint(json.dumps([code, sorted(m for m in sys.modules if m.startswith(('click', "
             "'dataclasses', 'engine.')))]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO).stdout
    line, loaded = out.splitlines()[0], json.loads(out.splitlines()[-1])
    assert loaded == [0, ["engine.frontends", "engine.frontends.launch"]]
    expected = CliRunner().invoke(main, ["--version"], prog_name="check-listing").output
    assert line + "\n" == expected == f"check-listing, version {importlib.metadata.version('star-listing')}\n"


def test_every_other_command_goes_to_the_click_group(tmp_path):
    script = ("import sys\nsys.argv = ['check-listing', 'schema', 'case']\nfrom engine.frontends.launch import main\n"
              "sys.exit(main())")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0 and json.loads(done.stdout)["title"]


def test_an_absent_section_is_defaulted_without_building_its_own_validator():
    """A case that leaves out units, placement, subscription… gets each section with every field at its
    default, made without building that section's validator (~17 ms of a single check for six of
    them): the value is the one validating an empty section gives, which the sections allow since
    none has a required field or a model validator."""
    probe = ("import json\nfrom engine.input import case as m\nfrom engine.input.caseload import load_case\n"
             "loaded = load_case('cases/qingcloud-filing.yaml')\n"
             "names = [f for f, i in m.Case.model_fields.items() if i.default_factory is not None\n"
             "         and isinstance(i.annotation, type) and issubclass(i.annotation, m.Strict)]\n"
             "absent = [f for f in names if f not in loaded.case.model_fields_set]\n"
             "built = [f for f in absent if m.Case.model_fields[f].annotation.__pydantic_complete__]\n"
             "same = all(getattr(loaded.case, f) == m.Case.model_fields[f].annotation() for f in absent)\n"
             "print(json.dumps([names, absent, built, same]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO).stdout
    names, absent, built, same = json.loads(out)
    assert sorted(names) == ["placement", "scitech", "sponsor", "stated", "subscription", "units"]
    assert absent and built == [] and same
    from engine.input import case as models

    for name in names:
        section = models.Case.model_fields[name].annotation
        assert not section.__pydantic_decorators__.model_validators, name
        assert not any(field.is_required() for field in section.model_fields.values()), name
