"""Which rules directory a command uses when none is given: the checkout's, inside a checkout.

A rule author edits `rules/` in a checkout of this project and runs `check-listing rules test`.
After a plain `pip install .` the installed package carries its own copy of the rules, and that
copy would be tested instead of the edited files. So, without `--rules`, every command run
inside a checkout (the current directory or one above it holds this project's `pyproject.toml`
and `rules/rulebook.yaml`) uses that checkout's `rules/`; elsewhere it uses the bundled rules.
The CLI says so when the checkout's rules differ from the installed ones.
"""

from __future__ import annotations

import re
from pathlib import Path

from .rulesources import bundled_rules_dir

_PROJECT = re.compile(r'^name\s*=\s*"star-listing"\s*$', re.MULTILINE)


def checkout_rules_dir(start: Path) -> Path | None:
    """The `rules/` of the checkout `start` lies in, or None outside a checkout."""
    for folder in (start, *start.parents):
        project = folder / "pyproject.toml"
        if project.is_file():
            try:
                ours = _PROJECT.search(project.read_text(encoding="utf-8", errors="replace")) is not None
            except OSError:
                return None
            rules = folder / "rules"
            return rules if ours and (rules / "rulebook.yaml").is_file() else None
    return None


def default_rules_dir(start: Path) -> tuple[Path, bool]:
    """The rules to use without `--rules`, and whether they are a checkout's that differ from the
    installed copy (worth saying: the author's edits are what is used)."""
    bundled = bundled_rules_dir()
    found = checkout_rules_dir(start)
    if found is None or found.resolve() == bundled.resolve():
        return bundled, False
    return found, not _same_files(found, bundled)


def _same_files(left: Path, right: Path) -> bool:
    """Whether two rules directories hold the same files with the same bytes."""
    def files(root: Path) -> dict[str, Path]:
        return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                and p.suffix in (".yaml", ".md")}

    ours, theirs = files(left), files(right)
    return ours.keys() == theirs.keys() and all(ours[k].read_bytes() == theirs[k].read_bytes() for k in ours)
