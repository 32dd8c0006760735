"""English as the ledger's users write it: day-first dates (config.formats.day_first); the
decimal point and the rest from Django's own English formats."""

from config.formats.day_first import (
    DATE_INPUT_FORMATS,
    DATETIME_INPUT_FORMATS,
    SHORT_DATE_FORMAT,
    SHORT_DATETIME_FORMAT,
)

__all__ = ["DATE_INPUT_FORMATS", "DATETIME_INPUT_FORMATS", "SHORT_DATE_FORMAT", "SHORT_DATETIME_FORMAT"]
