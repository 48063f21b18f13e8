"""Reading configuration history for people: filters, keyset pages, readable old -> new."""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import json

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.db.models.functions import Length, Substr, TruncDate
from django.utils.translation import pgettext_lazy

from ..data.models import ChangeRequestItem, ConfigurationHistory, HistoryRollback

PAGE_SIZE = 50
# A history page's cost must not depend on how large or how different the values are: it reads at most this
# much of each value, and diffs only values that fit, line by line, up to DIFF_LINES lines. The entry's own page
# shows the whole values.
PREVIEW_CHARS = 4000
DIFF_LINES = 300


@dataclasses.dataclass(frozen=True)
class HistoryFilters:
    """What the history pages filter by: key, environment, user, action, time."""

    config_id: int | None = None
    category: str | None = None
    environment: str | None = None
    key: str | None = None
    changed_by: str | None = None  # a username
    since: datetime.date | None = None
    until: datetime.date | None = None

    def apply(self, query: QuerySet) -> QuerySet:
        """The history query narrowed to these filters (empty ones ignored)."""
        conditions = {
            "config_id": self.config_id,
            "category": self.category,
            "environment": self.environment,
            "config_key": self.key,
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
    """A history row as the admin and the API show it (secrets as markers)."""

    row: ConfigurationHistory
    change_request_id: int | None = None  # the change request whose apply wrote the entry, if one did
    restored_id: int | None = None  # the entry a rollback restored, when this entry was written by one
    is_current: bool = False  # the newest entry of its configuration: it holds the value now (nothing to roll back)

    @property
    def change(self) -> str:
        """What happened, in one vocabulary for secrets and plain keys: created, changed, deactivated,
        reactivated, deleted, rolled back."""
        if self.restored_id is not None:
            return "rolled back"
        return CHANGE_WORDS.get(self.row.action, self.row.action)

    @property
    def checkpoint(self) -> dict | None:
        """What a checkpoint entry recorded of a history partition archived whole (None for any other entry)."""
        if self.row.action != "checkpoint":
            return None
        try:
            return json.loads(self._value("new") or "")
        except ValueError:
            return None

    @property
    def change_label(self) -> str:
        """``change`` as a person reads it, in their language."""
        return str(CHANGE_LABELS.get(self.change, self.change))

    @property
    def is_secret(self) -> bool:
        """Whether the entry is of a secret: its values are never shown."""
        return self.row.secret

    @property
    def old(self) -> str | None:
        """The value before, as shown (None for a secret)."""
        return None if self.is_secret else self._shown("old")

    @property
    def new(self) -> str | None:
        """The value after, as shown (None for a secret)."""
        return None if self.is_secret else self._shown("new")

    @property
    def truncated(self) -> bool:
        """Whether a page shows only the start of a value (the entry's own page shows all of it)."""
        return not self.is_secret and any(self._cut(side) for side in ("old", "new"))

    def _cut(self, side: str) -> bool:
        # Only rows read for a page (``page()`` annotates previews) are cut; a row read whole is shown whole.
        return hasattr(self.row, f"{side}_preview") and self._length(side) > PREVIEW_CHARS

    @property
    def diff(self) -> list[tuple[str, str]]:
        """Line diff of old and new for multi-line values: (kind, text), kind one of ' ', '-', '+'.

        Bounded: only for values shown whole, and of at most DIFF_LINES lines each; a plain line matcher, with
        none of ndiff's character-by-character pass (quadratic on lines that differ everywhere).
        """
        if self.is_secret or self.truncated or not hasattr(self.row, "old_preview"):
            return []
        old, new = (self.old or "").splitlines(), (self.new or "").splitlines()
        if (len(old) <= 1 and len(new) <= 1) or max(len(old), len(new)) > DIFF_LINES:
            return []
        lines = []
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
            if tag == "equal":
                lines += [(" ", line) for line in old[old_start:old_end]]
                continue
            lines += [("-", line) for line in old[old_start:old_end]]
            lines += [("+", line) for line in new[new_start:new_end]]
        return lines

    def _value(self, side: str) -> str | None:
        preview = getattr(self.row, f"{side}_preview", _WHOLE)
        return getattr(self.row, f"{side}_value") if preview is _WHOLE else preview

    def _length(self, side: str) -> int:
        length = getattr(self.row, f"{side}_length", None)
        if length is None:
            value = self._value(side)
            return len(value) if value else 0
        return length

    def _shown(self, side: str) -> str | None:
        value = self._value(side)
        if value is None or self._cut(side):
            return None if value is None else value[:PREVIEW_CHARS] + "…"
        return _readable(value, getattr(self.row, f"{side}_value_type"))


_WHOLE = object()
CHANGE_WORDS = {"create": "created", "update": "changed", "deactivate": "deactivated", "reactivate": "reactivated",
                "delete": "deleted", "checkpoint": "checkpoint"}  # fmt: skip
CHANGE_LABELS = {
    "created": pgettext_lazy("history change", "created"),
    "changed": pgettext_lazy("history change", "changed"),
    "deactivated": pgettext_lazy("history change", "deactivated"),
    "reactivated": pgettext_lazy("history change", "reactivated"),
    "deleted": pgettext_lazy("history change", "deleted"),
    "rolled back": pgettext_lazy("history change", "rolled back"),
    "checkpoint": pgettext_lazy("history change", "archive checkpoint"),
}


def _readable(value: str | None, value_type: str | None) -> str | None:
    if value is None or value_type != "json":
        return value
    try:
        return json.dumps(json.loads(value), indent=2, ensure_ascii=False)
    except ValueError:
        return value


def page(filters: HistoryFilters, *, before: str | None = None, size: int = PAGE_SIZE):
    """Newest first, ``size`` entries older than the cursor ``before``; returns (entries, next cursor).
    InvalidCursor if ``before`` is given and is not a cursor.

    Keyset pagination on (created_at, id): no COUNT, and each page is an index range scan.
    """
    rows = list(page_query(filters, before=before)[: size + 1])
    entries = annotated(rows[:size])
    next_cursor = _cursor(rows[size - 1]) if len(rows) > size else None
    return entries, next_cursor


def page_query(filters: HistoryFilters, *, before: str | None = None) -> QuerySet:
    """The rows of ``page``, newest first from the cursor on, with previews of their values."""
    rows = ConfigurationHistory.objects.select_related("changed_by").defer("old_value", "new_value")
    rows = rows.annotate(
        old_preview=Substr("old_value", 1, PREVIEW_CHARS + 1),
        new_preview=Substr("new_value", 1, PREVIEW_CHARS + 1),
        old_length=Length("old_value"),
        new_length=Length("new_value"),
    )
    query = filters.apply(rows).annotate(superseded=_superseded()).order_by("-created_at", "-id")
    cursor = _parse_cursor(before)
    if cursor:
        created_at, entry_id = cursor
        # The plain bound makes each partition's index scan start at the cursor (the OR alone only filters).
        query = query.filter(created_at__lte=created_at)
        query = query.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=entry_id))
    return query


def _superseded() -> Exists:
    """Whether a later entry (a higher id) of the same configuration exists: a probe of (config_id, created_at) that
    reads only the partitions from the entry's month on. A configuration's later entries are never earlier: the
    touch trigger keeps updated_at increasing (a deletion after the clock stepped back is the one exception, and
    would leave the entry before it looking current)."""
    later = ConfigurationHistory.objects.filter(
        config_id=OuterRef("config_id"), created_at__gte=OuterRef("created_at"), id__gt=OuterRef("id")
    )
    return Exists(later)


def annotated(rows: list[ConfigurationHistory]) -> list[HistoryEntry]:
    """The rows as entries that know their change request, the entry a rollback restored, and whether they hold the
    current value (two queries whatever the number of rows, three for rows not read by ``page_query``)."""
    ids = [row.pk for row in rows]
    requests = change_requests_of(ids)
    restored = dict(HistoryRollback.objects.filter(history_id__in=ids).values_list("history_id", "restored_id"))
    if all(hasattr(row, "superseded") for row in rows):  # read by page_query
        current = {row.pk for row in rows if not row.superseded}
    else:
        newest = ConfigurationHistory.objects.filter(config_id__in={row.config_id for row in rows})
        current = set(newest.values("config_id").annotate(newest=Max("id")).values_list("newest", flat=True))
    return [HistoryEntry(row, requests.get(row.pk), restored.get(row.pk), row.pk in current) for row in rows]


@dataclasses.dataclass(frozen=True)
class Timeline:
    """Changes per day over a period, and who made them: what the history page of a key or category shows above
    its table."""

    start: datetime.date
    days: list[tuple[datetime.date, int]]  # every day of the period, oldest first, with its number of changes
    people: list[tuple[str | None, int]]  # who changed it, most changes first (None: writes without an actor)

    @property
    def busiest(self) -> int:
        """The most changes on one day (0: none in the period)."""
        return max((count for _, count in self.days), default=0)

    @property
    def total(self) -> int:
        """The changes in the period."""
        return sum(count for _, count in self.days)


def timeline(filters: HistoryFilters, *, days: int = 90, today: datetime.date | None = None) -> Timeline:
    """Changes per day (UTC) over the last ``days`` days for the filtered history, and who made them: two grouped
    queries over the period's index range, whatever the history's size."""
    today = today or datetime.datetime.now(datetime.UTC).date()
    start = today - datetime.timedelta(days=days - 1)
    rows = filters.apply(ConfigurationHistory.objects.filter(created_at__gte=_start_of(start)))
    per_day = dict(rows.annotate(day=TruncDate("created_at", tzinfo=datetime.UTC)).values("day")
                   .annotate(n=Count("id")).values_list("day", "n"))  # fmt: skip
    series = [(start + datetime.timedelta(days=i), per_day.get(start + datetime.timedelta(days=i), 0))
              for i in range(days)]  # fmt: skip
    people = rows.values("changed_by__username").annotate(n=Count("id")).order_by("-n", "changed_by__username")[:10]
    return Timeline(start, series, [(p["changed_by__username"], p["n"]) for p in people])


def change_requests_of(entry_ids: list[int]) -> dict[int, int]:
    """History id -> the change request whose apply wrote it (one query; entries written otherwise are absent)."""
    if not entry_ids:
        return {}
    return dict(ChangeRequestItem.objects.filter(history_id__in=entry_ids).values_list("history_id", "request_id"))


def _cursor(row: ConfigurationHistory) -> str:
    """URL-safe as it is: UTC with a Z, no '+' that a query string would turn into a space."""
    stamp = row.created_at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    return f"{stamp}~{row.id}"


class InvalidCursor(ValueError):
    """``before`` is not a cursor that ``next`` gave (a bad request, never silently the first page)."""


_MAX_ID = 2**63 - 1


def _parse_cursor(text: str | None):
    if text is None:
        return None
    stamp, sep, entry_id = text.rpartition("~")
    try:
        if not sep or not entry_id.isascii() or not entry_id.isdigit() or not 0 < int(entry_id) <= _MAX_ID:
            raise ValueError
        moment = datetime.datetime.fromisoformat(stamp)
    except ValueError:
        raise InvalidCursor("before must be a cursor from a page's `next` (<time>~<id>)") from None
    if moment.tzinfo is None:
        raise InvalidCursor("before must be a cursor from a page's `next` (its time has a time zone)")
    return moment, int(entry_id)
