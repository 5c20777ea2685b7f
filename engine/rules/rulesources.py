"""Which files of a rules directory make up its rulebook, named in one place: the loader reads
them and the rule cache keys on them, so the two cannot disagree about what a rulebook is."""

from __future__ import annotations

from pathlib import Path

from ..common.bundled import bundled_dir, expected_place
from ..common.errors import Problem, RuleFileError

HEADER = "rulebook.yaml"
FIGURES = "figures.yaml"  # shared figures at the top; an instrument may add its own
INSTRUMENT = "instrument.yaml"
TESTS_SUFFIX = ".test.yaml"  # rule tests: read by `rules test`, not part of the rulebook


def bundled_rules_dir() -> Path:
    """The bundled rules: `engine/bundled_rules` in an installed wheel, the checkout's `rules/` otherwise."""
    found = bundled_dir("rules", HEADER)
    if found is None:
        raise RuleFileError([Problem("bundled rules not found; pass --rules DIR", file=expected_place("rules"))])
    return found


def instrument_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*/{INSTRUMENT}"))


def figure_files(directory: Path) -> list[Path]:
    return [directory / FIGURES] + sorted(directory.glob(f"*/{FIGURES}"))


def article_files(directory: Path) -> list[Path]:
    return [path for path in sorted(directory.glob("*/*.yaml"))
            if path.name not in (INSTRUMENT, FIGURES) and not path.name.endswith(TESTS_SUFFIX)]


def rulebook_files(directory: Path) -> list[Path]:
    """Every file loading reads, the header first; a file named here may be missing."""
    return [directory / HEADER] + instrument_files(directory) + figure_files(directory) + article_files(directory)
