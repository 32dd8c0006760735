"""JSON with exact decimals: a number such as 0.1 is read as Decimal("0.1"), never as a float,
so that no amount of money passes through binary floating point.

A body nested deeper than ``MAX_DEPTH`` is refused as malformed (400 ``parse_error``): no body of
the API nests more than a few levels (a statement's expenditures, a grant's donors), and a deeper
one would make Python's JSON reader, or whatever walks the data after it (a serializer, the
``Idempotency-Key`` fingerprint), run out of stack (``RecursionError``, a 500).
"""

import json
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def nesting_exceeds(data, limit: int) -> bool:
    """Whether ``data`` (parsed JSON) has arrays or objects nested more than ``limit`` deep. A walk
    with a list for a stack, not recursion."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def too_deep() -> ParseError:
    return ParseError(_("The JSON body is nested more than %(depth)s levels deep.") % {"depth": MAX_DEPTH})


class DecimalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(stream.read().decode(encoding), parse_float=Decimal)
        except RecursionError:
            raise too_deep() from None
        except ValueError as exc:
            raise ParseError(_("JSON parse error - %(exc)s") % {"exc": exc}) from exc
        if nesting_exceeds(data, MAX_DEPTH):
            raise too_deep()
        return data
