"""Template access to runtime configurations: ``{{ config.smtp.host }}``."""

from __future__ import annotations

from . import runtime


class _Categories:
    """Looks a category up on first use; secrets are readable only where the template asks for them."""

    def __getitem__(self, category: str) -> dict:
        return runtime.get_category(category)


def configurations(request) -> dict:
    """Templates read the runtime's values as {{ config.<category>.<key> }}."""
    return {"config": _Categories()}
