"""Safe YAML loading that remembers where every value came from.

Case and rule files are untrusted input. This loader:
- uses PyYAML's safe composer (the C one when libyaml is present) and builds values
  itself from the node tree, so no tag can construct an object;
- refuses anchors and aliases (they are the "billion laughs" route to exhausting
  memory, and nothing in our formats needs them), duplicate keys (PyYAML silently keeps
  the last one) and non-string keys;
- keeps decimal numbers as `Decimal` from their source text, never through `float`;
- reads only regular files (`safeio`), and bounds file size, nesting depth and keys per mapping;
- records the line and column of every key and value, so an error found later (by
  pydantic, by the rule loader) can be reported at its place in the file.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from ..common.errors import InputError, Problem
from ..common.safeio import read_regular_file

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 32
MAX_KEYS = 1000  # per mapping: no case or rule file needs more; 190,000 keys cost seconds and MBs

try:  # libyaml's composer is ~10x faster; fall back silently when it is not built in
    _SafeLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _SafeLoader = yaml.SafeLoader


class _Loader(_SafeLoader):  # type: ignore[misc, valid-type]
    """The safe loader with PyYAML's tag resolution made cheap (it runs in Python for every scalar,
    ~120 a case file): a plain scalar whose first character starts no implicit tag (most keys, and
    text such as 北京…) is text at once, and the tags of short scalars that start with a letter (the
    keys and flags that recur in every file) are remembered. Anything else is resolved as before."""

    _resolved: dict[tuple[str, Any], str] = {}
    _MAX_RESOLVED = 4096  # then start again: a hostile batch cannot grow it without bound

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and not self.yaml_path_resolvers and None not in self.yaml_implicit_resolvers:
            if not implicit[0] or (value and value[0] not in self.yaml_implicit_resolvers):
                return self.DEFAULT_SCALAR_TAG
            if value and len(value) <= 64 and value[0].isalpha():
                key = (value, implicit)
                tag = self._resolved.get(key)
                if tag is None:
                    if len(self._resolved) >= self._MAX_RESOLVED:
                        self._resolved.clear()
                    tag = self._resolved[key] = super().resolve(kind, value, implicit)
                return tag
        return super().resolve(kind, value, implicit)


Path_ = tuple[str | int, ...]
# what is left of 37,682.20万元 after a comma inside {…} split it: a key of three digits, maybe
# decimals, maybe a unit
_SPLIT_THOUSANDS = re.compile(r"[0-9]{3}(\.[0-9]+)?([^\s0-9.,]\S*)?")


@dataclass
class SourceMap:
    """Where each value of a loaded document sits: path → (line, column), 1-based."""

    file: str
    places: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path_) -> tuple[int | None, int | None]:
        """The place of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while True:
            if path in self.places:
                return self.places[path]
            if not path:
                return (None, None)
            path = path[:-1]

    def problem(self, path: Path_, message: str, expected: str | None = None,
                rule_id: str | None = None, kind: str = "rule") -> Problem:
        """A `Problem` placed at `path` in this file, about rule (or figure, test) `rule_id`."""
        line, column = self.locate(path)
        return Problem(message=message, file=self.file, line=line, column=column,
                       field=dotted(path) or None, expected=expected, rule_id=rule_id, kind=kind)


def dotted(path: Path_) -> str:
    """`financials[2].revenue` style name of a path."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass
class Document:
    """A loaded YAML document: its plain data and where each part of it came from."""

    data: Any
    source: SourceMap


def load_text(text: str, filename: str) -> Document:
    """Parse YAML text safely into plain data plus a source map."""
    if len(text.encode("utf-8", errors="replace")) > MAX_FILE_BYTES:
        raise InputError([Problem(f"file is larger than {MAX_FILE_BYTES // 1024} KiB", file=filename)])
    source = SourceMap(filename)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        raise InputError([Problem(f"malformed YAML: {reason}", file=filename,
                                  line=mark.line + 1 if mark else None,
                                  column=mark.column + 1 if mark else None)]) from None
    if node is None:
        return Document(None, source)
    builder = _Builder(filename, source)
    data = builder.build(node, (), 0)
    if builder.problems:
        raise InputError(list(dict.fromkeys(builder.problems)))  # one message per place and problem
    return Document(data, source)


def read_source(path: str | Path) -> tuple[str, bytes]:
    """The text and bytes of one YAML file: a regular file, bounded, UTF-8; else an `InputError`."""
    data = read_regular_file(path, MAX_FILE_BYTES)
    try:
        return data.decode("utf-8"), data
    except UnicodeDecodeError:
        raise InputError([Problem("file is not UTF-8 text", file=str(path))]) from None


def load_file(path: str | Path) -> Document:
    """Read and parse one YAML file; an unreadable file (or a device, FIFO, directory) is an `InputError`."""
    text, _ = read_source(path)
    return load_text(text, str(path))


# Plain decimal numbers only: no sign-less leading zeros (octal), no 0x/0o/0b, no ':' or '_'.
_PLAIN_NUMBER = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?$|^[-+]?\.[0-9]+(?:[eE][-+]?[0-9]+)?$")

_NON_FINITE = re.compile(r"^[-+]?\.(?:inf|nan)$", re.IGNORECASE)  # refused below as not finite


class _Builder:
    """Turns a composed node tree into plain Python values, recording places."""

    _scalar_constructor = yaml.SafeLoader("")  # used only for ints, bools, nulls and dates

    def __init__(self, filename: str, source: SourceMap):
        self.filename = filename
        self.source = source
        self.problems: list[Problem] = []
        self._seen: set[int] = set()

    def _fail(self, node: yaml.Node, message: str, path: Path_ | None = None) -> None:
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        if path is not None and path in self.source.places:
            line, column = self.source.places[path]
        self.problems.append(Problem(message, file=self.filename, line=line, column=column,
                                     field=dotted(path) if path else None))

    def build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        if id(node) in self._seen:
            # an alias yields the anchored node again: report it where it is used
            self._fail(node, "YAML anchors and aliases are not allowed", path)
            return None
        self._seen.add(id(node))
        if depth > MAX_DEPTH:
            self._fail(node, f"nesting deeper than {MAX_DEPTH} levels", path)
            return None
        self.source.places.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                self._fail(node, f"unsupported YAML tag {node.tag}", path)
                return None
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                self._fail(node, f"unsupported YAML tag {node.tag}", path)
                return None
            return [self.build(child, path + (i,), depth + 1) for i, child in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        if len(node.value) > MAX_KEYS:
            self._fail(node, f"a mapping of {len(node.value)} keys (at most {MAX_KEYS} are read)", path)
            return out
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._fail(key_node, "YAML merge keys (<<) are not allowed")
                continue
            key = self._scalar(key_node, path, key=True) if isinstance(key_node, yaml.ScalarNode) else None
            if (node.flow_style and isinstance(key_node, yaml.ScalarNode) and not key_node.style
                    and isinstance(value_node, yaml.ScalarNode) and value_node.value == ""
                    and _SPLIT_THOUSANDS.fullmatch(key_node.value)):
                self._fail(key_node, "inside {…} a comma separates entries, so an amount such as 50,000 or "
                                     "37,682.20 was split; quote it ('37,682.20') or write the mapping in block "
                                     "style", path)
                continue
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                self._fail(key_node, "keys must be plain text or whole numbers (years)")
                continue
            if key in out:
                self.problems.append(Problem(f"duplicate key '{key}'", file=self.filename,
                                             line=key_node.start_mark.line + 1, column=key_node.start_mark.column + 1,
                                             field=dotted(path + (key,))))
                continue
            child = path + (key,)
            self.source.places[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, child, depth + 1)
        return out

    def _scalar(self, node: yaml.ScalarNode, path: Path_ | None = None, key: bool = False) -> Any:
        tag = node.tag
        if tag == "tag:yaml.org,2002:str":
            return node.value
        if (tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and not key
                and not _PLAIN_NUMBER.match(node.value) and not _NON_FINITE.match(node.value)):
            # YAML 1.1 reads 0x1F as hex, 012 as octal, 1:30 as base 60 and 1_000 as 1000: a figure
            # copied that way is not the number its author wrote
            self._fail(node, f"'{node.value}' is a YAML 1.1 number form (hex, octal, base 60 or with '_'); "
                             "write a plain decimal such as 1000 or 1,000 in quotes, or quote it as text", path)
            return None
        if tag == "tag:yaml.org,2002:float":
            try:
                value = Decimal(node.value.replace("_", ""))
            except InvalidOperation:
                value = None
            if value is None or not value.is_finite():
                self._fail(node, f"'{node.value}' is not a finite decimal number", path)
                return None
            return value
        if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
                   "tag:yaml.org,2002:timestamp"):
            try:
                value = self._scalar_constructor.construct_object(node, deep=False)
            except (ValueError, OverflowError) as exc:
                self._scalar_constructor.constructed_objects.pop(node, None)
                what = "date" if tag.endswith("timestamp") else "number"
                self._fail(node, f"'{node.value}' is not a valid {what} ({exc})", path)
                return None
            # the shared constructor memoises every node it builds: forget it, or a batch of
            # thousands of files keeps every scalar node alive (measured: ~4 KB per case)
            self._scalar_constructor.constructed_objects.pop(node, None)
            if isinstance(value, dt.datetime):
                self._fail(node, "a date is expected here, not a date and time", path)
                return None
            return value
        self._fail(node, f"unsupported YAML tag {tag}", path)
        return None
