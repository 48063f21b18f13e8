"""What the grouped editor shows for one (category, environment): fields, groups and the category's version.

One query for the metadata, one for the rows and one for the version, whatever the number of keys. Keys that
have rows but no metadata still appear (in "Other settings"), so nothing is hidden. The version is the one the
API's ETag carries (services.category_version): a save checks it under the category's lock.
"""

from __future__ import annotations

import dataclasses
from itertools import groupby

from django.utils.translation import gettext_lazy, pgettext

from .. import services
from ..core.secrecy import is_secret_key
from ..core.vocabulary import INPUT_OF_VALUE_TYPE, InputType, ValueType
from ..data.models import ConfigurationMetadata, SystemConfiguration

OTHER_GROUP = gettext_lazy("Other settings")  # the group of keys without metadata
# A category with more keys than this opens as an outline of its groups and a filter: the page renders the fields of
# one group or one filter at a time, at most this many per page, so that it stays small and fast at thousands of keys.
PAGE_KEYS = 200


@dataclasses.dataclass
class EditorField:
    """One key of the editor: its metadata (if any), its active row (if any), and how to show it."""

    key: str
    meta: ConfigurationMetadata | None
    row: SystemConfiguration | None  # the active row, if any

    @property
    def input_type(self) -> str:
        """The widget: the metadata's, else password for a secret, else the stored type's."""
        if self.meta is not None:
            return self.meta.input_type
        if is_secret_key(self.key, is_encrypted=self.row is not None and self.row.is_encrypted):
            return InputType.PASSWORD
        return INPUT_OF_VALUE_TYPE.get(self.row.value_type if self.row else ValueType.STRING, InputType.TEXT)

    @property
    def secret(self) -> bool:
        """Whether the value is a secret (by name, metadata or encryption): never shown."""
        return is_secret_key(
            self.key, input_type=self.input_type, is_encrypted=bool(self.row and self.row.is_encrypted)
        )

    @property
    def label(self) -> str:
        """The metadata's display name, else the key."""
        return self.meta.display_name if self.meta else self.key

    @property
    def rules(self) -> dict:
        """The metadata's validation rules ({} without any)."""
        rules = self.meta.validation_rules if self.meta else None
        return rules if isinstance(rules, dict) else {}

    @property
    def required(self) -> bool:
        """Whether a value is required (the metadata's column or its rules)."""
        return bool(self.meta and self.meta.is_required) or self.rules.get("required") is True

    @property
    def default(self) -> str | None:
        """The metadata's default value, if any."""
        return self.meta.default_value if self.meta else None

    @property
    def group(self) -> str:
        """The group the field is shown in (keys without metadata: Other settings)."""
        return (self.meta.group_name if self.meta else None) or str(OTHER_GROUP)

    @property
    def sort_order(self) -> int:
        """Its place within the group (keys without metadata last)."""
        return self.meta.sort_order if self.meta else 1_000_000

    @property
    def current(self) -> str | None:
        """The stored text, for fields that may be shown (never for a secret)."""
        if self.secret or self.row is None:
            return None
        return self.row.config_value

    @property
    def initial(self) -> str | None:
        """What the form shows: the current value, else the default."""
        if self.secret:
            return None
        return self.current if self.row is not None else self.default

    @property
    def badge(self) -> str:
        """The word beside the field: set / not set (a secret, or a key with neither value nor default), else
        default / modified."""
        if self.secret or (self.row is None and self.default is None):
            return pgettext("value state", "set") if self.row else pgettext("value state", "not set")
        return pgettext("value state", "default") if self.state == "default" else pgettext("value state", "modified")

    @property
    def state(self) -> str:
        """'default' when the value is the default (or unset), 'modified' otherwise."""
        if self.row is None:
            return "default"
        if self.secret:
            return "modified"
        return "default" if self.default is not None and self.row.config_value == self.default else "modified"


@dataclasses.dataclass
class CategoryState:
    """A category's fields in one environment as the editor shows them, and the version they were read at."""

    category: str
    environment: str
    fields: list[EditorField]
    version: int
    scoped: bool = False  # only some keys were loaded (a page of a large category)

    def groups(self, fields: list[EditorField] | None = None) -> list[tuple[str, list[EditorField]]]:
        """Groups ordered by their smallest sort_order, fields by sort_order then key (of ``fields``, default all)."""
        ordered = sorted(self.fields if fields is None else fields, key=lambda f: (f.sort_order, f.key))
        first_seen: dict[str, int] = {}
        for f in ordered:
            first_seen.setdefault(f.group, f.sort_order)
        other = str(OTHER_GROUP)
        by_group = sorted(ordered, key=lambda f: (first_seen[f.group], f.group == other, f.group))
        return [(name, list(items)) for name, items in groupby(by_group, key=lambda f: f.group)]

    def field(self, key: str) -> EditorField:
        """The field of ``key``."""
        return next(f for f in self.fields if f.key == key)

    def keys(self) -> list[str]:
        """Every key of the category in this environment."""
        return [f.key for f in self.fields]


def load_category(category: str, environment: str, *, lock: bool = False, keys=None) -> CategoryState:
    """The category's fields in an environment (only ``keys``, when given: a page of a large category costs what it
    shows). ``lock`` holds its rows until the transaction ends."""
    metadata_query = ConfigurationMetadata.objects.filter(category=category)
    rows_query = SystemConfiguration.objects.filter(category=category, environment=environment)
    if keys is not None:
        metadata_query = metadata_query.filter(config_key__in=list(keys))
        rows_query = rows_query.filter(config_key__in=list(keys))
    if lock:
        # Before the rows are read: a save that committed meanwhile (keys added included) is then seen.
        services.lock_category(category, environment)
        rows_query = rows_query.select_for_update()
    metadata = {m.config_key: m for m in metadata_query}
    active = {r.config_key: r for r in rows_query if r.is_active}
    fields = [EditorField(key, metadata.get(key), active.get(key)) for key in sorted(set(metadata) | set(active))]
    state = CategoryState(category, environment, fields, services.category_version(environment, category))
    state.scoped = keys is not None
    return state


def has_key(state: CategoryState, key: str) -> bool:
    """Whether the category has ``key`` in the environment (metadata or an active row), shown or not."""
    if not state.scoped:
        return any(f.key == key for f in state.fields)
    rows = SystemConfiguration.objects.filter(category=state.category, environment=state.environment, is_active=True)
    return (ConfigurationMetadata.objects.filter(category=state.category, config_key=key).exists()
            or rows.filter(config_key=key).exists())  # fmt: skip


@dataclasses.dataclass
class Selection:
    """Which fields of a category the page shows: all of a small category, else one group or filter, a page of it."""

    fields: list[EditorField]
    large: bool  # the category opens as an outline (more than PAGE_KEYS keys)
    group: str | None = None
    query: str = ""
    page: int = 1
    matching: int = 0  # how many fields the group or filter matches, over all pages
    outline: list[tuple[str, int]] = dataclasses.field(default_factory=list)  # (group, its number of keys)

    @property
    def keys(self) -> list[str]:
        """The shown keys: the ones the page's form holds and a save considers."""
        return [f.key for f in self.fields]

    @property
    def pages(self) -> int:
        """How many pages the group or filter takes."""
        return max(1, -(-self.matching // PAGE_KEYS))


def open_page(category: str, environment: str, *, group: str | None = None, query: str = "", page: int = 1):
    """The page's fields and what it says of the rest: (CategoryState of the shown keys, Selection). A small category
    loads whole; a large one reads its keys' names and groups (no model objects) and loads only the keys shown."""
    if _size(category, environment) <= PAGE_KEYS:
        state = load_category(category, environment)
        return state, Selection(state.fields, large=False, matching=len(state.fields))
    index = _KeyIndex(category, environment)
    query = query.strip()
    if group is None and not query:
        return load_category(category, environment, keys=[]), Selection([], large=True, outline=index.outline)
    matching = index.matching(group=group, query=query)
    page = min(max(1, page), max(1, -(-len(matching) // PAGE_KEYS)))
    shown = matching[(page - 1) * PAGE_KEYS : page * PAGE_KEYS]
    state = load_category(category, environment, keys=shown)
    position = {key: index for index, key in enumerate(shown)}
    fields = sorted(state.fields, key=lambda f: position[f.key])
    selection = Selection(fields, large=True, group=group, query=query, page=page, matching=len(matching),
                          outline=index.outline)  # fmt: skip
    return state, selection


def selection_of(state: CategoryState, *, group: str | None = None, query: str = "", page: int = 1) -> Selection:
    """The selection of a page that shows ``state``'s fields (a refused save shows again what the user had)."""
    if _size(state.category, state.environment) <= PAGE_KEYS:
        return Selection(state.fields, large=False, matching=len(state.fields))
    outline = _KeyIndex(state.category, state.environment).outline
    return Selection(state.fields, large=True, group=group, query=query.strip(), page=page,
                     matching=len(state.fields), outline=outline)  # fmt: skip


def _size(category: str, environment: str) -> int:
    """How many keys the category has in the environment (metadata or an active row): one query."""
    described = ConfigurationMetadata.objects.filter(category=category).order_by().values("config_key")
    stored = SystemConfiguration.objects.filter(category=category, environment=environment, is_active=True)
    return described.union(stored.order_by().values("config_key")).count()


class _KeyIndex:
    """A large category's keys as names, groups and places (two queries of plain tuples, no model objects): what the
    outline and a filter need, grouped and ordered as the editor's groups are."""

    def __init__(self, category: str, environment: str) -> None:
        other = str(OTHER_GROUP)
        described = ConfigurationMetadata.objects.filter(category=category).order_by()
        entries = {key: (group or other, order, label) for key, group, order, label in
                   described.values_list("config_key", "group_name", "sort_order", "display_name")}  # fmt: skip
        stored = SystemConfiguration.objects.filter(category=category, environment=environment, is_active=True)
        for key in stored.order_by().values_list("config_key", flat=True):
            entries.setdefault(key, (other, 1_000_000, key))
        first: dict[str, int] = {}
        for group, order, _ in entries.values():
            first[group] = min(order, first.get(group, order))
        ranked = sorted(first, key=lambda group: (first[group], group == other, group))
        rank = {group: position for position, group in enumerate(ranked)}
        self.entries = sorted(entries.items(), key=lambda item: (rank[item[1][0]], item[1][1], item[0]))
        counts = {group: 0 for group in ranked}
        for _, (group, _, _) in self.entries:
            counts[group] += 1
        self.outline = [(group, counts[group]) for group in ranked]

    def matching(self, *, group: str | None, query: str) -> list[str]:
        """The keys of ``group`` (or all) whose key or label contains ``query``, in the editor's order."""
        needle = query.casefold()
        return [key for key, (in_group, _, label) in self.entries if (group is None or in_group == group)
                and (not needle or needle in key.casefold() or needle in (label or "").casefold())]  # fmt: skip
