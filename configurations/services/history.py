"""Reading configuration history for people: filters, keyset pages, readable old -> new."""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import json

from django.db.models import Q, QuerySet

from ..data.models import ConfigurationHistory

PAGE_SIZE = 50


@dataclasses.dataclass(frozen=True)
class HistoryFilters:
    config_id: int | None = None
    category: str | None = None
    environment: str | None = None
    changed_by: str | None = None  # a username
    since: datetime.date | None = None
    until: datetime.date | None = None

    def apply(self, query: QuerySet) -> QuerySet:
        conditions = {
            "config_id": self.config_id,
            "category": self.category,
            "environment": self.environment,
            "changed_by__username": self.changed_by,
            "created_at__gte": _start_of(self.since),
            "created_at__lt": _start_of(self.until + datetime.timedelta(days=1)) if self.until else None,
        }
        return query.filter(**{name: value for name, value in conditions.items() if value not in (None, "")})


def _start_of(day: datetime.date | None) -> datetime.datetime | None:
    # A range on created_at itself, so the index serves it (a date cast would not).
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC) if day else None


@dataclasses.dataclass(frozen=True)
class HistoryEntry:
    row: ConfigurationHistory

    @property
    def is_secret(self) -> bool:
        return self.row.secret

    @property
    def summary(self) -> str:
        """For secrets only whether they changed; never a value, digest or key id."""
        action = self.row.action
        if not self.is_secret:
            return action
        return {"create": "set", "delete": "deleted"}.get(action, "changed" if action == "update" else action)

    @property
    def old(self) -> str | None:
        return None if self.is_secret else _readable(self.row.old_value, self.row.old_value_type)

    @property
    def new(self) -> str | None:
        return None if self.is_secret else _readable(self.row.new_value, self.row.new_value_type)

    @property
    def diff(self) -> list[tuple[str, str]]:
        """Line diff of old and new for multi-line values: (kind, text), kind one of ' ', '-', '+'."""
        old, new = self.old or "", self.new or ""
        if self.is_secret or ("\n" not in old and "\n" not in new):
            return []
        return [(line[0], line[2:]) for line in difflib.ndiff(old.splitlines(), new.splitlines()) if line[0] != "?"]


def _readable(value: str | None, value_type: str | None) -> str | None:
    if value is None or value_type != "json":
        return value
    try:
        return json.dumps(json.loads(value), indent=2, ensure_ascii=False)
    except ValueError:
        return value


def page(filters: HistoryFilters, *, before: str | None = None, size: int = PAGE_SIZE):
    """Newest first, ``size`` entries older than the cursor ``before``; returns (entries, next cursor).

    Keyset pagination on (created_at, id): no COUNT, and each page is an index range scan.
    """
    query = filters.apply(ConfigurationHistory.objects.select_related("changed_by")).order_by("-created_at", "-id")
    cursor = _parse_cursor(before)
    if cursor:
        created_at, entry_id = cursor
        query = query.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=entry_id))
    rows = list(query[: size + 1])
    entries = [HistoryEntry(row) for row in rows[:size]]
    next_cursor = _cursor(rows[size - 1]) if len(rows) > size else None
    return entries, next_cursor


def _cursor(row: ConfigurationHistory) -> str:
    return f"{row.created_at.isoformat()}~{row.id}"


def _parse_cursor(text: str | None):
    if not text or "~" not in text:
        return None
    stamp, _, entry_id = text.rpartition("~")
    try:
        return datetime.datetime.fromisoformat(stamp), int(entry_id)
    except ValueError:
        return None
