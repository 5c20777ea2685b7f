"""`check-listing`'s entry point: `--version` is answered before anything else is imported.

Every other command goes to `cli.main`, whose click group, dataclasses and (through them)
`inspect` and `ast` take ~40 ms to import on the 2-core box: `--version` alone would spend that
to print one line. The line is click's own (`cli.main` prints the same; a test holds them equal).
"""

from __future__ import annotations

import sys

PROG = "check-listing"


def main() -> int | None:
    if sys.argv[1:] == ["--version"]:
        from engine import __version__

        sys.stdout.write(f"{PROG}, version {__version__}\n")
        return 0
    from .cli import main as cli_main

    return cli_main()
