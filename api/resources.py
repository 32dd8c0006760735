"""The API's resources, named once: the index at ``/api/v1/`` lists them and the schema tags each
operation with its resource's tag, summarised and described for the API's users."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    name: str
    path: str  # under /api/v1/, with {placeholders}
    tag: str
    singular: str
    plural: str
    description: str


RESOURCES: tuple[Resource, ...] = (
    Resource("grants", "grants/", "grants", "grant", "grants",
             "The grants you may read, with their totals, donors, partners and spending."),
    Resource("budget-lines", "grants/{grant_code}/budget-lines/", "budget", "budget line", "budget lines",
             "A grant's budget lines and headings, each with its budget in the current version (?version=N)."),
    Resource("versions", "grants/{grant_code}/versions/", "budget", "budget version", "budget versions",
             "A grant's budget versions: drafts, the approved ones and the current one."),
    Resource("allocations", "grants/{grant_code}/versions/{version_number}/allocations/", "budget",
             "allocation", "allocations",
             "A version's budget by line, partner, location and year (?budget_line=, ?partner=, ?location=)."),
    Resource("transfers", "transfers/", "transfers", "transfer", "transfers",
             "Money sent to partners: EUR sent, XOF received, fees, bank reference and note."),
    Resource("donor-payments", "donor-payments/", "donor payments", "donor's payment", "donors' payments",
             "Money donors paid the NGO for a grant, in EUR: the IATI export's incoming funds."),
    Resource("expenditures", "expenditures/", "expenditures", "expenditure", "expenditures",
             "Money spent, in XOF or EUR, with its EUR value and the rate used."),
    Resource("statements", "statements/", "statements", "statement", "statements",
             "Partners' quarterly statements: drafts, submission, review, the XLSX template and upload."),
    Resource("reports", "grants/{code}/reports/variance/", "reports", "report", "reports",
             "The donor's reports: variance, burn rate, cost per beneficiary, and the workbook."),
    Resource("reconciliation", "grants/{code}/reconciliation/", "fx", "reconciliation", "reconciliations",
             "Each partner's funds on a grant: sent, received, spent and still to justify."),
    Resource("exchange-rates", "exchange-rates/", "fx", "exchange rate", "exchange rates",
             "The rate table: the parity (655.957 XOF per EUR) and monthly rates."),
    Resource("partners", "partners/", "reference data", "partner", "partners",
             "The partner organisations, by code."),
    Resource("locations", "locations/", "reference data", "location", "locations",
             "The places where money is spent, by code."),
    Resource("donors", "donors/", "reference data", "donor", "donors", "The donors, by code."),
    Resource("check", "grants/{code}/check/", "audit", "check", "checks",
             "The auditor's check of a grant's figures against its raw records."),
    Resource("jobs", "jobs/{job_id}/", "jobs", "job", "jobs",
             "Long work run in the background (a whole grant's workbook, a revaluation): its state, progress "
             "and file."),
)

# The schema's tags, in the order Swagger shows them, each with what it groups.
STATEMENT_WORKFLOW = """Partners' quarterly statements and their workflow.

A statement is a partner's account of one quarter on one grant: opening balance, funds received,
its expenditures, closing balance, cash on hand and bank balance. It goes through these states:

1. **draft**: made by the partner, either as JSON (`POST /statements/`) or by uploading the filled
   XLSX template (`GET /statements/template.xlsx/`, then `POST /statements/upload/`). A draft may be
   changed (`PATCH`) or uploaded again as often as needed.
2. **submitted**: `POST /statements/{id}/submit/` runs every check at once. It answers 200 with the
   submitted statement, or 400 listing every problem, each with its `attr`, `row` and, for an
   uploaded workbook, its `cell`. `GET /statements/{id}/problems.xlsx/` gives the partner's own
   workbook back with the problems and the reviewer's comments on their cells.
3. **returned**: the finance officer sends a submitted statement back with a comment
   (`POST /statements/{id}/return/`, comments on rows or fields); the partner corrects it and
   submits it again.
4. **accepted**: the finance officer accepts it (`POST /statements/{id}/accept/`). The partner's
   quarter is then locked: its expenditures and transfers cannot change (409 `period_locked`).
   A finance officer may reopen the partner's latest accepted quarter with a reason
   (`POST /statements/{id}/reopen/`), which puts it back to submitted; an earlier quarter is corrected
   by an adjustment (`POST /expenditures/{id}/adjust/`).

Every content a statement was sent with is kept (`/statements/{id}/versions/`)."""

TAGS = [
    {"name": "index", "description": "What the API holds: its resources, and where its schema and docs are."},
    {"name": "grants", "description": "Grants: their total, dates, donors, partners, conversion method and spending."},
    {"name": "budget", "description": "A grant's budget: lines and headings, versions, allocations, moves "
                                      "inside a draft and the donor's approval."},
    {"name": "expenditures", "description": "Money spent by partners and the NGO, converted to EUR under the "
                                            "grant's method; corrections of locked quarters by adjustment."},
    {"name": "transfers", "description": "Money sent to partners: EUR sent, XOF received, fees, the bank's "
                                         "reference and a note."},
    {"name": "donor payments", "description": "Money a donor paid the NGO for a grant it funds, in EUR to the "
                                              "cent, with the day it was received and its reference: what the "
                                              "grant's IATI export (`grants/{code}/iati.xml`) publishes as "
                                              "incoming funds. Finance officers record them; a donor's members "
                                              "read their own donor's payments."},
    {"name": "statements", "description": STATEMENT_WORKFLOW},
    {"name": "reports", "description": "The donor's reports as JSON and as an Excel workbook."},
    {"name": "fx", "description": "Conversion to EUR: the rate table, the grant's method and the partners' "
                                  "fund reconciliation."},
    {"name": "reference data", "description": "Partners, locations and donors, named by their codes."},
    {"name": "audit", "description": "The auditor's check of a grant."},
    {"name": "jobs", "description": "Long work in the background: ask for a grant's workbook or a revaluation "
                                    "(202 with the job), follow its state and progress, download its file."},
]

# Path (under /api/v1/) to tag; the first that matches wins.
_TAG_BY_PATH = [
    (r"^$", "index"),
    (r"^(jobs/|grants/[^/]+/(reports/variance\.xlsx|revalue)/jobs/)", "jobs"),
    (r"^grants/[^/]+/reports/", "reports"),
    (r"^grants/[^/]+/iati\.xml$", "reports"),
    (r"^grants/[^/]+/(revalue|reconciliation)/", "fx"),
    (r"^grants/[^/]+/check/", "audit"),
    (r"^grants/[^/]+/(budget-lines|versions)/", "budget"),
    (r"^grants/", "grants"),
    (r"^expenditures/", "expenditures"),
    (r"^transfers/", "transfers"),
    (r"^donor-payments/", "donor payments"),
    (r"^statements/", "statements"),
    (r"^exchange-rates/", "fx"),
    (r"^(partners|locations|donors)/", "reference data"),
]


def tag_of(path: str) -> str:
    """The tag of an operation on ``path`` (``/api/v1/...``)."""
    relative = path.removeprefix("/api/v1/")
    for pattern, tag in _TAG_BY_PATH:
        if re.match(pattern, relative):
            return tag
    raise ValueError(f"no tag for {path}")


def resource_of(path: str) -> Resource | None:
    """The resource whose collection ``path`` is or lies under (the longest such)."""
    relative = re.sub(r"\{[^}]+\}", "{}", path.removeprefix("/api/v1/"))
    best = None
    for resource in RESOURCES:
        prefix = re.sub(r"\{[^}]+\}", "{}", resource.path)
        if relative.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, resource)
    return best[1] if best else None


# The standard actions, summarised and described from the resource's nouns.
_STANDARD = {
    "list": ("List {plural}", "The {plural} you may see, a page at a time (`page`, `page_size`); "
                              "an unknown query parameter is refused (400 `unknown_parameter`)."),
    "create": ("Create {a} {singular}", "Create {a} {singular}. Every problem of the body comes in one 400 answer."),
    "retrieve": ("Read {a} {singular}", "One {singular}; 404 when it does not exist or is not yours to see."),
    "update": ("Replace {a} {singular}", "Change every field of {a} {singular}."),
    "partial_update": ("Change {a} {singular}", "Change the fields given of {a} {singular}."),
    "destroy": ("Delete {a} {singular}", "Delete {a} {singular}; 409 when its state forbids it."),
}


def standard_text(action: str | None, path: str) -> tuple[str, str] | None:
    """(summary, description) of a standard action on ``path``'s resource, or None."""
    resource = resource_of(path)
    if action not in _STANDARD or resource is None:
        return None
    summary, description = _STANDARD[action]
    article = "an" if resource.singular[0] in "aeiou" else "a"
    names = {"singular": resource.singular, "plural": resource.plural, "a": article}
    return summary.format(**names), description.format(**names)
