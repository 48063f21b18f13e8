"""Request bodies as JSON, strictly: a body nested too deep, with a key twice, or with NaN is a 400 problem
document, never a 500 (json's recursion) and never a silent "last key wins"."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from ..core import values

# A body is {"value": <a JSON value>, ...}: one level above the deepest value that may be stored.
MAX_BODY_DEPTH = values.MAX_JSON_DEPTH + 1


class StrictJSONParser(JSONParser):
    """JSON bodies parsed strictly: duplicate keys, NaN and invalid text are a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as error:
            raise exceptions.ParseError(
                _("The body is not %(encoding)s text: %(reason)s.") % {"encoding": encoding, "reason": error.reason}
            ) from None
        try:
            return values.strict_json(text, depth=MAX_BODY_DEPTH)
        except values.ValueTypeError as error:
            raise exceptions.ParseError(_("The body was refused: it %(problem)s.") % {"problem": error}) from None
