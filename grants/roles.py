"""Who a user is to the ledger: finance officer, member of a partner, member of a donor."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connections, router

from grants.models import Grant, Membership, Partner, Role


@dataclass(frozen=True)
class _Standing:
    """What the ledger knows of a user, read once per user object (so once per request)."""

    finance_officer: bool  # in the finance officers' group (superusers are decided apart)
    partner: Partner | None  # its first partner membership's partner
    partner_grant_ids: list[int]  # the grants that partner is a partner of
    donor_ids: list[int]


_PARTNER_FIELDS = [f.attname for f in Partner._meta.concrete_fields]
_PARTNER_PK = 3 + _PARTNER_FIELDS.index(Partner._meta.pk.attname)  # its column in a standing row


def _standing_sql(connection) -> str:
    """Groups, memberships, the partner and its grants, in one query: the user's standing is read
    on every API request, and this plain statement costs a tenth of the CPU of the ORM's three
    (groups, partner membership, donor membership) or of one ORM query with joins. One row per
    membership and grant of its partner; a lone row of NULLs when the user has no membership."""
    q = connection.ops.quote_name
    groups = get_user_model()._meta.get_field("groups")
    grant_partners = Grant._meta.get_field("partners")
    membership = {name: q(Membership._meta.get_field(name).column) for name in ("id", "user", "partner", "donor")}
    partner_columns = ", ".join(f"p.{q(Partner._meta.get_field(name).column)}" for name in _PARTNER_FIELDS)
    return (
        f"SELECT EXISTS (SELECT 1 FROM {q(groups.m2m_db_table())} ug"
        f" JOIN {q(Group._meta.db_table)} g ON g.{q(Group._meta.pk.column)} = ug.{q(groups.m2m_reverse_name())}"
        f" WHERE ug.{q(groups.m2m_column_name())} = %s AND g.{q('name')} = %s),"
        f" m.{membership['donor']}, gp.{q(grant_partners.m2m_column_name())}, {partner_columns}"
        f" FROM (SELECT 1 AS one) u"
        f" LEFT JOIN {q(Membership._meta.db_table)} m ON m.{membership['user']} = %s"
        f" LEFT JOIN {q(Partner._meta.db_table)} p ON p.{q(Partner._meta.pk.column)} = m.{membership['partner']}"
        f" LEFT JOIN {q(grant_partners.m2m_db_table())} gp"
        f" ON gp.{q(grant_partners.m2m_reverse_name())} = p.{q(Partner._meta.pk.column)}"
        f" ORDER BY m.{membership['id']}, gp.{q(grant_partners.m2m_column_name())}"
    )


def _standing(user) -> _Standing:
    cached = getattr(user, "_ledger_standing", None)
    if cached is not None:
        return cached
    db = router.db_for_read(Membership)
    connection = connections[db]
    with connection.cursor() as cursor:
        cursor.execute(_standing_sql(connection), [user.pk, Role.FINANCE_OFFICER.value, user.pk])
        rows = cursor.fetchall()
    partner = None
    for row in rows:  # the first partner membership, as before
        if row[3] is not None:
            partner = Partner.from_db(db, _PARTNER_FIELDS, row[3:])
            break
    cached = _Standing(
        finance_officer=bool(rows and rows[0][0]),
        partner=partner,
        partner_grant_ids=sorted({row[2] for row in rows
                                  if partner is not None and row[_PARTNER_PK] == partner.pk and row[2] is not None}),
        donor_ids=list(dict.fromkeys(row[1] for row in rows if row[1] is not None)),
    )
    user._ledger_standing = cached
    return cached


def is_finance_officer(user) -> bool:
    if not user or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return _standing(user).finance_officer


def partner_of(user) -> Partner | None:
    """The partner a user belongs to, if any (a user belongs to one partner at most)."""
    if not user or not user.is_authenticated:
        return None
    return _standing(user).partner


def partner_grant_ids_of(user) -> list[int]:
    """The ids of the grants the user's partner is a partner of (empty for a user of no partner)."""
    if not user or not user.is_authenticated:
        return []
    return list(_standing(user).partner_grant_ids)


def donor_ids_of(user) -> list[int]:
    if not user or not user.is_authenticated:
        return []
    return list(_standing(user).donor_ids)




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


# --- who acts: the one question every service asks before a write ----------------------------------

@dataclass(frozen=True)
class Actor:
    """Who acts: ``finance`` (a finance officer, a superuser, or the system: ``by=None`` in
    commands and the demo-data generator), ``partner`` (with its partner), ``donor`` (with the
    ids of its donors), or ``none``."""

    kind: str
    partner: Partner | None = None
    donor_ids: tuple[int, ...] = ()

    @property
    def is_finance(self) -> bool:
        return self.kind == "finance"


def actor_of(user) -> Actor:
    if user is None or is_finance_officer(user):
        return Actor("finance")
    partner = partner_of(user)
    if partner is not None:
        return Actor("partner", partner)
    donors = tuple(donor_ids_of(user))
    if donors:
        return Actor("donor", donor_ids=donors)
    return Actor("none")


def require_finance(by, *, what: str | None = None) -> None:
    """Only a finance officer (or the system) may do ``what``: ``PermissionRefused`` (403) otherwise."""
    from django.utils.translation import gettext as _

    from grants.errors import PermissionRefused

    if not actor_of(by).is_finance:
        if what:
            raise PermissionRefused(_("Only a finance officer may %(what)s.") % {"what": what})
        raise PermissionRefused(_("Only a finance officer may do this."))

