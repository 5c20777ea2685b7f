"""`check-listing rules …`: the commands that work on rule files (lint, test, editions, diff)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from .clicommon import input_errors, parse_date, rules_directory


@click.group()
def rules() -> None:
    """Work on rule files."""


@rules.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def lint(directory: Path | None) -> None:
    """Check every rule file; list every problem with its file, line and rule id."""
    from ..common.errors import RuleFileError
    from ..decide.compiler import compile_rulebook
    from ..rules.citations import check_quotes
    from ..rules.ruleloader import load_rulebook

    with input_errors():
        rulebook = load_rulebook(rules_directory(directory))
        compile_rulebook(rulebook)
        problems = check_quotes(rulebook)
        if problems:
            raise RuleFileError(problems)
    versions = sum(len(r.versions) for r in rulebook.rules.values())
    click.echo(f"ok: {len(rulebook.rules)} rules ({versions} versions), {len(rulebook.figures)} figures, "
               f"{len(rulebook.attestations)} attestations in {rulebook.directory}")


@rules.command(name="test")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--coverage", "show_coverage", is_flag=True,
              help="Also report, per rule and article, the statuses and threshold sides the tests reach.")
@click.option("--fail-under", type=click.FloatRange(0, 100), default=None,
              help="Exit 1 when coverage is below this percentage.")
def test_rules(directory: Path | None, show_coverage: bool, fail_under: float | None) -> None:
    """Run the YAML rule tests (*.test.yaml beside the rules); exit 1 if any fails."""
    from ..decide.evaluation import Evaluator
    from ..rules.ruleloader import load_rulebook
    from .ruletests import coverage, coverage_percent, format_coverage, format_outcomes, load_rule_tests, \
        run_rule_tests

    with input_errors():
        rulebook = load_rulebook(rules_directory(directory))
        tests = load_rule_tests(rulebook)
        with Evaluator(rulebook) as evaluator:
            outcomes = run_rule_tests(evaluator, tests)
    click.echo(f"rules: {rulebook.directory}")
    click.echo(format_outcomes(outcomes), nl=False)
    failed = any(not o.passed for o in outcomes)
    if show_coverage or fail_under is not None:
        entries = coverage(rulebook, outcomes)
        if show_coverage:
            click.echo(format_coverage(entries), nl=False)
        if fail_under is not None and coverage_percent(entries) < fail_under:
            click.echo(f"coverage {coverage_percent(entries):.1f}% is below {fail_under}%", err=True)
            failed = True
    sys.exit(1 if failed else 0)


@rules.command(name="editions")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--as-of", callback=parse_date, help="Only the rule versions in force on this date (YYYY-MM-DD).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def editions_command(directory: Path | None, as_of: dt.date | None, output_format: str) -> None:
    """Per instrument, its editions (document number, date) and, per rule version, how its text is known."""
    from ..rules.editions import editions, editions_json, format_editions
    from ..rules.ruleloader import load_rulebook

    with input_errors():
        rulebook = load_rulebook(rules_directory(directory))
    entries = editions(rulebook, as_of)
    formatter = editions_json if output_format == "json" else format_editions
    click.echo(formatter(entries, rulebook, as_of), nl=False)


@rules.command(name="diff")
@click.argument("cases", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--old", "old_date", callback=parse_date, help="Judge 'before' under the rules in force on this date.")
@click.option("--new", "new_date", callback=parse_date, help="Judge 'after' under the rules in force on this date.")
@click.option("--old-rules", type=click.Path(file_okay=False, path_type=Path), help="Rules directory before.")
@click.option("--new-rules", type=click.Path(file_okay=False, path_type=Path), help="Rules directory after.")
@click.option("--require", multiple=True, metavar="PART", help="Count a reported-only part (e.g. scitech).")
def diff_rules(cases: tuple[Path, ...], old_date: dt.date | None, new_date: dt.date | None,
               old_rules: Path | None, new_rules: Path | None, require: tuple[str, ...]) -> None:
    """Rules that changed between two dates (or two rule directories), and the cases whose verdict flips.

    Exit 0 when no verdict changes, 1 when some do.
    """
    from ..decide.evaluation import Evaluator
    from ..decide.revision import case_impacts, case_paths, changed_rules, format_diff
    from ..input.caseload import load_case
    from ..rules.ruleloader import load_rulebook

    if old_date is None and new_date is None and old_rules is None and new_rules is None:
        raise click.UsageError("give --old/--new dates, --old-rules/--new-rules directories, or both")
    with input_errors():
        old_book = load_rulebook(rules_directory(old_rules))
        new_book = old_book if new_rules is None and old_rules is None else load_rulebook(rules_directory(new_rules))
        loaded = [load_case(path) for path in case_paths(cases)]
        # rule changes are listed between the two dates; with rule directories only, as of today
        changes = changed_rules(old_book, old_date or new_date or dt.date.today(),
                                new_book, new_date or old_date or dt.date.today())
        with Evaluator(old_book) as before, Evaluator(new_book) as after:
            impacts = case_impacts(before, old_date, after, new_date, loaded, require)
    old_label = " ".join(str(x) for x in (old_rules, old_date) if x) or "the case dates"
    new_label = " ".join(str(x) for x in (new_rules, new_date) if x) or "the case dates"
    click.echo(format_diff(changes, impacts, old_label, new_label), nl=False)
    sys.exit(1 if any(i.verdict_flips for i in impacts) else 0)
