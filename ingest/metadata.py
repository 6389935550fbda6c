"""Normalise the author and date a document declares about itself, whatever its format.

Loaders read these from front matter, header lines, meta tags or file properties; this
module turns the raw values into what every chunk's payload carries: an author as one
trimmed line, a date as an ISO `YYYY-MM-DD` string (so string ranges `$gte`/`$lte`
select dates in order). Anything missing or malformed becomes None: never an error.
"""

import re
from datetime import date, datetime

_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?!\d)")
"""A calendar day at the start of a value: `2024-01-08`, `2024-01-08T09:00:00Z`, ..."""
_SPACES = re.compile(r"\s+")
MAX_AUTHOR_CHARS = 200
"""Longer "authors" are not names (a pasted paragraph): kept cut, not whole, in every chunk."""


def clean_author(value: object) -> str | None:
    """An author as one line of text without surrounding spaces, None when empty."""
    if not isinstance(value, str):
        return None
    author = _SPACES.sub(" ", value).strip()[:MAX_AUTHOR_CHARS].strip()
    return author or None


def iso_day(value: object) -> str | None:
    """The `YYYY-MM-DD` day of a date, a datetime or a string starting with an ISO date."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        return None
    m = _ISO_DAY.match(value.strip())
    if m is None:
        return None
    return day(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def day(year: int, month: int, day_of_month: int) -> str | None:
    """The ISO string of a calendar day, None when no such day exists (2024-02-30)."""
    try:
        return date(year, month, day_of_month).isoformat()
    except ValueError:
        return None
