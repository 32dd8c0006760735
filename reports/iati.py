"""A grant published as an IATI 2.03 activity (``iati-activities`` with one ``iati-activity``).

``iati_activity`` reads the grant into an ``Activity``: a few aggregated rows from the database,
however many expenditures there are (they are summed by partner and month in SQL, so memory is
bounded by the grant's months, not its rows). ``reports.iati_rules.iati_violations`` checks it
against the IATI Validator's data-quality rules; ``iati_xml_chunks`` writes it, element by element,
with ``lxml.etree.xmlfile``, as the XML document's bytes in chunks (the view streams them).

What is published, and from where
- ``iati-identifier``: the grant's ``iati_identifier``, else the reporting organisation's identifier,
  a hyphen and the grant's code; ``reporting-org``: the grant's ``iati_org_ref``, else its lead
  partner's, with the lead partner's type and name;
- ``title`` and ``description``: French (the grant's title, ``description_fr``) and English
  (``title_en``, ``description_en``) narratives, where set (the schema requires a description: a
  grant without one has its title there);
- ``participating-org``: the donors as funding (1), the lead NGO as accountable (2) and extending
  (3), the implementing partners as implementing (4);
- ``activity-status``: the grant's; ``activity-date``: planned start (1) and end (3) are the grant's
  dates; actual start (2) from implementation on (status 2 to 6, the grant's start), actual end (4)
  once finalised or closed (status 3 or 4, the grant's end);
- ``recipient-country``: the implementing partners' countries (100 % when there is one);
  ``location``: each city (location) of the implementing partners, with its coordinates;
- ``sector``: the grant's DAC sectors (vocabulary 1) with their percentages; ``default-currency`` EUR;
- ``budget``: per project year, type 1 (original) from the grant's first approved version, type 2
  (revised) from its current version once a revision is approved; status 2 (committed); the value
  date is the period's start;
- ``transaction``: an incoming commitment (11) from each donor, its share of the grant's total
  (the rounding cents to the largest share), dated at the grant's start; incoming funds (1) for
  each payment a donor made (``DonorPayment``), dated and valued the day it was received; a
  disbursement (3) for each transfer to a partner, in the currency sent, dated and valued the day
  it was sent; an
  expenditure (4) per partner and month, the sum of the stored EUR of its counted expenditures
  (``COUNTED_STATUSES``, under the grant's conversion method), dated the month's last expenditure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Max
from django.db.models.functions import TruncMonth
from django.utils import timezone
from lxml import etree

from budget.models import Allocation, BudgetVersion, VersionStatus
from expenditures.models import COUNTED_STATUSES, Expenditure, FundTransfer
from grants.iati import SECTOR_VOCABULARY_DAC, ActivityStatus
from grants.models import DonorPayment, Grant, Location, Partner, PartnerKind
from grants.money import EUR, money_sum
from grants.periods import month_start

IATI_VERSION = "2.03"
CENT = Decimal("0.01")
XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
XML_LANG = f"{{{XML_NAMESPACE}}}lang"
WGS84 = "http://www.opengis.net/def/crs/EPSG/0/4326"

# IATI codelists used here
ROLE_FUNDING, ROLE_ACCOUNTABLE, ROLE_EXTENDING, ROLE_IMPLEMENTING = "1", "2", "3", "4"
DATE_START_PLANNED, DATE_START_ACTUAL, DATE_END_PLANNED, DATE_END_ACTUAL = "1", "2", "3", "4"
BUDGET_ORIGINAL, BUDGET_REVISED = "1", "2"
BUDGET_COMMITTED = "2"
INCOMING_FUNDS, DISBURSEMENT, EXPENDITURE, INCOMING_COMMITMENT = "1", "3", "4", "11"
STARTED = {ActivityStatus.IMPLEMENTATION, ActivityStatus.FINALISATION, ActivityStatus.CLOSED,
           ActivityStatus.CANCELLED, ActivityStatus.SUSPENDED}
ENDED = {ActivityStatus.FINALISATION, ActivityStatus.CLOSED}


@dataclass(frozen=True)
class Org:
    ref: str
    type: str
    name: str


@dataclass(frozen=True)
class Budget:
    type: str
    year: int
    period_start: date
    period_end: date
    value_date: date | None
    value: Decimal
    currency: str


@dataclass(frozen=True)
class Transaction:
    type: str
    date: date
    value_date: date | None
    value: Decimal
    currency: str
    description: str
    provider: Org | None = None
    receiver: Org | None = None
    ref: str = ""


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    latitude: Decimal | None
    longitude: Decimal | None


@dataclass
class Activity:
    grant_code: str
    identifier: str
    reporting_org: Org
    titles: dict[str, str]
    descriptions: dict[str, str]
    funders: list[Org]
    ngo: Org | None
    implementers: list[Org]
    status: int
    dates: list[tuple[str, date]]
    countries: list[str]
    places: list[Place]
    sectors: list[dict]
    budgets: list[Budget] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)

    def transactions_of(self, kind: str) -> list[Transaction]:
        return [t for t in self.transactions if t.type == kind]


def _org(record) -> Org:
    return Org(ref=record.iati_org_ref, type=record.iati_org_type, name=record.name)


def reporting_org_ref(grant: Grant, lead: Partner | None) -> str:
    return grant.iati_org_ref or (lead.iati_org_ref if lead else "")


def activity_identifier(grant: Grant, lead: Partner | None) -> str:
    if grant.iati_identifier:
        return grant.iati_identifier
    ref = reporting_org_ref(grant, lead)
    return f"{ref}-{grant.code}" if ref else grant.code


def project_year_bounds(grant: Grant, year: int) -> tuple[date, date]:
    """Project year ``year``'s first and last day (the last year ends with the grant)."""
    start = grant.start_date if year == 1 else add_months(grant.start_date, 12 * (year - 1))
    end = add_months(grant.start_date, 12 * year) - timedelta(days=1)
    return start, min(end, grant.end_date)


def add_months(day: date, months: int) -> date:
    first = month_start(day, months)
    # the same day of the month, or the month's last day
    for candidate in range(day.day, 27, -1):
        try:
            return first.replace(day=candidate)
        except ValueError:
            continue
    return first.replace(day=min(day.day, 28))


def iati_activity(grant: Grant) -> Activity:
    """Everything the grant's IATI activity says, read from the ledger."""
    partners = list(grant.partners.order_by("code"))
    lead = next((p for p in partners if p.kind == PartnerKind.LEAD), None)
    implementers = [p for p in partners if p.kind == PartnerKind.IMPLEMENTING]
    shares = list(grant.donor_shares.select_related("donor").order_by("-share_pct", "donor__code"))
    reporting = Org(ref=reporting_org_ref(grant, lead), type=lead.iati_org_type if lead else "",
                    name=lead.name if lead else "")
    status = int(grant.iati_activity_status)
    dates = [(DATE_START_PLANNED, grant.start_date), (DATE_END_PLANNED, grant.end_date)]
    if status in STARTED:
        dates.append((DATE_START_ACTUAL, grant.start_date))
    if status in ENDED:
        dates.append((DATE_END_ACTUAL, grant.end_date))
    places = (Location.objects.filter(partners__in=implementers).distinct().order_by("code")
              if implementers else Location.objects.none())
    activity = Activity(
        grant_code=grant.code,
        identifier=activity_identifier(grant, lead),
        reporting_org=reporting,
        titles={lang: text for lang, text in (("fr", grant.title), ("en", grant.title_en)) if text},
        # the schema requires a description: the title stands for it until one is written
        descriptions={lang: text for lang, text in (("fr", grant.description_fr), ("en", grant.description_en))
                      if text} or {lang: text for lang, text in (("fr", grant.title), ("en", grant.title_en)) if text},
        funders=[_org(share.donor) for share in shares],
        # the NGO accountable for the grant: its lead partner, else the reporting organisation
        ngo=_org(lead) if lead else (Org(ref=reporting.ref, type="", name="") if reporting.ref else None),
        implementers=[_org(p) for p in implementers],
        status=status,
        dates=sorted(dates),
        countries=sorted({p.country for p in implementers}),
        places=[Place(loc.code, loc.name, loc.latitude, loc.longitude) for loc in places],
        sectors=list(grant.dac_sectors or []),
    )
    activity.budgets = _budgets(grant)
    activity.transactions = [*_commitments(grant, shares), *_incoming_funds(grant), *_disbursements(grant),
                             *_expenditures(grant, {p.id: p for p in partners})]
    return activity


def _budgets(grant: Grant) -> list[Budget]:
    versions = BudgetVersion.objects.filter(
        grant=grant, status__in=[VersionStatus.APPROVED, VersionStatus.SUPERSEDED]).order_by("number")
    original = versions.first()
    if original is None:
        return []
    current = versions.filter(is_current=True).first()
    budgets = _budgets_of(grant, original, BUDGET_ORIGINAL)
    if current is not None and current.pk != original.pk:
        budgets += _budgets_of(grant, current, BUDGET_REVISED)
    return budgets


def _budgets_of(grant: Grant, version: BudgetVersion, kind: str) -> list[Budget]:
    rows = (Allocation.objects.filter(version=version).order_by().values("year")
            .annotate(total=money_sum("amount")).order_by("year"))
    budgets = []
    for row in rows:
        start, end = project_year_bounds(grant, row["year"])
        budgets.append(Budget(type=kind, year=row["year"], period_start=start, period_end=end, value_date=start,
                              value=Decimal(row["total"]).quantize(CENT), currency=EUR))
    return budgets


def _commitments(grant: Grant, shares) -> list[Transaction]:
    """Each donor's share of the total, half up to the cent; the cents the rounding leaves go to
    the largest share, so that the commitments add up to the total exactly."""
    total = grant.total.amount
    values = [(total * share.share_pct / Decimal("100")).quantize(CENT, rounding=ROUND_HALF_UP) for share in shares]
    if values and sum(s.share_pct for s in shares) == Decimal("100"):
        values[0] += total - sum(values)
    return [
        Transaction(type=INCOMING_COMMITMENT, date=grant.start_date, value_date=grant.start_date, value=value,
                    currency=EUR, description=f"{share.donor.name}: {share.share_pct} %",
                    provider=_org(share.donor))
        for share, value in zip(shares, values, strict=True)
    ]


def _incoming_funds(grant: Grant) -> Iterator[Transaction]:
    payments = DonorPayment.objects.filter(grant=grant).select_related("donor").order_by("received_on", "id")
    for payment in payments:
        yield Transaction(
            type=INCOMING_FUNDS, date=payment.received_on, value_date=payment.received_on,
            value=payment.amount.amount.quantize(CENT), currency=str(payment.amount.currency),
            description=f"Payment from {payment.donor.name}" + (f" ({payment.reference})" if payment.reference else ""),
            provider=_org(payment.donor), ref=payment.reference,
        )


def _disbursements(grant: Grant) -> Iterator[Transaction]:
    transfers = (FundTransfer.objects.filter(grant=grant).select_related("partner").order_by("sent_on", "id"))
    for transfer in transfers.iterator(chunk_size=2000):
        yield Transaction(
            type=DISBURSEMENT, date=transfer.sent_on, value_date=transfer.sent_on,
            value=transfer.amount_sent.amount.quantize(CENT), currency=str(transfer.amount_sent.currency),
            description=f"Transfer to {transfer.partner.name}" + (
                f" ({transfer.reference})" if transfer.reference else ""),
            receiver=_org(transfer.partner), ref=transfer.reference,
        )


def expenditure_months(grant: Grant):
    """Counted spending summed in SQL by partner and month: ``(partner_id, month, EUR, last day, rows)``."""
    return (
        Expenditure.objects.filter(grant=grant, status__in=list(COUNTED_STATUSES))
        .annotate(month=TruncMonth("date")).order_by()
        .values("partner_id", "month")
        .annotate(eur=money_sum("amount_eur"), last=Max("date"), rows=Count("id"))
        .order_by("month", "partner_id")
        .values_list("partner_id", "month", "eur", "last", "rows")
    )


def _expenditures(grant: Grant, partners: dict[int, Partner]) -> Iterator[Transaction]:
    for partner_id, month, eur, last, rows in expenditure_months(grant):
        partner = partners.get(partner_id) or Partner.objects.get(pk=partner_id)
        month = month.date() if isinstance(month, datetime) else month
        yield Transaction(
            type=EXPENDITURE, date=last, value_date=last, value=Decimal(eur).quantize(CENT), currency=EUR,
            description=f"{partner.name}: {rows} expenditures of {month:%Y-%m}",
            provider=_org(partner),
        )


# --- writing -------------------------------------------------------------------------------------

class _Chunks:
    """A file-like sink for ``xmlfile`` that hands back what was written since the last call."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        self.parts.append(bytes(data))
        self.size += len(data)

    def take(self) -> bytes:
        data, self.parts, self.size = b"".join(self.parts), [], 0
        return data


def _narratives(parent, texts: dict[str, str]) -> None:
    for lang, text in texts.items():
        narrative = etree.SubElement(parent, "narrative")
        narrative.set(XML_LANG, lang)
        narrative.text = text


def _narrative(parent, text: str, lang: str | None = None) -> None:
    narrative = etree.SubElement(parent, "narrative")
    if lang:
        narrative.set(XML_LANG, lang)
    narrative.text = text


def _org_element(tag: str, org: Org, **attrs) -> etree._Element:
    element = etree.Element(tag)
    if org.ref:
        element.set("ref", org.ref)
    if org.type:
        element.set("type", org.type)
    for name, value in attrs.items():
        element.set(name.replace("_", "-"), value)
    if org.name:
        _narrative(element, org.name)
    return element


def _coded(element: etree._Element, value: str, **attrs: str) -> etree._Element:
    """``element`` with its IATI codelist ``code`` attribute (and ``attrs`` after it)."""
    element.set("code", value)
    for name, text in attrs.items():
        element.set(name, text)
    return element


def _money(value: Decimal) -> str:
    return f"{value:f}"


def _header_elements(activity: Activity) -> Iterator[etree._Element]:
    identifier = etree.Element("iati-identifier")
    identifier.text = activity.identifier
    yield identifier
    reporting = etree.Element("reporting-org", ref=activity.reporting_org.ref, type=activity.reporting_org.type)
    _narrative(reporting, activity.reporting_org.name or activity.reporting_org.ref)
    yield reporting
    title = etree.Element("title")
    _narratives(title, activity.titles)
    yield title
    if activity.descriptions:
        description = etree.Element("description", type="1")
        _narratives(description, activity.descriptions)
        yield description
    for funder in activity.funders:
        yield _org_element("participating-org", funder, role=ROLE_FUNDING)
    if activity.ngo is not None:
        yield _org_element("participating-org", activity.ngo, role=ROLE_ACCOUNTABLE)
        yield _org_element("participating-org", activity.ngo, role=ROLE_EXTENDING)
    for partner in activity.implementers:
        yield _org_element("participating-org", partner, role=ROLE_IMPLEMENTING)
    yield _coded(etree.Element("activity-status"), str(activity.status))
    for kind, day in activity.dates:
        yield etree.Element("activity-date", type=kind, **{"iso-date": day.isoformat()})
    for country in activity.countries:
        attrs = {"code": country}
        if len(activity.countries) == 1:
            attrs["percentage"] = "100"
        yield etree.Element("recipient-country", **attrs)
    for place in activity.places:
        yield _location(place)
    for sector in activity.sectors:
        yield _coded(etree.Element("sector", vocabulary=SECTOR_VOCABULARY_DAC), str(sector["code"]),
                     percentage=str(sector["percentage"]))
    for budget in activity.budgets:
        yield _budget(budget)


def _location(place: Place) -> etree._Element:
    location = etree.Element("location", ref=place.code)
    _coded(etree.SubElement(location, "location-reach"), "1")  # the activity happens there
    name = etree.SubElement(location, "name")
    _narrative(name, place.name)
    if place.latitude is not None and place.longitude is not None:
        point = etree.SubElement(location, "point", srsName=WGS84)
        etree.SubElement(point, "pos").text = f"{place.latitude:f} {place.longitude:f}"
        _coded(etree.SubElement(location, "exactness"), "1")
    _coded(etree.SubElement(location, "location-class"), "2")  # a populated place
    return location


def _value(parent, value: Decimal, currency: str, value_date: date | None) -> None:
    element = etree.SubElement(parent, "value")
    if currency:
        element.set("currency", currency)
    if value_date is not None:
        element.set("value-date", value_date.isoformat())
    element.text = _money(value)


def _budget(budget: Budget) -> etree._Element:
    element = etree.Element("budget", type=budget.type, status=BUDGET_COMMITTED)
    etree.SubElement(element, "period-start", **{"iso-date": budget.period_start.isoformat()})
    etree.SubElement(element, "period-end", **{"iso-date": budget.period_end.isoformat()})
    _value(element, budget.value, budget.currency, budget.value_date)
    return element


def _transaction(transaction: Transaction) -> etree._Element:
    element = etree.Element("transaction")
    if transaction.ref:
        element.set("ref", transaction.ref)
    _coded(etree.SubElement(element, "transaction-type"), transaction.type)
    etree.SubElement(element, "transaction-date", **{"iso-date": transaction.date.isoformat()})
    _value(element, transaction.value, transaction.currency, transaction.value_date)
    description = etree.SubElement(element, "description")
    _narrative(description, transaction.description, "en")  # written by the ledger, in English
    if transaction.provider is not None:
        element.append(_org_element("provider-org", transaction.provider))
    if transaction.receiver is not None:
        element.append(_org_element("receiver-org", transaction.receiver))
    return element


def iati_xml_chunks(activity: Activity, *, now: datetime | None = None, chunk_bytes: int = 64 * 1024
                    ) -> Iterator[bytes]:
    """The ``iati-activities`` document of ``activity``, as UTF-8 bytes in chunks of about
    ``chunk_bytes``: each element is built, written and dropped, so memory holds one at a time."""
    now = (now or timezone.now()).replace(microsecond=0)
    sink = _Chunks()
    with etree.xmlfile(sink, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element("iati-activities", version=IATI_VERSION, **{"generated-datetime": now.isoformat()}):
            # the xml prefix declared (as XML allows): lxml's xmlfile names it ns0 otherwise
            with xf.element("iati-activity", {XML_LANG: "fr", "default-currency": EUR,
                                              "last-updated-datetime": now.isoformat()},
                            nsmap={"xml": XML_NAMESPACE}):
                for element in _header_elements(activity):
                    xf.write(element)
                for transaction in activity.transactions:
                    xf.write(_transaction(transaction))
                    if sink.size >= chunk_bytes:
                        xf.flush()
                        yield sink.take()
    yield sink.take()


def iati_xml(activity: Activity, **kwargs) -> bytes:
    return b"".join(iati_xml_chunks(activity, **kwargs))
