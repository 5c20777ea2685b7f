"""One error tree for everything a user can get wrong, each error with its place.

A `Problem` is a value: file, line, column, the field or rule it concerns, what was
wrong and what was expected. Loading collects problems instead of stopping at the
first, so a rule author sees every mistake in one run; the CLI turns them into one
message per problem and a distinct exit code, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .sanitize import MAX_PROBLEMS, clip, escape


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, and where it is."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None
    rule_id: str | None = None
    expected: str | None = None
    kind: str = "rule"  # what rule_id names: a rule, a figure, a test
    cell: str | None = None  # a spreadsheet's `Sheet!D7` (then line is the row, column the column's number)

    def place(self) -> str:
        """`file:line:column` (or `file:Sheet!D7` in a spreadsheet), as far as it is known."""
        if self.cell:
            return f"{self.file or '<input>'}:{self.cell}"
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def render(self) -> str:
        """One line a person can act on: echoed input escaped (it cannot start a line of its own), the
        message clipped to a readable length."""
        text = f"{self.place()}: "
        if self.rule_id:
            text += f"{self.kind} {self.rule_id}: "
        if self.field:
            text += f"{self.field}: "
        text += self.message
        if self.expected:
            text += f" (expected {self.expected})"
        return escape(clip(text))


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


@dataclass
class InputError(EngineError):
    """Input that cannot be used: a case file or a rule file. Carries all its problems."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        # a file of 190,000 unknown keys needs 50 of them listed, not 46 MB (a last line may already count the rest)
        if len(self.problems) > MAX_PROBLEMS + 1:
            first = self.problems[0]
            rest = len(self.problems) - MAX_PROBLEMS
            self.problems = self.problems[:MAX_PROBLEMS] + [
                Problem(f"and {rest} more problems (only the first {MAX_PROBLEMS} are listed)", file=first.file)]
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems)


class CaseError(InputError):
    """A case file is malformed or incomplete in a way the engine refuses."""


class RuleFileError(InputError):
    """A rule file is malformed, refers to unknown figures or is inconsistent."""


class ExpressionError(EngineError):
    """An expression in a rule file cannot be parsed or type-checked.

    Raised with the offending text and the column inside it; the rule loader
    re-raises it as a `Problem` with the file and line of the expression.
    """

    def __init__(self, message: str, text: str = "", column: int | None = None):
        self.message = message
        self.text = text
        self.column = column
        where = f" at column {column}" if column is not None else ""
        super().__init__(f"{message}{where} in `{text}`" if text else message)


class InternalError(EngineError):
    """The engine contradicted itself (e.g. a rule both passed and failed): a bug."""


class WorkerLost(EngineError):
    """A batch's worker process died on its own (the out-of-memory killer, a signal sent to it
    alone) before sending the rows it was evaluating: the batch stops rather than wait for them."""


# Exit codes of `check-listing`: the verdict, or why there is none.
EXIT_ELIGIBLE = 0
EXIT_NOT_ELIGIBLE = 1
EXIT_INPUT_ERROR = 2
EXIT_UNDETERMINED = 3
EXIT_BATCH_ERRORS = 4  # `batch`: every case was processed, but some case files were bad input
EXIT_INTERNAL_ERROR = 70
EXIT_WORKER_LOST = 71  # `batch`: a worker process died (EX_OSERR): stopped, nothing written
