"""What a grant, a partner and a donor carry for IATI: the codes and the rules on them.

The values are set by a finance officer (admin and API) and written by ``grants.services``, which
``full_clean``s the record, so these validators are the one home of the rules:

- an organisation identifier follows the IATI org-id pattern: a registration agency's prefix
  (two letters, a hyphen, the agency: ``XM-DAC``, ``LU-RCS``, ``GB-CHC``) then the identifier the
  agency gave, of letters, digits, ``-``, ``_``, ``.`` and ``:`` (``XM-DAC-22-1``);
- an activity identifier holds the same characters (it starts with the reporting organisation's
  identifier: ``reports.iati_rules`` checks that when it publishes, rule 1.1.21);
- an activity status is one of IATI's ActivityStatus codelist, 1 to 6;
- sectors are DAC 5-digit purpose codes (vocabulary 1), each once, with percentages in (0, 100]
  that add up to exactly 100.

``reports.iati`` reads them to publish the grant as an IATI activity.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

ORG_REF = re.compile(r"^[A-Z]{2}-[A-Z0-9]{2,}(-[A-Za-z0-9_.:]+)+$")
ACTIVITY_ID = re.compile(r"^[A-Za-z0-9_.:-]+$")
DAC_CODE = re.compile(r"^[0-9]{5}$")
HUNDRED = Decimal("100")
# Not "invalid": a form's JSON field would show its own "Value must be valid JSON." for that code.
SECTORS_CODE = "invalid_sectors"
SECTOR_VOCABULARY_DAC = "1"


class ActivityStatus(models.IntegerChoices):
    """IATI's ActivityStatus codelist."""

    PIPELINE = 1, gettext_lazy("Pipeline/identification")
    IMPLEMENTATION = 2, gettext_lazy("Implementation")
    FINALISATION = 3, gettext_lazy("Finalisation")
    CLOSED = 4, gettext_lazy("Closed")
    CANCELLED = 5, gettext_lazy("Cancelled")
    SUSPENDED = 6, gettext_lazy("Suspended")


class OrganisationType(models.TextChoices):
    """IATI's OrganisationType codelist (the codes an NGO's grant meets)."""

    GOVERNMENT = "10", gettext_lazy("Government")
    OTHER_PUBLIC = "15", gettext_lazy("Other public sector")
    INTERNATIONAL_NGO = "21", gettext_lazy("International NGO")
    NATIONAL_NGO = "22", gettext_lazy("National NGO")
    REGIONAL_NGO = "23", gettext_lazy("Regional NGO")
    PARTNER_COUNTRY_NGO = "24", gettext_lazy("Partner country based NGO")
    MULTILATERAL = "40", gettext_lazy("Multilateral")
    FOUNDATION = "60", gettext_lazy("Foundation")
    PRIVATE_SECTOR = "70", gettext_lazy("Private sector")
    ACADEMIC = "80", gettext_lazy("Academic, training and research")
    OTHER = "90", gettext_lazy("Other")


def validate_org_ref(value: str) -> None:
    if value and not ORG_REF.match(value):
        raise ValidationError(
            _("%(value)s is not an IATI organisation identifier (a registration agency's prefix such as "
              "XM-DAC or LU-RCS, then its identifier: XM-DAC-22-1).") % {"value": value},
            code="invalid")


def validate_activity_identifier(value: str) -> None:
    if value and not ACTIVITY_ID.match(value):
        raise ValidationError(
            _("An IATI activity identifier holds letters, digits, hyphens, underscores, periods and colons only."),
            code="invalid")


def validate_dac_sectors(value) -> None:
    """``[{"code": "15180", "percentage": "50"}, ...]``: DAC 5-digit codes, each once, whose
    percentages add up to 100 (an empty list: no sector)."""
    if not isinstance(value, list):
        raise ValidationError(_("Sectors are a list of {code, percentage}."), code=SECTORS_CODE)
    seen, total = set(), Decimal("0")
    for item in value:
        if not isinstance(item, dict) or set(item) != {"code", "percentage"}:
            raise ValidationError(_("Sectors are a list of {code, percentage}."), code=SECTORS_CODE)
        code = str(item["code"])
        if not DAC_CODE.match(code):
            raise ValidationError(_("%(code)s is not a DAC 5-digit sector code.") % {"code": code}, code=SECTORS_CODE)
        if code in seen:
            raise ValidationError(_("Sector %(code)s is listed twice.") % {"code": code}, code=SECTORS_CODE)
        seen.add(code)
        percentage = sector_percentage(item["percentage"])
        if percentage is None or not Decimal("0") < percentage <= HUNDRED:
            raise ValidationError(_("Sector %(code)s's percentage is not a number in (0, 100] with at most two "
                                    "decimals.") % {"code": code}, code=SECTORS_CODE)
        total += percentage
    if value and total != HUNDRED:
        raise ValidationError(_("Sector percentages add up to %(total)s %%, not 100 %%.") % {"total": total},
                              code=SECTORS_CODE)


def sector_percentage(value) -> Decimal | None:
    """A sector's percentage as a Decimal of at most two decimals, else None."""
    if isinstance(value, bool | float):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or number != number.quantize(Decimal("0.01")):
        return None
    return number


def normalised_sectors(value):
    """Sectors as they are stored: codes and percentages as strings (a Decimal is not JSON);
    anything else is left for ``validate_dac_sectors`` to refuse."""
    if not isinstance(value, list | tuple):
        return value
    out = []
    for item in value:
        if isinstance(item, dict) and set(item) == {"code", "percentage"}:
            percentage = sector_percentage(item["percentage"])
            item = {"code": str(item["code"]),
                    "percentage": str(percentage) if percentage is not None else item["percentage"]}
        out.append(item)
    return out
