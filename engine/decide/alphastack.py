"""How deep durable's matcher stack can grow for one fact: its alpha network modelled, and bounded.

durable_rules matches a fact by a depth-first walk of the ruleset's alpha network with a fixed
stack of 64 nodes (`handleAlpha`, `MAX_STACK_SIZE` in events.c): it pops a node and pushes every
child whose test holds (and every "not exists" child whose property is absent). A 65th pending node
is error 303, and the fact is not asserted. `factgroups` puts many rules on one fact, so it must
know, before making the ruleset, that no fact can reach that depth.

The network is built as durable builds it (`createAlpha`, `findAlpha`, `createForwardAlpha` in
rete.c), over the compiled JSON conditions:
- a comparison is a node under its parent, and an identical one (same property, operator and
  value) under the same parent is the same node, across rules too;
- `$and` chains its parts, each under the end of the one before;
- `$or` makes a new forward node (never shared), builds each branch from the `$or`'s own parent
  and links each branch's end to the forward node, which is pushed whenever that end is processed;
  what follows the `$or` hangs under the forward node.

In a last-in-first-out walk in which every test holds (the worst case: a test that fails only
removes a subtree), a node's children are pushed together and the last one is walked first with
the others pending, so the occupancy under a node is at most (its children − 1) + the largest
occupancy under one of them. Sharing matters: merged nodes carry the children of all the rules
that share them, so the bound is taken on the shared network, never on each rule apart (a test
holds the model to durable itself on both sides of the limit).
"""

from __future__ import annotations

import json
from typing import Any

from .compiler import _Num

MAX_STACK = 64  # durable's own limit
LIMIT = 60  # what a group may reach: a margin below it


class AlphaNetwork:
    """The alpha network under one group's `rule` node (node 0), built rule by rule; `mark` and
    `undo` let a packer try a rule and take it back."""

    def __init__(self) -> None:
        self.children: list[list[int]] = [[]]
        self._shared: dict[tuple[int, str, str, str], int] = {}
        self._log: list[tuple[str, Any]] = []

    def add(self, rule: dict[str, Any]) -> None:
        """Add one durable rule of `compiler`'s form: `{"all": [{"m": {"$and": [{"rule": …}, …]}}]}`."""
        parts = rule["all"][0]["m"]["$and"]
        end = 0  # the first part is the group's own `rule` node
        for part in parts[1:]:
            end = self._node(part, end)

    def depth(self) -> int:
        """The most nodes the matcher can hold pending while it walks this network for one fact:
        the `rule` node pushed alone by the root (only one `rule == <tag>` can hold), then its subtree."""
        memo: dict[int, int] = {}

        def under(node: int) -> int:
            known = memo.get(node)
            if known is None:
                kids = self.children[node]
                known = memo[node] = max(1, len(kids) - 1 + max(map(under, kids))) if kids else 1
            return known

        return under(0)

    def mark(self) -> int:
        return len(self._log)

    def undo(self, mark: int) -> None:
        while len(self._log) > mark:
            kind, item = self._log.pop()
            if kind == "node":
                self.children.pop()
            elif kind == "edge":
                self.children[item].pop()
            else:
                del self._shared[item]

    # ------------------------------------------------------------------------
    def _node(self, expression: dict[str, Any], parent: int) -> int:
        """The node `expression` ends at, built under `parent`."""
        if len(expression) != 1:
            raise ValueError(f"not one condition: {expression}")
        (name, value), = expression.items()
        if name == "$and":
            end = parent
            for part in value:
                end = self._node(part, end)
            return end
        if name == "$or":
            forward = self._new()
            for branch in value:
                self._edge(self._node(branch, parent), forward)
            return forward
        if name.startswith("$"):  # `{"$gte": {field: constant}}`, `{"$ex": {"rule": 1}}`
            (field, constant), = value.items()
            return self._leaf(parent, name, field, constant)
        return self._leaf(parent, "$eq", name, value)

    def _leaf(self, parent: int, op: str, field: str, constant: Any) -> int:
        text = constant.text if isinstance(constant, _Num) else json.dumps(constant, ensure_ascii=False)
        key = (parent, op, field, text)
        node = self._shared.get(key)
        if node is None:
            node = self._new()
            self._shared[key] = node
            self._log.append(("shared", key))
            self._edge(parent, node)
        return node

    def _new(self) -> int:
        self.children.append([])
        self._log.append(("node", None))
        return len(self.children) - 1

    def _edge(self, parent: int, child: int) -> None:
        self.children[parent].append(child)
        self._log.append(("edge", parent))
