#!/usr/bin/env python3
"""Rewrite the README's spreadsheet column reference from the case model (the same source as the
template's `columns` sheet). `tests/test_sheets.py` fails when the README is out of date."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.rules.ruleloader import load_rulebook
from engine.rules.sheetrules import vocabulary  # noqa: E402
from engine.input.sheetcolumns import reference_markdown  # noqa: E402

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- columns: begin -->\n).*?(<!-- columns: end -->)", re.S)


def main() -> int:
    text = README.read_text(encoding="utf-8")
    if not BLOCK.search(text):
        print("README.md has no <!-- columns: begin --> … <!-- columns: end --> block", file=sys.stderr)
        return 1
    table = reference_markdown(vocabulary(load_rulebook()))
    README.write_text(BLOCK.sub(lambda m: m.group(1) + table + m.group(2), text), encoding="utf-8")
    print(f"README.md: column reference rewritten ({table.count(chr(10)) - 2} columns)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
