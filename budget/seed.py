"""Load a project from a folder of CSV files and a project.json (the Mali project by default).

Creates what is absent and never changes what is there, so loading twice changes nothing.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from moneyed import Money
from simple_history.utils import bulk_create_with_history

from budget.models import Allocation, BudgetLine, BudgetVersion, VersionStatus
from budget.services import version_approve
from grants.models import Donor, Grant, GrantDonor, Location, Partner
from grants.money import EUR

MALI = Path(settings.BASE_DIR) / "fixtures" / "mali"


@dataclass
class SeedResult:
    grant: Grant
    created: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, created: bool) -> None:
        if created:
            self.created[what] = self.created.get(what, 0) + 1


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@transaction.atomic
def seed_load(directory: Path = MALI) -> SeedResult:
    project = json.loads((directory / "project.json").read_text(encoding="utf-8"))
    meta = project["grant"]

    locations = {}
    result_counts: list[tuple[str, bool]] = []
    for row in _rows(directory / "cities.csv"):
        loc, created = Location.objects.get_or_create(
            code=row["code"],
            defaults={"name": row["name"], "region": row["region"], "country": row["country"],
                      "latitude": Decimal(row["latitude"]), "longitude": Decimal(row["longitude"])},
        )
        locations[loc.code] = loc
        result_counts.append(("locations", created))

    partners = {}
    for row in _rows(directory / "partners.csv"):
        partner, created = Partner.objects.get_or_create(
            code=row["code"],
            defaults={"name": row["name"], "kind": row["kind"], "country": row["country"],
                      "reporting_currency": row["reporting_currency"]},
        )
        if created:
            partner.locations.set([locations[c] for c in row["cities"].split()])
        partners[partner.code] = partner
        result_counts.append(("partners", created))

    grant, grant_created = Grant.objects.get_or_create(
        code=meta["code"],
        defaults={
            "title": meta["title"], "total": Money(Decimal(meta["total"]), meta["total_currency"]),
            "start_date": date.fromisoformat(meta["start_date"]),
            "end_date": date.fromisoformat(meta["end_date"]), "fx_method": meta["fx_method"],
            "variance_tolerance_pct": Decimal(meta["variance_tolerance_pct"]),
            "reallocation_limit_pct": Decimal(meta["reallocation_limit_pct"]),
            "notes": meta.get("notes", ""),
        },
    )
    result = SeedResult(grant=grant)
    for what, created in result_counts:
        result.count(what, created)
    result.count("grants", grant_created)
    if grant_created:
        grant.partners.set(partners.values())

    for row in project["donors"]:
        donor, created = Donor.objects.get_or_create(
            code=row["code"], defaults={"name": row["name"], "notes": row.get("notes", "")}
        )
        result.count("donors", created)
        _, created = GrantDonor.objects.get_or_create(
            grant=grant, donor=donor, defaults={"share_pct": Decimal(row["share_pct"])}
        )
        result.count("donor_shares", created)

    _seed_iati(project, grant, partners)

    lines = {}
    for position, row in enumerate(_rows(directory / "budget-lines.csv"), start=1):
        line, created = BudgetLine.objects.get_or_create(
            grant=grant, code=row["code"],
            defaults={
                "parent": lines.get(row["parent"]) if row["parent"] else None,
                "label_fr": row["label_fr"], "label_en": row["label_en"],
                "beneficiary_target": int(row["beneficiary_target"]) if row["beneficiary_target"] else None,
                "beneficiary_unit": row["beneficiary_unit"], "position": position,
            },
        )
        lines[line.code] = line
        result.count("budget_lines", created)

    spec = project["version"]
    if not BudgetVersion.objects.filter(grant=grant, number=spec["number"]).exists():
        version = BudgetVersion.objects.create(
            grant=grant, number=spec["number"], label=spec["label"], reason=spec.get("reason", ""),
            status=VersionStatus.DRAFT,
        )
        allocations = [
            Allocation(
                version=version, budget_line=lines[row["line"]], partner=partners[row["partner"]],
                location=locations[row["city"]], year=int(row["project_year"]),
                amount=Money(Decimal(row["amount_eur"]), EUR),
            )
            for row in _rows(directory / "budget-mali-2015-2018.csv")
        ]
        bulk_create_with_history(allocations, Allocation)
        version_approve(version=version)
        result.created["versions"] = 1
        result.created["allocations"] = len(allocations)
    return result


def _seed_iati(project: dict, grant: Grant, partners: dict[str, Partner]) -> None:
    """The IATI values of ``project.json`` (``grant.iati``, ``iati_organisations``), set where the
    record has none yet: a value a finance officer has set is never overwritten."""
    from grants.iati import normalised_sectors

    values = project["grant"].get("iati", {})
    changed = []
    for name in ("title_en", "description_fr", "description_en", "iati_org_ref", "iati_identifier", "dac_sectors"):
        if values.get(name) and not getattr(grant, name):
            setattr(grant, name, normalised_sectors(values[name]) if name == "dac_sectors" else values[name])
            changed.append(name)
    if "iati_activity_status" in values and "dac_sectors" in changed:
        # set with the sectors, when the seed first gives the grant its IATI values
        grant.iati_activity_status = values["iati_activity_status"]
        changed.append("iati_activity_status")
    if changed:
        grant.full_clean(exclude=["partners", "donors"])
        grant.save(update_fields=changed)
    organisations = project.get("iati_organisations", {})
    for record in [*partners.values(), *Donor.objects.filter(code__in=list(organisations))]:
        spec = organisations.get(record.code, {})
        fields = [name for name in ("iati_org_ref", "iati_org_type") if spec.get(name) and not getattr(record, name)]
        for name in fields:
            setattr(record, name, spec[name])
        if fields:
            record.full_clean()
            record.save(update_fields=fields)


@transaction.atomic
def seed_revise(directory: Path = MALI) -> BudgetVersion | None:
    """Give the seeded grant its revision (``project.json``'s ``revision``): a draft copied from
    the current version, the listed moves, the donor's approval where the rule asks for it, and
    approval. Does nothing when the grant already has that version."""
    from budget.models import DonorDecision
    from budget.revisions import Cell, reallocate, version_needs_donor
    from budget.services import version_open_draft

    project = json.loads((directory / "project.json").read_text(encoding="utf-8"))
    spec = project.get("revision")
    grant = Grant.objects.get(code=project["grant"]["code"])
    if spec is None or BudgetVersion.objects.filter(grant=grant, number=spec["number"]).exists():
        return None
    draft = version_open_draft(grant=grant, label=spec["label"], reason=spec["reason"])

    def cell(spec_cell):
        line, partner, location, year = spec_cell
        return Cell(BudgetLine.objects.get(grant=grant, code=line), Partner.objects.get(code=partner),
                    Location.objects.get(code=location), int(year))

    for move in spec["moves"]:
        reallocate(version=draft, source=cell(move["from"]), target=cell(move["to"]),
                   amount=Money(Decimal(move["amount"]), EUR), reason=move.get("reason", spec["reason"]))
    if version_needs_donor(draft):
        main_donor = grant.donor_shares.order_by("-share_pct").first().donor
        DonorDecision.objects.create(version=draft, donor=main_donor, decision=DonorDecision.Decision.APPROVED,
                                     comment="Seed: approved by letter (demo data).")
    return version_approve(version=draft)
