"""GET /api/v1/grants/{code}/check/ (finance and the grant's donors; a partner gets 404), and the
statement's digests and reopenings in the statements API."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.utils import timezone

from expenditures.audit import statement_seal
from expenditures.demo_data import demo_data_generate
from expenditures.models import Expenditure, QuarterlyStatement, StatementReopening
from grants.models import Partner

URL = "/api/v1/grants/ML-ESEC-2015/check/"


@pytest.fixture
def sealed(grant, finance_user):
    demo_data_generate(grant=grant, seed=7, expenditures=200)
    caritas = Partner.objects.get(code="CARITAS")
    statements = []
    for quarter in (1, 2):
        statement = QuarterlyStatement(grant=grant, partner=caritas, year=2016, quarter=quarter, status="accepted",
                                       reviewed_at=timezone.now(), reviewed_by=finance_user)
        statement_seal(statement)
        statement.save()
        statements.append(statement)
    return statements


def test_finance_and_the_grants_donor_read_the_check(sealed, finance, donor):
    for client in (finance, donor):
        response = client.get(URL)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["ok"] is True and body["discrepancies"] == []
        assert body["grants"] == ["ML-ESEC-2015"]
        assert body["counts"]["statements"] == 2 and body["counts"]["groupings"] == 6


def test_a_partner_and_a_stranger_get_404_and_anonymous_is_refused(sealed, caritas, bnce, anonymous):
    assert caritas.get(URL).status_code == 404
    assert bnce.get(URL).status_code == 404
    assert anonymous.get(URL).status_code in (401, 403)


def test_the_check_names_a_row_changed_in_sql(sealed, finance):
    q2 = sealed[1]
    row = (Expenditure.objects.filter(grant=q2.grant, partner=q2.partner, date__gte=date(2016, 4, 1),
                                      date__lte=date(2016, 6, 30)).order_by("id").first())
    with connection.cursor() as cursor:
        cursor.execute("UPDATE expenditures_expenditure SET amount_eur = amount_eur + 1 WHERE id = %s", [row.pk])
    body = finance.get(URL).json()
    assert body["ok"] is False
    assert body["discrepancies"] == [{
        "kind": "digest_mismatch", "detail": body["discrepancies"][0]["detail"], "grant": "ML-ESEC-2015",
        "partner": "CARITAS", "quarter": "2016-Q2", "expenditure": None, "statement": q2.pk, "version": None}]


def test_a_statement_shows_its_digests_and_reopenings(sealed, finance, finance_user, caritas):
    q1, q2 = sealed
    StatementReopening.objects.create(statement=q1, reason="Voucher 17 was booked twice", digest=q1.digest,
                                      reopened_by=finance_user)
    body = finance.get(f"/api/v1/statements/{q1.pk}/").json()
    assert (body["digest"], body["previous_digest"]) == (q1.digest, "")
    assert len(body["reopenings"]) == 1
    reopening = body["reopenings"][0]
    assert (reopening["reason"], reopening["digest"], reopening["reopened_by"]) == (
        "Voucher 17 was booked twice", q1.digest, "finance")
    assert reopening["reopened_at"]
    listed = {s["id"]: s for s in caritas.get("/api/v1/statements/").json()["results"]}
    assert listed[q2.pk]["previous_digest"] == q1.digest and listed[q2.pk]["reopenings"] == []
    # read-only: a write does not set them
    response = finance.patch(f"/api/v1/statements/{q2.pk}/", {"digest": "0" * 64}, format="json")
    assert QuarterlyStatement.objects.get(pk=q2.pk).digest == q2.digest, response.content


def test_a_version_one_cent_off_is_named_to_the_cent(sealed, finance):
    # the version's allocations in SQL one cent off: named, with the amounts as exact decimals
    with connection.cursor() as cursor:
        cursor.execute("UPDATE budget_allocation SET amount = amount + 0.01 WHERE id = "
                       "(SELECT MIN(id) FROM budget_allocation)")
    body = finance.get(URL).json()
    [finding] = body["discrepancies"]
    assert finding["kind"] == "allocations_not_total" and finding["version"] == 1
    assert "a difference of 0.01)" in finding["detail"]
