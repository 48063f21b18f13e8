"""The small timeline above the history of a key or a category: changes per day as an inline SVG bar chart, drawn
on the server (no script, no CDN, nothing the Content Security Policy refuses), and who made them."""

from __future__ import annotations

import dataclasses

from ..services import history

BAR = 6  # px per day
HEIGHT = 40  # px of the tallest bar


@dataclasses.dataclass(frozen=True)
class Bar:
    """One day's bar: where it is drawn and what it says."""

    x: int
    y: int
    height: int
    title: str


def chart(filters: history.HistoryFilters) -> dict | None:
    """What _timeline.html draws for the filtered history (None unless it is one key's or one category's)."""
    if filters.config_id is None and not filters.category:
        return None
    line = history.timeline(filters)
    busiest = line.busiest or 1
    bars = []
    for index, (day, count) in enumerate(line.days):
        height = max(2, round(HEIGHT * count / busiest)) if count else 0
        title = f"{day.isoformat()}: {count} change{'s' if count != 1 else ''}"
        bars.append(Bar(index * BAR, HEIGHT - height, height, title))
    return {
        "timeline": line,
        "bars": bars,
        "width": len(line.days) * BAR,
        "height": HEIGHT,
        "first": line.days[0][0],
        "last": line.days[-1][0],
    }
