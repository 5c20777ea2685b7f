"""Reading input and writing output without trusting what a path names.

A path given as a case file may name a device (`/dev/zero` never ends), a FIFO (never
finishes), a socket, a directory or a symlink to any of them; an output path may name a device
node, a FIFO, a directory, or one of the inputs. This module:
- reads only regular files, and at most a bound of bytes, from one open descriptor (the type
  is checked on the descriptor itself, so a file swapped after the check is not read);
- writes only to a regular file or a new path, never over an input, atomically (a temporary
  file beside the target, then a rename; a symlinked target is written through, the link kept);
- names temporary files `.NAME.PID.*.partial` so that a later run can tell one left by a killed
  run (its process is gone) from one being written now, and remove it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import InputError, Problem

PARTIAL_SUFFIX = ".partial"


def kind_of(mode: int) -> str:
    """What a file mode names, in words."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_regular_file(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them; anything else is an `InputError`."""
    name = str(path)
    try:
        # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting forever
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputError([Problem(f"cannot read file: {exc.strerror or exc}", file=name)]) from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise InputError([Problem(f"cannot read file: it is {kind_of(mode)}; only regular files are read",
                                      file=name)])
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(descriptor, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise InputError([Problem(f"cannot read file: {exc.strerror or exc}", file=name)]) from None
    finally:
        os.close(descriptor)
    if size > limit:
        raise InputError([Problem(f"file is larger than {limit // 1024} KiB", file=name)])
    return b"".join(chunks)


def output_target(path: Path, inputs: list[Path] = ()) -> Path:
    """The file to write for output `path`: itself, or the file its symlink names. A device, FIFO,
    socket or directory, or a file that is one of `inputs`, is refused (`InputError`)."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return target  # a new file (or a dangling link's target): nothing to replace
    except OSError as exc:
        raise InputError([Problem(f"cannot write here: {exc.strerror or exc}", file=str(path))]) from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError([Problem(f"cannot write here: it is {kind_of(info.st_mode)}; output goes to a regular "
                                  "file or a new path", file=str(path))])
    for source in inputs:
        try:
            same = os.path.samefile(source, target)
        except OSError:
            continue
        if same:
            raise InputError([Problem(f"the output would overwrite the input {source}; choose another output path",
                                      file=str(path))])
    return target


def partial_path(target: Path) -> Path:
    """A new, empty temporary file beside `target`, named for this process."""
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=PARTIAL_SUFFIX,
                                    dir=target.parent)
    os.close(handle)
    return Path(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(target: Path) -> list[Path]:
    """Remove the temporary files an earlier, killed run left beside `target` (their process is
    gone); return them. Those of a run still going are left alone."""
    removed = []
    prefix = f".{target.name}."
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(PARTIAL_SUFFIX)):
            continue
        pid_text = entry.name[len(prefix):].split(".", 1)[0]
        if pid_text.isdigit() and (int(pid_text) == os.getpid() or _alive(int(pid_text))):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def write_atomically(path: Path, text: str, inputs: list[Path] = ()) -> None:
    """Write `text` whole or not at all to `path` (checked with `output_target`)."""
    target = output_target(path, inputs)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(target)
    temporary = partial_path(target)
    try:
        with temporary.open("w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except OSError as exc:
        raise InputError([Problem(f"cannot write the output: {exc.strerror or exc}", file=str(path))]) from None
    finally:
        temporary.unlink(missing_ok=True)
