"""`check-listing`: the command line. One command, one function; only this module and `rulescli` print.

    check-listing CASE.yaml [--format text|json|markdown] [--as-of DATE]
    check-listing price CASE.yaml --from A --to B --step S
    check-listing batch PATH... [--jobs N] [--out results.csv|.jsonl|.sqlite|.xlsx] [--resume] [--explain]
    check-listing template issuers.xlsx|.csv
    check-listing convert issuers.xlsx --to cases/   (or: convert cases/ --to issuers.xlsx)
    check-listing generate N DIR [--seed S]
    check-listing schema case|rule
    check-listing rules lint [DIR]
    check-listing rules test [DIR] [--coverage]
    check-listing rules diff --old DATE --new DATE CASES...
    check-listing rules editions [DIR] [--as-of DATE] [--format text|json]
    check-listing serve [--port 8765] [--rules DIR]

Exit codes: 0 eligible, 1 not eligible, 3 undetermined, 4 a batch with error rows, 2 bad input
or usage, 70 an internal contradiction (a bug), 130/143 interrupted by SIGINT/SIGTERM. Bad input
is one message per problem with its file, line and field, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from engine import __version__

from ..common.errors import EXIT_INPUT_ERROR, InputError, Problem
from ..common.safeio import output_target, write_atomically
from ..common.sanitize import escape
from .clicommon import InputFailure, input_errors, parse_date, rules_directory
from .rulescli import rules

# The engine's models use no pydantic plugin; scanning every installed package's metadata for one
# costs a cold start ~10 ms. A user who wants plugins sets the variable themselves.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

FORMATS = ("text", "json", "markdown", "html")


class _DefaultToCheck(click.Group):
    """Routes `check-listing CASE.yaml` to the `check` command (click has no default command)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["check"] + list(args)
        return super().parse_args(ctx, args)

    def main(self, *args, **kwargs):  # noqa: D102 - every command's way out: interrupts, imports, stdout
        from ..common.interrupts import SIGNALS, Interrupted, handle_interrupts

        previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
        handle_interrupts()
        try:
            try:
                super().main(*args, **kwargs)
            except SystemExit:
                _flush_stdout()
                raise
            _flush_stdout()
        except Interrupted as stop:
            click.echo(f"check-listing: interrupted by {stop.name}; stopped, nothing written "
                       f"(an earlier output file is as it was)", err=True)
            sys.exit(stop.exit_code)
        except ImportError as error:
            if (error.name or "").split(".")[0] not in ("durable", "durable_rules_engine"):
                raise
            click.echo(f"error: durable_rules cannot be imported on Python {sys.version.split()[0]} ({error}); "
                       "it needs Python 3.11 or 3.12", err=True)
            sys.exit(EXIT_INPUT_ERROR)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


@click.group(cls=_DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="check-listing")  # as `launch` prints it
def main() -> None:
    """Decide whether an issuer may list on the SSE STAR Market (科创板), every line cited.

    \b
    check-listing CASE.yaml          check one issuer (same as `check-listing check CASE.yaml`)
    check-listing schema case        JSON Schema of case files, for editors
    check-listing rules lint         check the rule files
    """


rules_option = click.option("--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                            help="Rules directory (default: the bundled rules).")


@main.command()
@click.argument("case_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--as-of", callback=parse_date, help="Judge under the rules in force on this date instead of the case's own.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to this file (atomically) instead of standard output.")
@click.option("--verbose", "-v", is_flag=True, help="Text report: show every alternative in full.")
@click.option("--require", multiple=True, metavar="PART",
              help="Count a reported-only part (e.g. scitech) for the verdict and the exit code.")
@rules_option
def check(case_file: Path, output_format: str, as_of: dt.date | None, output: Path | None, verbose: bool,
          require: tuple[str, ...], rules_dir: Path | None) -> None:
    """Check one issuer's case file against the rules in force on its date."""
    from ..decide.evaluation import Evaluator
    from ..decide.pricing import evaluate_priced
    from ..input.caseload import load_case
    from ..decide.rulecache import compiled_rules
    from ..output.report import FORMATTERS, exit_code, format_text

    with input_errors():
        if output:
            output_target(output, [case_file])  # refused before any work: a device, FIFO, the case itself
        compiled = compiled_rules(rules_directory(rules_dir))
        loaded = load_case(case_file)
        for warning in loaded.warnings:
            click.echo(f"warning: {warning.render()}", err=True)
        with Evaluator(compiled.rulebook, compiled) as evaluator:
            result = evaluate_priced(evaluator, loaded, as_of=as_of, require=require)
        text = format_text(result, verbose=verbose) if output_format == "text" else FORMATTERS[output_format](result)
        if output:
            write_atomically(output, text, [case_file])
        else:
            _emit(text)
    sys.exit(exit_code(result))


def _decimal(ctx: click.Context, param: click.Parameter, value: str) -> Decimal:
    try:
        amount = Decimal(value.replace(",", "").removesuffix("元/股").removesuffix("元"))
    except InvalidOperation:
        raise click.BadParameter(f"'{value}' is not a price such as 63.70") from None
    if not amount.is_finite() or amount <= 0:
        raise click.BadParameter(f"'{value}' is not a positive price")
    return amount


@main.command()
@click.argument("case_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--from", "start", required=True, callback=_decimal, help="Lowest issue price, 元 per share.")
@click.option("--to", "stop", required=True, callback=_decimal, help="Highest issue price, 元 per share.")
@click.option("--step", required=True, callback=_decimal, help="Step between prices, 元 (e.g. 0.01).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--as-of", callback=parse_date, help="Judge under the rules in force on this date instead of the case's own.")
@rules_option
def price(case_file: Path, start: Decimal, stop: Decimal, step: Decimal, output_format: str,
          as_of: dt.date | None, rules_dir: Path | None) -> None:
    """Sweep issue prices: at each, the market cap, the standards that hold, and whether issuance aborts."""
    from ..decide.evaluation import Evaluator
    from ..decide.pricing import aborts, price_steps, sweep
    from ..input.caseload import load_case
    from ..decide.rulecache import compiled_rules
    from ..output.report import sweep_json, sweep_text

    try:
        prices = price_steps(start, stop, step)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    with input_errors():
        compiled = compiled_rules(rules_directory(rules_dir))
        loaded = load_case(case_file)
        with Evaluator(compiled.rulebook, compiled) as evaluator:
            rows = [(p, r, aborts(r)) for p, r in sweep(evaluator, loaded, prices, as_of=as_of)]
        _emit(sweep_text(rows) if output_format == "text" else sweep_json(rows))


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: the machine's cores).")
@click.option("--out", "-o", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Store rows here: .csv, .jsonl, .sqlite/.db or .xlsx (the last two: also one row per rule result).")
@click.option("--resume", is_flag=True, help="Keep rows already in --out for unchanged case files; evaluate the rest.")
@click.option("--as-of", callback=parse_date, help="Judge every case under the rules in force on this date.")
@click.option("--explain", is_flag=True, help="Also store each rule's reason, margins and citation (SQLite: in "
              "rule_results; JSON Lines: a `rules` list per row; .xlsx: a reason column beside its citations and margins).")
@rules_option
def batch(paths: tuple[str, ...], jobs: int | None, out: Path | None, resume: bool, as_of: dt.date | None,
          explain: bool, rules_dir: Path | None) -> None:
    """Evaluate many case files (files, folders, globs) and sheets (.xlsx, .csv: one issuer a row) in
    parallel; store one row per issuer.

    Exit 0 when every case was evaluated (whatever the verdicts), 4 when some case files were
    bad input (they are error rows with file, line and message), 2 for bad usage.
    """
    import tempfile

    from rich.console import Console

    from ..common.errors import EXIT_BATCH_ERRORS
    from ..output.store import SUFFIXES, ResultStore, explain_refusal, sink_kind
    from .batch import digests, discover, expand_sheets

    if resume and out is None:
        raise click.UsageError("--resume needs --out")
    if explain and out is not None:
        refusal = explain_refusal(SUFFIXES.get(out.suffix.lower(), ""), resume)
        if refusal:
            raise click.UsageError(refusal)
    try:
        files = [str(f) for f in discover(paths)]  # text, held once: see run_batch
        if out is not None:
            sink_kind(out)
    except FileNotFoundError as error:
        raise click.UsageError(f"no case files match: {escape(str(error))}") from None
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if not files:
        raise click.UsageError(f"no case files (*.yaml, *.yml) in: {escape(', '.join(paths))}")
    with input_errors():
        if out is not None:  # not a device, FIFO or directory, not one of the cases or paths given
            out = output_target(out, files + [Path(p) for p in paths])
        from ..decide.rulecache import compiled_rules

        compiled = compiled_rules(rules_directory(rules_dir))  # a broken rule set is reported once, before any worker starts
    target = out or Path(tempfile.mkdtemp(prefix="check-listing-batch-")) / "results.jsonl"
    console = Console(stderr=True)
    files = expand_sheets(files)  # a sheet is one case per row
    current = digests(files) if resume else None
    with ResultStore(target, current, explain) as store:
        for stale in store.stale:
            click.echo(f"removed {stale}, left by an earlier run that was killed", err=True)
        with input_errors():  # a worker process lost: one line, exit code 71, the partial file removed
            summary = _run_with_progress(files, store, jobs, compiled, as_of, console)
    with input_errors():
        try:
            _print_summary(summary, target if out else None)
        except OSError as error:
            _stdout_failed(error)
    sys.exit(EXIT_BATCH_ERRORS if summary.errors else 0)


def _run_with_progress(files, store, jobs, compiled, as_of, console):
    """The batch, with a progress bar when standard error is a terminal (none otherwise)."""
    from .batch import run_batch

    if not console.is_terminal:
        return run_batch(files, store, jobs=jobs, compiled=compiled, as_of=as_of)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task("evaluating", total=len(files) - len(store.done))
        return run_batch(files, store, jobs=jobs, compiled=compiled, as_of=as_of,
                         progress=lambda n: bar.advance(task, n))


def _print_summary(summary, out: Path | None) -> None:
    """Counts by verdict and by chosen standard, and the rules that fail most."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    processes = f" ({summary.jobs} worker process{'es' if summary.jobs > 1 else ''})" if summary.evaluated else ""
    table = Table(title=f"{summary.total} cases: {summary.evaluated} evaluated, {summary.skipped} kept from before"
                        f"{processes}", title_justify="left")
    table.add_column("verdict")
    table.add_column("cases", justify="right")
    for verdict, count in sorted(summary.by_verdict.items()):
        table.add_row(verdict, str(count))
    console.print(table)
    standards = Table(title="By chosen standard", title_justify="left")
    standards.add_column("standard")
    standards.add_column("cases", justify="right")
    for standard, count in sorted(summary.by_standard.items()):
        standards.add_row(standard, str(count))
    console.print(standards)
    if summary.failing_rules:
        failing = Table(title="Rules that fail most", title_justify="left")
        failing.add_column("rule")
        failing.add_column("cases", justify="right")
        for rule, count in sorted(summary.failing_rules.items(), key=lambda item: (-item[1], item[0]))[:10]:
            failing.add_row(rule, str(count))
        console.print(failing)
    if out is not None:
        console.print(f"results: {out}")


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@rules_option
def template(path: Path, rules_dir: Path | None) -> None:
    """Write an issuers sheet to fill in (.xlsx or .csv): the header row and QingCloud's filing as an
    example row; a workbook also validates the stage, standard and yes/no columns and describes
    every column on a second sheet."""
    from ..input.caseload import load_case
    from ..input.sheetwrite import bundled_example, write_template
    from ..rules.sheetrules import vocabulary

    _sheet_path(path)
    with input_errors():
        book = vocabulary(_rulebook(rules_dir))
        write_template(path, load_case(bundled_example()).case, book)
    click.echo(f"template: {path}")


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--to", "target", required=True, type=click.Path(path_type=Path),
              help="A folder (from a sheet: one case file a row) or a .xlsx/.csv file (from case files).")
@rules_option
def convert(sources: tuple[str, ...], target: Path, rules_dir: Path | None) -> None:
    """Turn a sheet of issuers into case files (one a row), or case files into one sheet, losslessly.

    Nothing is written unless every row (every case file) is valid; the problems are listed with
    their cells (lines)."""
    from ..common.errors import CaseError
    from ..input.caseload import load_case
    from ..input.sheetrows import is_sheet
    from ..input.sheetwrite import cases_to_sheet, sheet_to_cases
    from ..rules.sheetrules import vocabulary
    from .batch import discover

    try:
        files = discover(sources)
    except FileNotFoundError as error:
        raise click.UsageError(f"no case files or sheets match: {error}") from None
    with input_errors():
        book = vocabulary(_rulebook(rules_dir))
        if is_sheet(target):
            if any(is_sheet(f) for f in files):
                raise click.UsageError("convert case files to a sheet, or one sheet to a folder of case files")
            loaded, problems = [], []
            for path in files:
                try:
                    loaded.append(load_case(path).case)
                except CaseError as error:
                    problems += error.problems
            if problems:
                raise CaseError(problems)
            cases_to_sheet(loaded, target, book)
            click.echo(f"{len(loaded)} cases → {target}")
            return
        if len(files) != 1 or not is_sheet(files[0]) or target.is_file():
            raise click.UsageError("convert one sheet (.xlsx, .csv) to a folder, or case files to a .xlsx/.csv")
        written = sheet_to_cases(files[0], target, book)
    click.echo(f"{len(written)} case files → {target}")


def _sheet_path(path: Path) -> None:
    if path.suffix.lower() not in (".xlsx", ".csv"):
        raise click.UsageError(f"{path}: a sheet is .xlsx or .csv")


def _rulebook(rules_dir: Path | None):
    from ..rules.ruleloader import load_rulebook

    return load_rulebook(rules_dir)


@main.command()
@click.argument("count", type=click.IntRange(min=1))
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=0, show_default=True, help="The same seed gives the same files.")
def generate(count: int, directory: Path, seed: int) -> None:
    """Write COUNT reproducible synthetic case files into DIRECTORY (all standards, stages, edge cases, some bad)."""
    from ..input.generate import generate as write_cases

    write_cases(count, directory, seed=seed)
    click.echo(f"{count} case files in {directory} (seed {seed})")


@main.command()
@click.argument("kind", type=click.Choice(["case", "rule"]))
def schema(kind: str) -> None:
    """Print the JSON Schema of case files or rule files."""
    if kind == "case":
        from ..input.caseload import case_json_schema

        data = case_json_schema()
    else:
        from ..rules.rulefiles import rule_file_json_schema

        data = rule_file_json_schema()
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless --allow-remote).")
@click.option("--allow-remote", is_flag=True, help="Allow binding an address other machines can reach.")
@rules_option
def serve(port: int, host: str, allow_remote: bool, rules_dir: Path | None) -> None:
    """Start the workbench in the browser: edit a case, see the verdict live, drag the issue price."""
    try:
        from .web import create_app, is_loopback, listen, serve as run_server
    except ImportError as error:
        raise click.ClickException(f"the workbench needs the 'web' extra ({error.name} is missing): "
                                   "pip install 'star-listing[web]'") from None
    if not is_loopback(host):
        if not allow_remote:
            raise click.UsageError(f"{host} is not a loopback address: other machines could reach the workbench; "
                                   "pass --allow-remote to bind it anyway")
        click.echo(f"warning: binding {host}: anyone who can reach this machine can use the workbench "
                   "(no authentication)", err=True)
    with input_errors():
        app = create_app(rules_dir, allow_remote=not is_loopback(host))
    try:
        sock = listen(host, port)
    except OSError as error:
        raise click.UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    shown = "127.0.0.1" if host == "localhost" else f"[{host}]" if ":" in host else host
    click.echo(f"check-listing workbench on http://{shown}:{sock.getsockname()[1]}/ (Ctrl-C to stop)", err=True)
    run_server(app, sock)


def _emit(text: str) -> None:
    """Print a report; a failed write (a full disk, a closed pipe) is an error, never a lost report."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as error:
        _stdout_failed(error)


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except OSError as error:
        try:
            _stdout_failed(error)
        except InputError as failure:
            InputFailure(failure).show()
            sys.exit(EXIT_INPUT_ERROR)
    except ValueError:  # already closed (a test runner's stream): nothing left to lose
        pass


def _stdout_failed(error: OSError) -> None:
    """Standard output cannot be written: point it at /dev/null (so the exit does not fail again
    flushing it) and raise the error that exits 2."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file descriptor (a test runner's stream)
        pass
    raise InputError([Problem(f"cannot write the report to standard output: {error.strerror or error}",
                              file="<stdout>")])


main.add_command(rules)

if __name__ == "__main__":  # python -m engine.cli, for scripts that run the CLI without the entry point
    main()
