"""Shared fixtures: the Mali seed project, the three roles, API clients with tokens."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from budget.seed import seed_load
from grants.models import Donor, Grant, Membership, Partner, Role
from grants.roles import ensure_role_groups


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language. A request with ``Accept-Language: fr`` leaves
    French active in the test's thread (LocaleMiddleware activates, nothing deactivates), and a
    later test that calls a service or a command without a request would read French."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _reference_rows(request):
    """The rows the data migrations put in (the parity, the role groups) are there for every
    test that uses the database. A transactional test (the races, on PostgreSQL) ends with a
    flush that empties every table, its migrations' rows too; the tests after it, on the same
    worker, would find no parity.

    They are made inside the test's own transaction (the database fixture is asked for first), so
    they never outlive it: rows committed here, under new ids, would collide with the rows a
    later ``serialized_rollback`` test reloads under their original ids. Such a test's own setup
    reloads them, so it is left alone."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None and not {"db", "transactional_db"} & set(request.fixturenames):
        return
    if marker is not None and marker.kwargs.get("serialized_rollback"):
        return
    transactional = (marker is not None and marker.kwargs.get("transaction")) or (
        "transactional_db" in request.fixturenames)
    request.getfixturevalue("transactional_db" if transactional else "db")
    ensure_reference_rows()


def ensure_reference_rows() -> None:
    """The parity and the role groups, as the data migrations make them, if a flush took them."""
    from decimal import Decimal

    from django.contrib.contenttypes.models import ContentType

    from expenditures.models import ExchangeRate

    # The same flush rewrites django_content_type, under new ids, while ContentType's cache (kept
    # for the whole process) still holds the old ones: an admin log entry written later with a
    # cached id broke its foreign key at teardown (seen once in CI on PostgreSQL).
    ContentType.objects.clear_cache()
    if not ExchangeRate.objects.filter(currency="XOF", month__isnull=True).exists():
        ExchangeRate.objects.create(currency="XOF", month=None, rate=Decimal("655.957"),
                                    source="Fixed parity, Council Decision 98/683/EC (test setup)")
    ensure_role_groups()


@pytest.fixture
def grant(db) -> Grant:
    """The Mali project (ML-ESEC-2015) as load_seed leaves it: version 1 approved, no spending."""
    return seed_load().grant


def make_user(username: str, role: Role, *, partner: Partner | None = None,
              donor: Donor | None = None):
    groups = ensure_role_groups()
    user = get_user_model().objects.create_user(username=username, password=username)
    user.groups.add(groups[role.value])
    if partner is not None:
        Membership.objects.create(user=user, partner=partner)
    if donor is not None:
        Membership.objects.create(user=user, donor=donor)
    return user


@pytest.fixture
def finance_user(db):
    return make_user("finance", Role.FINANCE_OFFICER)


@pytest.fixture
def bnce_user(grant):
    return make_user("bnce", Role.PARTNER_MEMBER, partner=Partner.objects.get(code="BNCE"))


@pytest.fixture
def caritas_user(grant):
    return make_user("caritas", Role.PARTNER_MEMBER, partner=Partner.objects.get(code="CARITAS"))


@pytest.fixture
def donor_user(grant):
    return make_user("donor", Role.DONOR_MEMBER, donor=Donor.objects.get(code="MAEE-LU"))


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def finance(finance_user) -> APIClient:
    return client_for(finance_user)


@pytest.fixture
def bnce(bnce_user) -> APIClient:
    return client_for(bnce_user)


@pytest.fixture
def caritas(caritas_user) -> APIClient:
    return client_for(caritas_user)


@pytest.fixture
def donor(donor_user) -> APIClient:
    return client_for(donor_user)


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    if connection.vendor != "postgresql":
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    """How many requests schemathesis sent as each role (tests/api/test_schemathesis.py records them
    on its tests' reports, which pytest-xdist's workers pass on)."""
    totals: dict[str, dict[str, int]] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for name, counts in getattr(report, "user_properties", ()):
                if name.startswith("schemathesis_"):
                    for role, count in counts.items():
                        totals.setdefault(name, {}).setdefault(role, 0)
                        totals[name][role] += count
    for name, by_role in sorted(totals.items()):
        terminalreporter.write_line(f"{name.replace('_', ' ')} by role: " + ", ".join(
            f"{role} {count}" for role, count in sorted(by_role.items())) + f" (total {sum(by_role.values())})")
