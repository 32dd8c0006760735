"""Reads on grants: above all, which grants and partners a user may see."""

from __future__ import annotations

from django.db.models import QuerySet

from grants.models import Grant
from grants.roles import donor_ids_of, is_finance_officer, partner_of


def grant_list_for(user) -> QuerySet[Grant]:
    """The grants ``user`` may read: all for a finance officer, those it is a partner of for a
    partner member, those it funds for a donor member, none otherwise."""
    if is_finance_officer(user):
        return Grant.objects.all()
    partner = partner_of(user)
    if partner is not None:
        return Grant.objects.filter(partners=partner)
    donor_ids = donor_ids_of(user)
    if donor_ids:
        return Grant.objects.filter(donors__in=donor_ids).distinct()
    return Grant.objects.none()


def grant_get_for(user, code: str) -> Grant | None:
    """The grant of that code if ``user`` may read it, else None (the API answers 404)."""
    return grant_list_for(user).filter(code=code).first()
