"""What each role sees, and for whom it acts: the one home of read scoping.

Who a user is (finance officer, member of a partner, member of a donor) is read by
``grants.roles``; what may be written, by whom, is decided by the services and their policies
(``expenditures.lifecycle``, ``budget.policy``, ``grants.roles.require_finance``). This module
says what each one may *see*, and is used by the API's querysets and lookups, its permissions,
the reports' scoping and the services that resolve "my partner":

- a finance officer (or a superuser): every grant and every record;
- a member of a partner: the grants its partner is on, and on them its own partner's records;
- a member of a donor: the grants its donors fund, and every record of them (read only), but
  of the donors' payments only its own donors' (``donor_payment_scope``);
- anyone else: nothing.

A record out of sight does not exist for the user: the API answers 404, never 403, so that a
stranger learns nothing of what exists.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from grants.errors import ApplicationError, ErrorCode, PermissionRefused
from grants.models import Donor, Grant, Partner
from grants.roles import donor_ids_of, is_finance_officer, partner_grant_ids_of, partner_of, role_of
from grants.validation import holds_nul


def has_ledger_role(user) -> bool:
    """A finance officer, a partner member or a donor member: anyone else sees nothing."""
    return bool(user and user.is_authenticated and role_of(user))


def may_write(user, *, partners: bool = False) -> bool:
    """Who may send a write at all (the services decide the rest): finance officers and, with
    ``partners``, partner members (for their own partner's records). Donors read only."""
    return is_finance_officer(user) or (partners and partner_of(user) is not None)


def grants_visible_to(user) -> QuerySet[Grant]:
    """The grants ``user`` may read: all for a finance officer, those its partner is on for a
    partner member, those its donors fund for a donor member, none otherwise."""
    if is_finance_officer(user):
        return Grant.objects.all()
    partner = partner_of(user)
    if partner is not None:
        return Grant.objects.filter(partners=partner)
    donor_ids = donor_ids_of(user)
    if donor_ids:
        return Grant.objects.filter(donors__in=donor_ids).distinct()
    return Grant.objects.none()


def grant_visible_to(user, code: str) -> Grant | None:
    """The grant of that code if ``user`` may read it, else None."""
    if not isinstance(code, str) or holds_nul(code):  # no code holds one, and PostgreSQL refuses one in a query
        return None
    return grants_visible_to(user).filter(code=code).first()


def no_such_grant(code) -> str:
    """The words for a grant named by ``code`` that the user cannot have: the same whether it does
    not exist or exists out of the user's sight (URL lookups answer them with 404 ``not_found``,
    body references and query parameters with 400 ``unknown_grant``), so that the answer tells no
    one which codes exist."""
    return _("No grant %(code)s.") % {"code": code}


def require_grant_visible(user, grant: Grant, *, attr: str = "grant") -> None:
    """A grant named in a request body must be one the user sees: else 400 ``unknown_grant``,
    the answer for a grant that does not exist."""
    if not grants_visible_to(user).filter(pk=grant.pk).exists():
        raise ApplicationError(no_such_grant(grant.code), code=ErrorCode.UNKNOWN_GRANT, attr=attr)


def partner_scope(user) -> Partner | None:
    """The partner a user's reads are restricted to (None: the whole of the grants it sees)."""
    if is_finance_officer(user):
        return None
    return partner_of(user)


def sees_whole_grant(user) -> bool:
    """Finance officers and donors read a grant whole (its checks, the moves between partners);
    a partner member reads its own part only."""
    return is_finance_officer(user) or (partner_of(user) is None and bool(donor_ids_of(user)))


def record_scope(user) -> list[Q] | None:
    """What ``user`` may see of records that have a ``grant`` and a ``partner`` (expenditures,
    transfers, statements), as conditions on them; None: nothing. The partner's grants come as
    ids with the user's standing, so the query has no join to them to plan: PostgreSQL took 4.7 ms
    to plan a page of expenditures with the join and 1.9 ms without, for 0.4 ms to run it."""
    if is_finance_officer(user):
        return []
    partner = partner_of(user)
    if partner is not None:
        return [Q(partner=partner), Q(grant_id__in=partner_grant_ids_of(user))]
    if donor_ids_of(user):
        return [Q(grant__in=grants_visible_to(user).values("pk"))]
    return None


def visible_records(queryset: QuerySet, user) -> QuerySet:
    """``queryset`` narrowed to what ``user`` may see (``record_scope``)."""
    conditions = record_scope(user)
    return queryset.none() if conditions is None else queryset.filter(*conditions)


def donor_payment_scope(user) -> list[Q] | None:
    """What ``user`` may see of the donors' payments (``DonorPayment``), as conditions on them;
    None: nothing. A finance officer sees them all; a donor member its own donors' payments on the
    grants they fund; a partner member none (what a donor paid the NGO is not a partner's record)."""
    if is_finance_officer(user):
        return []
    if partner_of(user) is not None:
        return None
    donor_ids = donor_ids_of(user)
    if donor_ids:
        return [Q(donor_id__in=donor_ids), Q(grant__in=grants_visible_to(user).values("pk"))]
    return None


def visible_donor_payments(queryset: QuerySet, user) -> QuerySet:
    """``queryset`` of donors' payments narrowed to what ``user`` may see (``donor_payment_scope``)."""
    conditions = donor_payment_scope(user)
    return queryset.none() if conditions is None else queryset.filter(*conditions)


def partner_to_read(user, named: Partner | None) -> Partner | None:
    """The partner a read is narrowed to: a partner member's own (naming another is refused, 403),
    or the one named by a finance officer or a donor (None: the whole grant)."""
    own = partner_scope(user)
    if own is None:
        return named
    if named is not None and named != own:
        raise PermissionRefused(_("A partner sees only its own figures."))
    return own


def acting_partner(user, named: Partner | None, *, attr: str = "partner") -> Partner:
    """The partner a new record is for: the one named, or a partner member's own when it names
    none (finance must name one: 400 ``required``). Whether the user may act for the partner
    named is the service's rule (``expenditures.lifecycle``)."""
    if named is not None:
        return named
    own = partner_scope(user)
    if own is None:
        raise ApplicationError(_("The partner is required."), code=ErrorCode.REQUIRED, attr=attr)
    return own


def partner_visible_on_grant(user, grant: Grant, code: str | None) -> Partner | None:
    """The partner of that code on ``grant`` if ``user`` may see its records (a partner member:
    its own only; no code: its own), else None."""
    own = partner_scope(user)
    code = code or (own.code if own else None)
    if code is None:
        raise ApplicationError(_("The partner is required."), code=ErrorCode.REQUIRED, attr="partner")
    partner = grant.partners.filter(code=code).first()
    if partner is None or (own is not None and partner != own):
        return None
    return partner


def donor_deciding(user, grant: Grant, code: str | None = None) -> Donor | None:
    """The donor of ``grant`` whose decision ``user`` records (the one of that code, else its
    first by code), or None when the user is a member of no donor of the grant."""
    donors = Donor.objects.filter(pk__in=donor_ids_of(user), grant_shares__grant=grant).order_by("code")
    if code:
        donors = donors.filter(code=code)
    return donors.first()
