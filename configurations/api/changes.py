"""What the long poll ``changes/`` answers: which categories in a token's scope changed after ``since``.

Computed once per snapshot for every poll with the same scope (and, for the answer, the same ``since``), not once
per poll: when a change wakes thousands of waiting polls (api/deferred.py), most share a few tokens and the same
``since``, and each then costs a dictionary lookup instead of a pass over every category.
"""

from __future__ import annotations

from typing import Any

_MEMO_SIZE = 512  # entries kept per table; cleared whole beyond (a new snapshot makes the old ones useless)
_versions: dict[tuple, tuple[Any, dict[str, int]]] = {}
_answers: dict[tuple, tuple[Any, tuple[int, dict | None]]] = {}


class Changes:
    """One long poll's question: the categories of the token's scope changed after ``since`` (None: none asked)."""

    def __init__(self, token, environment: str, since: int | None) -> None:
        self.token, self.environment, self.since = token, environment, since
        self.scope = (environment, tuple(token.environments), tuple(token.categories))

    def versions(self, snapshot) -> dict[str, int]:
        """The version of every category in scope (shared: do not change it)."""
        key = (id(snapshot), self.scope)
        found = _versions.get(key)
        if found is not None and found[0] is snapshot:
            return found[1]
        covers = self.token.covers
        versions = {c: v for c, v in snapshot.category_versions.items() if covers(self.environment, c)}
        _remember(_versions, key, (snapshot, versions))
        return versions

    def changed(self, snapshot) -> bool:
        """Whether a category in scope changed after ``since``."""
        return snapshot.version > self.since and any(v > self.since for v in self.versions(snapshot).values())

    def answer(self, snapshot) -> tuple[int, dict | None]:
        """200 with the newest version and the changed categories, or 304 (shared body: do not change it)."""
        key = (id(snapshot), self.scope, self.since)
        found = _answers.get(key)
        if found is not None and found[0] is snapshot:
            return found[1]
        versions = self.versions(snapshot)
        newest = max(versions.values(), default=0)
        if self.since is None:
            result = (200, {"version": newest, "changed": []})
        else:
            changed = sorted(c for c, v in versions.items() if v > self.since)
            result = (200, {"version": newest, "changed": changed}) if changed else (304, None)
        _remember(_answers, key, (snapshot, result))
        return result


def _remember(table: dict, key: tuple, value: tuple) -> None:
    if len(table) >= _MEMO_SIZE:
        table.clear()
    table[key] = value
