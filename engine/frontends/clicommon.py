"""What the commands of `check-listing` share: engine errors as exit codes, dates and the rules directory.

Bad input becomes its problems on standard error with exit code 2, an internal contradiction exit
code 70, a batch's worker process lost exit code 71, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from ..common.errors import EXIT_INPUT_ERROR, EXIT_INTERNAL_ERROR, EXIT_WORKER_LOST, InputError, InternalError, WorkerLost
from ..common.sanitize import escape


class InputFailure(click.ClickException):
    """Bad input: printed as its problems, exit code 2."""

    exit_code = EXIT_INPUT_ERROR

    def __init__(self, error: InputError):
        super().__init__(error.render())
        self.error = error

    def show(self, file=None) -> None:  # noqa: D102 - click's hook
        stream = file or sys.stderr
        for problem in self.error.problems:
            click.echo(f"error: {problem.render()}", file=stream)


def parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date such as 2021-03-16") from None


class input_errors:
    """Turn engine errors into click exceptions with the right exit codes."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if isinstance(error, InputError):
            raise InputFailure(error)
        if isinstance(error, InternalError):
            click.echo(f"internal error (please report): {error}", err=True)
            sys.exit(EXIT_INTERNAL_ERROR)
        if isinstance(error, WorkerLost):
            click.echo(f"error: {escape(str(error))}; the batch stopped, nothing written "
                       "(an earlier output file is as it was)", err=True)
            sys.exit(EXIT_WORKER_LOST)
        return False


def rules_directory(directory: Path | None) -> Path:
    """The rules directory to load: as given; else, inside a checkout, its `rules/` (said on standard
    error when they differ from the installed copy); else the bundled rules."""
    from ..rules.checkout import default_rules_dir

    if directory is not None:
        return directory
    found, differs = default_rules_dir(Path.cwd())
    if differs:
        click.echo(f"rules: {found} (this checkout's rules/, which differ from the installed copy)", err=True)
    return found
