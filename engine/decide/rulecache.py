"""The compiled rulebook, kept between runs as Python keeps `.pyc` files.

Loading and compiling the rules (YAML, parsing, type checks, durable_rules JSON, each period's
rules packed into facts) is most of a single check's own work and gives the same result for the
same inputs. So the result is stored under a key made of everything it is a function of: the
bytes of every file the loader reads (`rules.rulesources`), the directory they were read from, the
engine's own source files and the Python version. Change any of them and the key changes;
nothing is ever invalidated by date.

A rulebook with problems is never stored: its errors are reported on every run. An entry that
cannot be read, is not ours, or is writable by others is ignored and rebuilt; a cache that cannot
be written is skipped. `STAR_LISTING_CACHE` names the directory (default
`$XDG_CACHE_HOME/star-listing`, else `~/.cache/star-listing`); `off` turns caching off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from pathlib import Path

from ..common.bundled import ENGINE
from ..rules.rulesources import bundled_rules_dir, rulebook_files
from .compiler import CompiledRulebook, compile_rulebook
from .factgroups import pack_periods

ENVIRONMENT = "STAR_LISTING_CACHE"
OFF = ("off", "0", "no", "false")
FORMAT = b"star-listing compiled rulebook 2"  # 2: with every period packed
KEEP = 8  # entries kept; the oldest are removed when a new one is written


def compiled_rules(directory: Path | None = None) -> CompiledRulebook:
    """The rules of `directory` (default: the bundled rules) loaded, checked and compiled:
    from the cache when these exact files were compiled before, else built and stored."""
    rules_dir = Path(directory) if directory else bundled_rules_dir()
    folder = cache_dir()
    key = _key(rules_dir) if folder else None
    if key:
        cached = _read(folder / f"{key}.pickle")
        if cached is not None:
            return cached
    from ..rules.ruleloader import load_rulebook  # only on a miss: a hit parses no rule file

    compiled = compile_rulebook(load_rulebook(rules_dir))
    if key:
        pack_periods(compiled)  # stored with the rest: a check or a batch worker then packs none
        _write(folder, f"{key}.pickle", compiled)
    return compiled


def cache_dir() -> Path | None:
    setting = os.environ.get(ENVIRONMENT)
    if setting is not None:
        return None if setting.strip().lower() in OFF + ("",) else Path(setting)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = Path.home() / ".cache"
        except RuntimeError:  # no home directory: no cache
            return None
    return Path(base) / "star-listing"


def _key(rules_dir: Path) -> str | None:
    digest = hashlib.sha256(FORMAT + b"\0" + sys.version.encode() + b"\0")
    try:
        digest.update(str(rules_dir.resolve()).encode() + b"\0")
        for path in rulebook_files(rules_dir):
            content = path.read_bytes() if path.is_file() else b"<missing>"
            digest.update(str(path.relative_to(rules_dir)).encode() + b"\0" + content + b"\0")
        for path in sorted(ENGINE.rglob("*.py")):
            digest.update(str(path.relative_to(ENGINE)).encode() + b"\0" + path.read_bytes() + b"\0")
    except (OSError, ValueError):
        return None  # an unreadable file: load without the cache, and let the loader say what is wrong
    return digest.hexdigest()


def _trusted(st: os.stat_result) -> bool:
    """Ours and writable by us alone: an entry is code to `pickle`, so no one else may have written it."""
    owner = getattr(os, "getuid", None)
    return (owner is None or st.st_uid == owner()) and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read(path: Path) -> CompiledRulebook | None:
    try:
        entry = path.lstat()  # not followed: a symlinked entry is refused
        if not (_trusted(path.parent.stat()) and _trusted(entry) and stat.S_ISREG(entry.st_mode)):
            return None
        with path.open("rb") as handle:
            value = pickle.load(handle)
    except Exception:  # noqa: BLE001 - missing, truncated or from another engine: rebuilt, never an error
        return None
    return value if isinstance(value, CompiledRulebook) else None


def _write(folder: Path, name: str, compiled: CompiledRulebook) -> None:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted(folder.stat()):
            return
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump(compiled, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, folder / name)  # atomic: a concurrent reader sees the old entry or the new
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError):
        return  # a read-only home, a full disk: the next run compiles again
