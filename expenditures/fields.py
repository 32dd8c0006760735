"""An expenditure's fields, declared once.

Each consumer derives what it shows from ``FIELDS``: the API's JSON (``api.serializers``: the
serializer's fields and the list's fast path ``expenditure_list_rows``, generated from it), the
list's filters (``api.filters``) and the filters a count by day answers
(``ExpenditureDayCount.FILTERS``), the workbook's expenditure detail (``reports.selectors``
``DETAIL_FIELDS``, ``reports.excel``: columns, headers, widths) and a statement's lines
(``expenditures.statements.LINE_FIELDS``, ``expenditures.workbook``: columns, headers, widths).

Adding a field to an expenditure: the model and its migration, then one ``Field`` here. The
serializer declares its own DRF field only where the default ``ModelSerializer`` one is not what
the API shows (codes of related records, money). Plain data: no import of models, DRF or
django-filter, so that every layer may read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# An expenditure's description: the model's column, a statement's line (JSON, the admin, the
# workbook) and the API's serializers, one limit.
DESCRIPTION_MAX_LENGTH = 500
# An expenditure's voucher reference: the model's column and a statement's line (JSON, workbook).
VOUCHER_MAX_LENGTH = 64


class Kind(StrEnum):
    """How a field's value is shown in JSON."""

    ID = "id"  # an integer (a primary key, or a related record's when the API names it by id)
    CODE = "code"  # a related record, named by its ``code``
    MONEY = "money"  # an amount, quantized to the currency of its ``<name>_currency`` sibling
    CURRENCY = "currency"  # a money field's currency: "XOF", "EUR"
    CENTS = "cents"  # a decimal with 2 places, as a string
    RATE = "rate"  # a decimal with 6 places, as a string
    DATE = "date"  # ISO 8601
    TEXT = "text"  # a string (choices' values included)


class FilterKind(StrEnum):
    """How the expenditure list filters by a field."""

    CODE_ID = "code_id"  # a related record's code, read as its id in a scalar subquery
    CODE_OR_PARENT = "code_or_parent"  # a budget line's code; a heading's code takes all its lines
    CODE = "code"  # a related record's code, through a join
    CHOICE = "choice"  # one of the model field's choices
    RANGE = "range"  # ``<filter>_after`` (on or after) and ``<filter>_before`` (on or before)
    NUMBER = "number"  # equal to a number


@dataclass(frozen=True)
class Filter:
    kind: FilterKind
    name: str = ""  # the query parameter (its prefix for a range); the field's name if empty
    help_text: str = ""


class Cell(StrEnum):
    """How the workbook's detail writes a value."""

    DATE = "date"  # a serial day number, date format
    TEXT = "text"
    TEXT_OR_NONE = "text_or_none"  # an empty string writes no cell
    LABEL = "label"  # sources (French, English): the workbook's language's
    AMOUNT = "amount"  # with the row's currency: whole francs or euros, each in its format
    RATE = "rate"
    EUR = "eur"  # euros, totalled under the column
    STATUS = "status"  # an expenditure status, in the workbook's language


@dataclass(frozen=True)
class WorkbookColumn:
    """A column of the workbook's expenditure detail (``reports.excel``)."""

    position: int  # from 0, left to right
    label: str  # key of its header in reports.excel.TEXT
    width: int
    cell: Cell
    sources: tuple[str, ...] = ()  # the values() columns read for it (the field's name if empty)


@dataclass(frozen=True)
class StatementColumn:
    """A column of a statement's expenditures (``expenditures.statements``, the template)."""

    position: int  # from 0, left to right
    label: str  # key of its header in expenditures.workbook.LABELS
    width: int


@dataclass(frozen=True)
class Field:
    name: str  # the key in JSON
    kind: Kind
    source: str = ""  # the model column read as a plain row (``grant_id``); the name if empty
    read_only: bool = False
    filter: Filter | None = None
    day_count: bool = False  # ExpenditureDayCount has this column: a count by day answers its filter
    workbook: tuple[WorkbookColumn, ...] = ()  # its columns in the workbook's expenditure detail
    statement: StatementColumn | None = None

    @property
    def column(self) -> str:
        return self.source or self.name

    @property
    def filter_names(self) -> tuple[str, ...]:
        if self.filter is None:
            return ()
        name = self.filter.name or self.name
        return (f"{name}_after", f"{name}_before") if self.filter.kind is FilterKind.RANGE else (name,)


FIELDS: tuple[Field, ...] = (
    Field("id", Kind.ID, read_only=True),
    Field("grant", Kind.CODE, "grant_id", filter=Filter(FilterKind.CODE_ID, help_text="A grant's code."),
          day_count=True),
    Field("partner", Kind.CODE, "partner_id", filter=Filter(FilterKind.CODE_ID, help_text="A partner's code."),
          day_count=True, workbook=(WorkbookColumn(2, "partner", 11, Cell.TEXT, ("partner__code",)),)),
    Field("budget_line", Kind.CODE, "budget_line_id",
          filter=Filter(FilterKind.CODE_OR_PARENT, help_text="A line's code; a heading's code takes all its lines."),
          workbook=(WorkbookColumn(3, "line", 7, Cell.TEXT, ("budget_line__code",)),
                    WorkbookColumn(4, "line_label", 40, Cell.LABEL,
                                   ("budget_line__label_fr", "budget_line__label_en"))),
          statement=StatementColumn(1, "line", 42)),
    Field("location", Kind.CODE, "location_id", filter=Filter(FilterKind.CODE),
          workbook=(WorkbookColumn(5, "location", 9, Cell.TEXT, ("location__code",)),),
          statement=StatementColumn(2, "location", 20)),
    Field("date", Kind.DATE, filter=Filter(FilterKind.RANGE), day_count=True,
          workbook=(WorkbookColumn(0, "date", 12, Cell.DATE),), statement=StatementColumn(0, "date", 12)),
    Field("amount", Kind.MONEY,
          workbook=(WorkbookColumn(7, "amount", 15, Cell.AMOUNT, ("amount", "amount_currency")),),
          statement=StatementColumn(3, "amount", 18)),
    Field("amount_currency", Kind.CURRENCY, filter=Filter(FilterKind.CHOICE, "currency"),
          workbook=(WorkbookColumn(8, "currency", 8, Cell.TEXT),), statement=StatementColumn(4, "currency", 9)),
    Field("amount_eur", Kind.CENTS, read_only=True, workbook=(WorkbookColumn(10, "amount_eur", 15, Cell.EUR),)),
    Field("fx_rate", Kind.RATE, read_only=True, workbook=(WorkbookColumn(9, "rate", 12, Cell.RATE),)),
    Field("fx_method", Kind.TEXT, read_only=True),
    Field("voucher", Kind.TEXT, workbook=(WorkbookColumn(1, "voucher", 16, Cell.TEXT),),
          statement=StatementColumn(5, "voucher", 18)),
    Field("description", Kind.TEXT, workbook=(WorkbookColumn(6, "description", 36, Cell.TEXT_OR_NONE),),
          statement=StatementColumn(6, "description", 50)),
    Field("status", Kind.TEXT, read_only=True, filter=Filter(FilterKind.CHOICE),
          workbook=(WorkbookColumn(11, "status", 11, Cell.STATUS),)),
    Field("statement", Kind.ID, "statement_id", read_only=True, filter=Filter(FilterKind.NUMBER)),
)

BY_NAME = {field.name: field for field in FIELDS}
# The workbook's detail columns, left to right, each with its field.
WORKBOOK_COLUMNS: tuple[tuple[WorkbookColumn, Field], ...] = tuple(sorted(
    ((column, field) for field in FIELDS for column in field.workbook), key=lambda pair: pair[0].position))
# A statement's line columns, left to right.
STATEMENT_FIELDS: tuple[Field, ...] = tuple(sorted(
    (field for field in FIELDS if field.statement), key=lambda field: field.statement.position))
# The filters a count by day answers (the day counts' grant, partner and date).
DAY_COUNT_FILTERS = frozenset(name for field in FIELDS if field.day_count for name in field.filter_names)


def workbook_sources(column: WorkbookColumn, field: Field) -> tuple[str, ...]:
    return column.sources or (field.name,)


def _check() -> None:
    for what, positions in (("workbook", [column.position for column, _ in WORKBOOK_COLUMNS]),
                            ("statement", [field.statement.position for field in STATEMENT_FIELDS])):
        if positions != list(range(len(positions))):
            raise ValueError(f"expenditure fields: {what} positions {positions} are not 0, 1, 2...")


_check()
