"""Where the bundled rules and cases are: inside an installed wheel or at the top of a checkout."""

from __future__ import annotations

from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent
# pyproject.toml ships the checkout's rules/ and cases/ inside the wheel under these names
WHEEL_NAMES = {"rules": "bundled_rules", "cases": "bundled_cases"}


def bundled_dir(name: str, marker: str) -> Path | None:
    """`engine/bundled_<name>` in an installed wheel, the checkout's `<name>/` otherwise; the one that
    holds `marker`, or None."""
    for candidate in (ENGINE / WHEEL_NAMES[name], ENGINE.parent / name):
        if (candidate / marker).exists():
            return candidate
    return None


def expected_place(name: str) -> str:
    """Where a missing bundled directory was looked for first, for the message."""
    return str(ENGINE / WHEEL_NAMES[name])
