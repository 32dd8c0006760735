"""Who a user is to the ledger: finance officer, member of a partner, member of a donor."""

from __future__ import annotations

from django.contrib.auth.models import Group

from grants.models import Donor, Membership, Partner, Role


def is_finance_officer(user) -> bool:
    if not user or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return Role.FINANCE_OFFICER.value in _group_names(user)


def partner_of(user) -> Partner | None:
    """The partner a user belongs to, if any (a user belongs to one partner at most)."""
    if not user or not user.is_authenticated:
        return None
    cached = getattr(user, "_ledger_partner", False)
    if cached is not False:
        return cached
    membership = (
        Membership.objects.filter(user=user, partner__isnull=False).select_related("partner").first()
    )
    user._ledger_partner = membership.partner if membership else None
    return user._ledger_partner


def donor_ids_of(user) -> list[int]:
    if not user or not user.is_authenticated:
        return []
    cached = getattr(user, "_ledger_donor_ids", None)
    if cached is None:
        cached = list(
            Membership.objects.filter(user=user, donor__isnull=False).values_list("donor_id", flat=True)
        )
        user._ledger_donor_ids = cached
    return cached


def donors_of(user) -> list[Donor]:
    return list(Donor.objects.filter(id__in=donor_ids_of(user)))


def role_of(user) -> Role | None:
    if is_finance_officer(user):
        return Role.FINANCE_OFFICER
    if partner_of(user) is not None:
        return Role.PARTNER_MEMBER
    if donor_ids_of(user):
        return Role.DONOR_MEMBER
    return None


def ensure_role_groups() -> dict[str, Group]:
    return {role.value: Group.objects.get_or_create(name=role.value)[0] for role in Role}


def _group_names(user) -> set[str]:
    cached = getattr(user, "_ledger_groups", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._ledger_groups = cached
    return cached
