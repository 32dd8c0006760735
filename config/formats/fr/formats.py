"""French: day-first dates (config.formats.day_first), ISO accepted; the decimal comma and the
rest from Django's own French formats."""

from config.formats.day_first import (
    DATE_INPUT_FORMATS,
    DATETIME_INPUT_FORMATS,
    SHORT_DATE_FORMAT,
    SHORT_DATETIME_FORMAT,
)

__all__ = ["DATE_INPUT_FORMATS", "DATETIME_INPUT_FORMATS", "SHORT_DATE_FORMAT", "SHORT_DATETIME_FORMAT"]
