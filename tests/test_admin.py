"""The finance officers' admin: every screen answers, writes go through the services, locks hold.

Given the Mali seed (version 1 approved, no spending), when a superuser works in the admin,
then it meets the same rules as the API: no spending on a heading or in fractional francs, no
change to a locked quarter, an accepted statement or an approved budget.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from django.contrib import admin
from django.forms import MultiWidget
from django.urls import reverse
from moneyed import Money

from budget.models import Allocation, BudgetLine, BudgetVersion, VersionStatus
from expenditures.models import ExchangeRate, Expenditure, FundTransfer, QuarterlyStatement, StatementStatus
from expenditures.services import expenditure_record, transfer_record
from grants.admin import money_text
from grants.models import Grant, GrantDonor, Location, Membership, Partner

# 655,957 XOF is exactly 1,000.00 EUR at the parity (655.957 XOF per EUR).
THOUSAND_EUR_IN_XOF = Decimal("655957")
THOUSAND_EUR = Money(THOUSAND_EUR_IN_XOF, "XOF")


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def mali(grant):
    """Handy references into the seed: partners, one heading and its first line, places."""
    return {
        "grant": grant,
        "BNCE": Partner.objects.get(code="BNCE"),
        "APJEC": Partner.objects.get(code="APJEC"),
        "CARITAS": Partner.objects.get(code="CARITAS"),
        "ECPAT-LU": Partner.objects.get(code="ECPAT-LU"),
        "heading": BudgetLine.objects.get(grant=grant, code="1"),
        "1.1": BudgetLine.objects.get(grant=grant, code="1.1"),
        "1.2": BudgetLine.objects.get(grant=grant, code="1.2"),
        "2.1": BudgetLine.objects.get(grant=grant, code="2.1"),
        "BKO": Location.objects.get(code="BKO"),
        "SEG": Location.objects.get(code="SEG"),
    }


def _spend(mali, *, partner="BNCE", line="1.1", location="BKO", amount=THOUSAND_EUR,
           day=date(2016, 2, 10), voucher="V-1", **kwargs) -> Expenditure:
    return expenditure_record(grant=mali["grant"], partner=mali[partner], budget_line=mali[line],
                              location=mali[location], amount=amount, date=day, voucher=voucher, **kwargs)


def _lock(mali, partner: str, year: int, quarter: int) -> QuarterlyStatement:
    return QuarterlyStatement.objects.create(grant=mali["grant"], partner=mali[partner], year=year,
                                             quarter=quarter, status=StatementStatus.ACCEPTED)


def _form_data(response) -> dict:
    """What a browser would post back, unchanged, for the change form in ``response``."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for bound in form:
            value = bound.value()
            if isinstance(bound.field.widget, MultiWidget):  # a MoneyField: amount_0, amount_1
                parts = value if isinstance(value, list | tuple) else bound.field.widget.decompress(value)
                for index, part in enumerate(parts):
                    data[f"{bound.html_name}_{index}"] = "" if part is None else str(part)
            elif isinstance(value, bool):
                if value:
                    data[bound.html_name] = "on"
            elif isinstance(value, list | tuple):  # a multiple choice
                data[bound.html_name] = [str(item) for item in value]
            else:
                data[bound.html_name] = "" if value is None else str(value)
    return data


def _expenditure_post(mali, **overrides) -> dict[str, str]:
    data = {
        "grant": mali["grant"].pk, "partner": mali["BNCE"].pk, "budget_line": mali["1.1"].pk,
        "location": mali["BKO"].pk, "date": "2016-02-10", "voucher": "BNCE-2016-001",
        "description": "Thematic session, Bamako", "amount_0": str(THOUSAND_EUR_IN_XOF), "amount_1": "XOF",
        "status": "validated",
    }
    data.update(overrides)
    return data


# --- every screen ---------------------------------------------------------------------------


def test_money_is_shown_with_its_currency_at_its_precision():
    assert money_text(Decimal("655957.00"), "XOF") == "655,957 XOF"
    assert money_text(Decimal("1000"), "EUR") == "1,000.00 EUR"
    assert money_text(None, "EUR") == "-"


def test_every_registered_model_answers_its_changelist_add_and_change_pages(admin_client, admin_user, mali):
    _spend(mali)
    transfer_record(grant=mali["grant"], partner=mali["BNCE"], sent_on=date(2016, 1, 5),
                    amount_sent=Money("1000.00", "EUR"), amount_received=Money("655000", "XOF"))
    QuarterlyStatement.objects.create(grant=mali["grant"], partner=mali["BNCE"], year=2016, quarter=1)
    Membership.objects.create(user=admin_user, partner=mali["BNCE"])

    assert admin.site._registry, "nothing is registered"
    for model in admin.site._registry:
        assert admin_client.get(_url(model, "changelist")).status_code == 200, model
        # django-axes' login attempts are recorded by axes, never added by hand: 403 by design.
        adds = model._meta.app_label != "axes"
        assert admin_client.get(_url(model, "add")).status_code == (200 if adds else 403), model
        first = model._default_manager.first()
        if first is not None:
            assert admin_client.get(_url(model, "change", first.pk)).status_code == 200, model


# --- the expenditure list -------------------------------------------------------------------


def test_expenditure_list_filters_searches_and_stays_within_a_fixed_number_of_queries(
        admin_client, mali, django_assert_max_num_queries):
    partners, lines, places = ("BNCE", "APJEC", "CARITAS"), ("1.1", "1.2", "2.1"), ("BKO", "SEG")
    made = []
    for i in range(50):
        # Each partner spends on the lines allocated to it: CARITAS has 2.1 only, APJEC 1.1 and 1.2.
        partner, line = partners[i % 3], lines[i // 3 % 3]
        line = {"CARITAS": "2.1", "APJEC": line if line != "2.1" else "1.1"}.get(partner, line)
        row = {"partner": partner, "line": line, "location": places[i // 9 % 2],
               "day": date(2016, 1 + i * 5 % 12, 1 + i % 28)}
        _spend(mali, voucher=f"V-{i:03d}", amount=Money(THOUSAND_EUR_IN_XOF + i, "XOF"), **row)
        made.append(row)
    url = _url(Expenditure, "changelist")

    with django_assert_max_num_queries(15):
        response = admin_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 50
    assert "655,957 XOF" in response.text and "1,000.00 EUR" in response.text

    # The budget line filter offers lines only, never a heading.
    line_filter = next(spec for spec in response.context["cl"].filter_specs
                       if getattr(spec, "field_path", None) == "budget_line")
    offered = {pk for pk, _label in line_filter.lookup_choices}
    assert mali["1.1"].pk in offered and mali["heading"].pk not in offered

    expected = [row for row in made if row["partner"] == "BNCE" and row["line"] == "1.1"
                and row["location"] == "BKO" and date(2016, 1, 1) <= row["day"] < date(2016, 7, 1)]
    assert expected, "the sample should have rows in this cell"
    filters = {
        "grant__id__exact": mali["grant"].pk, "partner__id__exact": mali["BNCE"].pk,
        "budget_line__id__exact": mali["1.1"].pk, "location__id__exact": mali["BKO"].pk,
        "status__exact": "validated", "amount_currency__exact": "XOF",
        "date__gte": "2016-01-01", "date__lt": "2016-07-01",
    }
    with django_assert_max_num_queries(15):
        response = admin_client.get(url, filters)
    assert response.status_code == 200
    assert response.context["cl"].result_count == len(expected)

    in_march = sum(1 for row in made if row["day"].month == 3)
    response = admin_client.get(url, {"date__year": 2016, "date__month": 3})
    assert response.context["cl"].result_count == in_march

    in_prevention = sum(1 for row in made if row["line"] in ("1.1", "1.2"))
    response = admin_client.get(url, {"budget_line__parent__id__exact": mali["heading"].pk})
    assert response.context["cl"].result_count == in_prevention

    with django_assert_max_num_queries(15):
        response = admin_client.get(url, {"q": "V-007"})
    assert [exp.voucher for exp in response.context["cl"].result_list] == ["V-007"]


# --- adding and changing an expenditure goes through the service ----------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        # A heading is not even offered (issue 14): posted all the same, it is not a valid choice.
        ({"budget_line": "heading"}, "budget_line", "valid choice"),
        ({"amount_0": "1000.5"}, "amount", "XOF"),
        ({"date": "2019-01-15"}, "date", "outside the grant"),
    ],
)
def test_an_expenditure_the_services_refuse_shows_a_form_error_and_writes_nothing(
        admin_client, mali, overrides, field, words):
    overrides = {key: mali[value].pk if value in mali else value for key, value in overrides.items()}

    response = admin_client.post(_url(Expenditure, "add"), _expenditure_post(mali, **overrides))

    assert response.status_code == 200  # the form again, not a redirect
    errors = response.context["adminform"].form.errors
    assert words in " ".join(errors.get(field, [])), errors
    assert not Expenditure.objects.exists()
    assert not Expenditure.history.exists()


def test_an_expenditure_in_a_locked_quarter_or_with_a_used_voucher_is_refused_on_the_form(admin_client, mali):
    _spend(mali, voucher="BNCE-2016-001", day=date(2016, 5, 2))
    _lock(mali, "BNCE", 2016, 1)

    locked = admin_client.post(_url(Expenditure, "add"), _expenditure_post(mali, voucher="NEW-1"))
    reused = admin_client.post(_url(Expenditure, "add"), _expenditure_post(mali, date="2016-05-03"))

    assert "locked" in " ".join(locked.context["adminform"].form.errors["date"])
    assert "already used voucher" in " ".join(reused.context["adminform"].form.errors["voucher"])
    assert Expenditure.objects.count() == 1


def test_a_valid_expenditure_is_recorded_with_its_eur_value_and_who_entered_it(admin_client, admin_user, mali):
    response = admin_client.post(_url(Expenditure, "add"), _expenditure_post(mali))

    assert response.status_code == 302
    expenditure = Expenditure.objects.get()
    assert expenditure.amount == Money(THOUSAND_EUR_IN_XOF, "XOF")
    assert expenditure.amount_eur == Decimal("1000.00")
    assert expenditure.fx_rate == Decimal("655.957000")
    assert expenditure.fx_method == "parity"
    assert expenditure.entered_by == admin_user
    assert expenditure.history.get().history_user == admin_user


def test_changing_an_expenditure_recomputes_its_eur_value_and_cannot_move_it_into_a_locked_quarter(
        admin_client, mali):
    expenditure = _spend(mali, day=date(2016, 5, 2))
    _lock(mali, "BNCE", 2016, 1)
    url = _url(Expenditure, "change", expenditure.pk)
    data = _form_data(admin_client.get(url))
    assert "amount_eur" not in data and "grant" not in data and "partner" not in data  # read-only

    # 327,979 XOF / 655.957 = 500.00076... -> 500.00 EUR
    response = admin_client.post(url, {**data, "amount_0": "327979"})
    assert response.status_code == 302
    expenditure.refresh_from_db()
    assert expenditure.amount_eur == Decimal("500.00")

    response = admin_client.post(url, {**data, "date": "2016-02-01"})
    assert response.status_code == 200
    assert "locked" in " ".join(response.context["adminform"].form.errors["date"])
    expenditure.refresh_from_db()
    assert expenditure.date == date(2016, 5, 2)


# --- locks ----------------------------------------------------------------------------------


def test_an_expenditure_in_a_locked_quarter_is_read_only_and_cannot_be_deleted(admin_client, mali):
    locked = _spend(mali, voucher="LOCKED-1", day=date(2016, 2, 10))
    open_one = _spend(mali, voucher="OPEN-1", day=date(2016, 4, 10))
    _lock(mali, "BNCE", 2016, 1)
    url = _url(Expenditure, "change", locked.pk)

    response = admin_client.get(url)
    assert response.status_code == 200
    assert response.context["adminform"].form.fields == {}  # nothing editable
    readonly = set(response.context["adminform"].readonly_fields)
    assert {"date", "amount", "voucher", "budget_line", "location", "status", "amount_eur"} <= readonly
    assert response.context["has_change_permission"] is False
    assert response.context["has_delete_permission"] is False

    assert admin_client.post(url, {"voucher": "CHANGED"}).status_code == 403
    assert admin_client.get(_url(Expenditure, "delete", locked.pk)).status_code == 403
    assert admin_client.post(_url(Expenditure, "delete", locked.pk), {"post": "yes"}).status_code == 403

    # In bulk, the locked one makes the whole deletion refused.
    response = admin_client.post(_url(Expenditure, "changelist"), {
        "action": "delete_selected", "_selected_action": [locked.pk, open_one.pk], "post": "yes",
    })
    assert response.status_code == 200
    assert "locked" in response.text
    assert Expenditure.objects.filter(pk__in=[locked.pk, open_one.pk]).count() == 2
    locked.refresh_from_db()
    assert locked.voucher == "LOCKED-1"

    # An open one is deleted, through the service.
    response = admin_client.post(_url(Expenditure, "delete", open_one.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Expenditure.objects.filter(pk=open_one.pk).exists()


def test_an_accepted_statement_is_read_only_and_cannot_be_deleted(admin_client, mali):
    accepted = _lock(mali, "BNCE", 2016, 1)
    url = _url(QuarterlyStatement, "change", accepted.pk)

    response = admin_client.get(url)
    assert response.status_code == 200
    assert response.context["adminform"].form.fields == {}
    assert admin_client.post(url, {"year": 2017}).status_code == 403
    assert admin_client.post(_url(QuarterlyStatement, "delete", accepted.pk), {"post": "yes"}).status_code == 403
    accepted.refresh_from_db()
    assert accepted.status == StatementStatus.ACCEPTED and accepted.year == 2016


def test_history_can_be_read_but_not_reverted(admin_client, mali):
    expenditure = _spend(mali, day=date(2016, 5, 2))
    record = expenditure.history.get()

    url = reverse("admin:expenditures_expenditure_simple_history", args=(expenditure.pk, record.history_id))
    assert admin_client.get(_url(Expenditure, "history", expenditure.pk)).status_code == 200
    assert admin_client.get(url).status_code == 200
    assert admin_client.post(url, {"voucher": "REVERTED"}).status_code == 403


# --- budget versions ------------------------------------------------------------------------


def test_an_approved_versions_allocations_are_read_only(admin_client, mali):
    current = BudgetVersion.objects.get(grant=mali["grant"], is_current=True)
    url = _url(BudgetVersion, "change", current.pk)

    response = admin_client.get(url)

    assert response.status_code == 200
    [inline] = response.context["inline_admin_formsets"]  # no "new allocations" rows either
    assert not inline.has_add_permission
    assert not inline.has_change_permission
    assert not inline.has_delete_permission
    assert len(inline.formset.forms) == Allocation.objects.filter(version=current).count()
    assert "amount" not in inline.formset.forms[0].fields
    assert admin_client.post(url, {"label": "changed"}).status_code == 403
    allocation = Allocation.objects.filter(version=current).first()
    assert admin_client.post(_url(Allocation, "change", allocation.pk), {}).status_code == 403
    assert admin_client.post(_url(Allocation, "delete", allocation.pk), {"post": "yes"}).status_code == 403
    assert admin_client.post(_url(BudgetVersion, "delete", current.pk), {"post": "yes"}).status_code == 403


def test_a_draft_is_opened_reallocated_and_approved_through_the_admin(admin_client, mali):
    grant = mali["grant"]
    first = BudgetVersion.objects.get(grant=grant, is_current=True)

    response = admin_client.post(_url(BudgetVersion, "add"), {"grant": grant.pk, "label": "revision 1",
                                                               "reason": "Mid-term review"})
    assert response.status_code == 302
    draft = BudgetVersion.objects.get(grant=grant, status=VersionStatus.DRAFT)
    assert draft.allocations.count() == first.allocations.count()

    again = admin_client.post(_url(BudgetVersion, "add"), {"grant": grant.pk, "label": "another"})
    assert "already has a draft" in " ".join(again.context["adminform"].form.non_field_errors())

    url = _url(BudgetVersion, "change", draft.pk)
    response = admin_client.get(url)
    existing, new = response.context["inline_admin_formsets"]
    assert existing.has_change_permission and existing.has_delete_permission and new.has_add_permission
    data = _form_data(response)
    rows = existing.formset.forms
    giver, taker = rows[0].instance, rows[1].instance
    prefix = existing.formset.prefix
    data[f"{prefix}-0-amount"] = str(giver.amount.amount - Decimal("100.00"))
    data[f"{prefix}-1-amount"] = str(taker.amount.amount + Decimal("100.00"))

    # A new cell on a heading is refused (not offered, not a valid choice), and nothing is written.
    new_prefix = new.formset.prefix
    on_heading = {f"{new_prefix}-0-budget_line": mali["heading"].pk, f"{new_prefix}-0-partner": mali["BNCE"].pk,
                  f"{new_prefix}-0-location": mali["BKO"].pk, f"{new_prefix}-0-year": "1",
                  f"{new_prefix}-0-amount": "10.00"}
    response = admin_client.post(url, {**data, **on_heading})
    assert response.status_code == 200
    assert "budget_line" in str(response.context["inline_admin_formsets"][1].formset.errors)
    giver.refresh_from_db()
    assert giver.amount == rows[0].instance.amount

    response = admin_client.post(url, data)
    assert response.status_code == 302
    before = {a.pk: a.amount.amount for a in (giver, taker)}
    giver.refresh_from_db()
    taker.refresh_from_db()
    assert giver.amount.amount == before[giver.pk] - Decimal("100.00")
    assert taker.amount.amount == before[taker.pk] + Decimal("100.00")

    response = admin_client.post(_url(BudgetVersion, "changelist"),
                                 {"action": "approve", "_selected_action": [draft.pk]}, follow=True)
    assert response.status_code == 200
    draft.refresh_from_db()
    first.refresh_from_db()
    assert (draft.status, draft.is_current) == (VersionStatus.APPROVED, True)
    assert first.status == VersionStatus.SUPERSEDED


# --- transfers ------------------------------------------------------------------------------


def test_a_transfer_is_recorded_through_the_service(admin_client, admin_user, mali):
    data = {
        "grant": mali["grant"].pk, "partner": mali["BNCE"].pk, "sent_on": "2016-01-05",
        "received_on": "2016-01-02", "amount_sent_0": "1000.00", "amount_sent_1": "EUR",
        "amount_received_0": "655000", "amount_received_1": "XOF", "fees_0": "0", "fees_1": "EUR",
        "reference": "TR-1", "note": "",
    }
    response = admin_client.post(_url(FundTransfer, "add"), data)
    assert response.status_code == 200
    assert "received on or after" in " ".join(response.context["adminform"].form.errors["received_on"])
    assert not FundTransfer.objects.exists()

    response = admin_client.post(_url(FundTransfer, "add"), {**data, "received_on": "2016-01-08"})
    assert response.status_code == 302
    transfer = FundTransfer.objects.get()
    assert transfer.entered_by == admin_user
    assert transfer.rate == Decimal("655.000000")

    listing = admin_client.get(_url(FundTransfer, "changelist"))
    assert "1,000.00 EUR" in listing.text and "655,000 XOF" in listing.text


# --- statements -----------------------------------------------------------------------------


def test_a_statement_is_drafted_submitted_and_accepted_through_the_admin(admin_client, admin_user, mali):
    transfer_record(grant=mali["grant"], partner=mali["BNCE"], sent_on=date(2016, 7, 1),
                    received_on=date(2016, 7, 5), amount_sent=Money("10000.00", "EUR"),
                    amount_received=Money("6500000", "XOF"))
    balances = {"opening_balance": "0", "funds_received": "6500000", "closing_balance": "6000000",
                "cash_on_hand": "1000000", "bank_balance": "5000000"}
    line = {"date": "2016-08-01", "budget_line": "2.1", "location": "SEG", "amount": "500000",
            "amount_currency": "XOF", "voucher": "B-1", "description": "Rent of the shelter"}
    data = {"grant": mali["grant"].pk, "partner": mali["BNCE"].pk, "year": "2016", "quarter": "3",
            **{f"{name}_0": value for name, value in balances.items()},
            **{f"{name}_1": "XOF" for name in balances},
            "lines": json.dumps([line]), "explanations": "{}", "status": "accepted"}

    assert admin_client.post(_url(QuarterlyStatement, "add"), data).status_code == 302
    statement = QuarterlyStatement.objects.get()
    assert statement.status == StatementStatus.DRAFT  # the workflow, not the form, sets the status
    again = admin_client.post(_url(QuarterlyStatement, "add"), data)
    assert "already has a statement" in " ".join(again.context["adminform"].form.non_field_errors())

    changelist = _url(QuarterlyStatement, "changelist")
    admin_client.post(changelist, {"action": "submit", "_selected_action": [statement.pk]})
    statement.refresh_from_db()
    assert statement.status == StatementStatus.SUBMITTED
    assert Expenditure.objects.get(statement=statement).amount_eur == Decimal("762.25")  # 500,000 / 655.957

    response = admin_client.post(changelist, {"action": "return_to_partner", "_selected_action": [statement.pk],
                                              "comment": ""}, follow=True)
    assert "Say why" in response.text
    admin_client.post(changelist, {"action": "accept", "_selected_action": [statement.pk], "comment": "Fine."})
    statement.refresh_from_db()
    assert (statement.status, statement.reviewed_by, statement.review_comment) == (
        StatementStatus.ACCEPTED, admin_user, "Fine.")
    assert admin_client.post(_url(QuarterlyStatement, "change", statement.pk), data).status_code == 403


# --- grants and rates -----------------------------------------------------------------------


def test_a_grants_donor_shares_must_add_up_to_100(admin_client, mali):
    url = _url(Grant, "change", mali["grant"].pk)
    data = _form_data(admin_client.get(url))
    shares = sorted(key for key in data if key.endswith("-share_pct"))
    assert len(shares) == 2

    response = admin_client.post(url, {**data, shares[0]: "60.00"})

    assert response.status_code == 200
    assert "not 100 %" in str(response.context["inline_admin_formsets"][0].formset.non_form_errors())
    assert sorted(GrantDonor.objects.values_list("share_pct", flat=True)) == [Decimal("25.00"), Decimal("75.00")]

    response = admin_client.post(url, {**data, "end_date": "2015-01-01"})
    assert "starts before it ends" in " ".join(response.context["adminform"].form.errors["end_date"])


def test_the_parity_is_read_only(admin_client, grant):
    parity = ExchangeRate.objects.get(currency="XOF", month__isnull=True)

    assert admin_client.post(_url(ExchangeRate, "change", parity.pk), {"rate": "600"}).status_code == 403
    assert admin_client.post(_url(ExchangeRate, "delete", parity.pk), {"post": "yes"}).status_code == 403
    parity.refresh_from_db()
    assert parity.rate == Decimal("655.957000")


# --- day-first dates and the decimal comma (issue 14) ---------------------------------------


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize(("typed", "stored"), [
    ("05/06/2016", date(2016, 6, 5)),  # day first, in English too
    ("2016-06-05", date(2016, 6, 5)),  # ISO
    ("05.06.2016", date(2016, 6, 5)),
])
def test_a_date_is_read_day_first_in_every_language(admin_client, mali, lang, typed, stored):
    admin_client.cookies["django_language"] = lang

    response = admin_client.post(_url(Expenditure, "add"), _expenditure_post(mali, date=typed))

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Expenditure.objects.get().date == stored


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_month_first_date_is_refused(admin_client, mali, lang):
    admin_client.cookies["django_language"] = lang

    response = admin_client.post(_url(Expenditure, "add"), _expenditure_post(mali, date="06/13/2016"))

    assert "date" in response.context["adminform"].form.errors
    assert not Expenditure.objects.exists()


def test_the_date_field_and_the_calendar_offer_the_day_first_format(admin_client, mali):
    expenditure = _spend(mali, day=date(2016, 6, 5))

    page = admin_client.get(_url(Expenditure, "change", expenditure.pk))
    formats = admin_client.get(reverse("admin:jsi18n"))

    assert 'value="05/06/2016"' in page.text
    assert '"%d/%m/%Y"' in formats.text.split('"DATE_INPUT_FORMATS"')[1].split("]")[0]


@pytest.mark.parametrize(("lang", "typed", "ok"), [
    ("fr", "7000,5", True), ("fr", "7000.5", True), ("en", "7000.5", True), ("en", "7000,5", False)])
def test_the_decimal_separator_is_the_languages(admin_client, mali, lang, typed, ok):
    admin_client.cookies["django_language"] = lang

    response = admin_client.post(_url(Expenditure, "add"), _expenditure_post(mali, amount_0=typed, amount_1="EUR"))

    if ok:
        assert response.status_code == 302, response.context["adminform"].form.errors
        assert Expenditure.objects.get().amount == Money("7000.50", "EUR")
    else:
        assert "amount" in response.context["adminform"].form.errors
        assert not Expenditure.objects.exists()


def test_a_french_form_shows_its_amount_with_the_decimal_comma(admin_client, mali):
    expenditure = _spend(mali, amount=Money("7000.50", "EUR"))
    admin_client.cookies["django_language"] = "fr"

    page = admin_client.get(_url(Expenditure, "change", expenditure.pk))

    assert 'value="7000,50"' in page.text


# --- the statement review page (issue 14) ---------------------------------------------------


def _submitted_statement(mali, *, explanation: str = "") -> QuarterlyStatement:
    from expenditures.statements import statement_create, statement_submit

    transfer_record(grant=mali["grant"], partner=mali["BNCE"], sent_on=date(2016, 7, 1),
                    received_on=date(2016, 7, 5), amount_sent=Money("10000.00", "EUR"),
                    amount_received=Money("6500000", "XOF"))
    line = {"date": "2016-08-01", "budget_line": "2.1", "location": "SEG", "amount": "500000",
            "amount_currency": "XOF", "voucher": "B-1", "description": "Rent of the shelter"}
    statement = statement_create(
        grant=mali["grant"], partner=mali["BNCE"], period="2016-Q3", lines=[line],
        explanations={"2.1": explanation} if explanation else {},
        opening_balance=Money("0", "XOF"), funds_received=Money("6500000", "XOF"),
        closing_balance=Money("6000000", "XOF"), cash_on_hand=Money("1000000", "XOF"),
        bank_balance=Money("5000000", "XOF"))
    return statement_submit(statement=statement)


def test_the_statement_page_shows_its_lines_as_a_table_with_their_budget_figures(admin_client, mali):
    statement = _submitted_statement(mali, explanation="Rent paid for the year")
    admin_client.cookies["django_language"] = "fr"

    page = admin_client.get(_url(QuarterlyStatement, "change", statement.pk))

    review = page.context["review"]
    row = review["rows"][0]
    assert row["label"] == mali["2.1"].label_fr
    assert row["amount"] == "500,000 XOF"
    assert row["eur"] == "762.25 EUR"  # 500,000 / 655.957, the stored row's
    assert row["explanation"] == "Rent paid for the year"
    assert review["totals"] == ["500,000 XOF"]
    figure = review["by_line"][0]
    assert (figure["spent_before"], figure["this_quarter"]) == ("0.00 EUR", "762.25 EUR")
    budget = sum(a.amount.amount for a in Allocation.objects.filter(
        version__is_current=True, partner=mali["BNCE"], budget_line=mali["2.1"]))
    assert figure["remaining"] == money_text(budget - Decimal("762.25"), "EUR")
    assert "solde de clôture" in page.text.lower()  # the admin in French
    assert "6,000,000 XOF" in page.text and "F CFA" not in page.text
    assert "statement__id__exact" in review["expenditures_url"]
    assert admin_client.get(review["expenditures_url"]).context["cl"].result_count == 1
    assert review["reconciliation_url"] == "/api/v1/grants/ML-ESEC-2015/reconciliation/?partner=BNCE"
    assert 'id="statement-lines"' in page.text


def test_a_statement_is_accepted_or_returned_from_its_page(admin_client, admin_user, mali):
    statement = _submitted_statement(mali)
    review = reverse("admin:expenditures_quarterlystatement_review", args=[statement.pk])

    refused = admin_client.post(review, {"step": "return", "comment": ""}, follow=True)
    statement.refresh_from_db()
    assert statement.status == StatementStatus.SUBMITTED
    assert "Say why" in refused.text

    admin_client.post(review, {"step": "accept", "comment": "Fine."})
    statement.refresh_from_db()
    assert (statement.status, statement.reviewed_by, statement.review_comment) == (
        StatementStatus.ACCEPTED, admin_user, "Fine.")
    page = admin_client.get(_url(QuarterlyStatement, "change", statement.pk))
    assert page.context["review"]["steps"] == []


# --- lists that fit and add up, choosers that offer lines (issue 14) -------------------------


def test_the_expenditure_list_adds_up_its_filtered_rows_by_currency_and_in_eur(admin_client, mali):
    _spend(mali, voucher="V-1", amount=Money("655957", "XOF"))  # 1,000.00 EUR
    _spend(mali, voucher="V-2", amount=Money("1", "XOF"))  # 0.00152... EUR, stored 0.00
    _spend(mali, voucher="V-3", amount=Money("10.05", "EUR"))
    _spend(mali, partner="CARITAS", line="2.1", voucher="C-1", amount=Money("655957", "XOF"))

    everything = admin_client.get(_url(Expenditure, "changelist"))
    bnce = admin_client.get(_url(Expenditure, "changelist"), {"partner__id__exact": mali["BNCE"].pk})

    stored_eur = sum(e.amount_eur for e in Expenditure.objects.filter(partner=mali["BNCE"]))
    assert bnce.context["totals"] == {"by_currency": ["10.05 EUR", "655,958 XOF"],
                                      "eur": money_text(stored_eur, "EUR"), "count": 3}
    assert everything.context["totals"]["by_currency"] == ["10.05 EUR", "1,311,915 XOF"]
    assert 'id="expenditure-totals"' in bnce.text


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_date_filters_are_typed_day_first_and_the_totals_follow_them(admin_client, mali, lang):
    # Given spending on 5 June and 6 May 2016 (05/06 and 06/05 written day first)
    _spend(mali, voucher="JUNE-5", day=date(2016, 6, 5), amount=Money("1000", "XOF"))
    _spend(mali, voucher="MAY-6", day=date(2016, 5, 6), amount=Money("2000", "XOF"))
    admin_client.cookies["django_language"] = lang

    # When finance types 05/06/2016 in both ends of the date filter
    page = admin_client.get(_url(Expenditure, "changelist"),
                            {"date__range__gte": "05/06/2016", "date__range__lte": "05/06/2016"})

    # Then only 5 June's row is listed and added up
    assert [e.voucher for e in page.context["cl"].queryset] == ["JUNE-5"]
    assert page.context["totals"]["count"] == 1
    assert 'name="date__range__gte"' in page.text

    # ISO is still accepted, and a range takes both days
    both = admin_client.get(_url(Expenditure, "changelist"),
                            {"date__range__gte": "2016-05-06", "date__range__lte": "05/06/2016"})
    assert sorted(e.voucher for e in both.context["cl"].queryset) == ["JUNE-5", "MAY-6"]


def test_transfer_and_rate_lists_filter_by_typed_dates(admin_client, mali):
    for model, field in ((FundTransfer, "sent_on"), (ExchangeRate, "month")):
        page = admin_client.get(_url(model, "changelist"),
                                {f"{field}__range__gte": "01/02/2016", f"{field}__range__lte": "29/02/2016"})
        assert page.status_code == 200, model
        assert f'name="{field}__range__gte"' in page.text


def test_the_expenditure_list_shows_codes_not_long_names(admin_client, mali):
    _spend(mali)

    page = admin_client.get(_url(Expenditure, "changelist"))

    assert "<td class=\"field-partner_code\">BNCE</td>" in page.text
    assert mali["BNCE"].name not in page.text.split('id="result_list"')[1].split("</table>")[0]


def test_budget_line_choosers_offer_lines_only_labelled_in_the_admins_language(admin_client, mali):
    admin_client.cookies["django_language"] = "fr"

    form = admin_client.get(_url(Expenditure, "add")).context["adminform"].form
    choices = dict((str(value), label) for value, label in form.fields["budget_line"].choices if value)

    assert str(mali["heading"].pk) not in choices
    assert choices[str(mali["2.1"].pk)] == f"2.1 {mali['2.1'].label_fr}"
    assert all(line.parent_id for line in form.fields["budget_line"].queryset)


def test_the_only_grant_is_preselected_on_add_forms(admin_client, mali):
    for model in (Expenditure, FundTransfer, QuarterlyStatement, BudgetVersion):
        form = admin_client.get(_url(model, "add")).context["adminform"].form
        assert form["grant"].value() == mali["grant"].pk, model


def test_every_admin_model_and_field_label_is_marked_for_translation():
    from django.utils.functional import Promise

    models = [model for model in admin.site._registry if model._meta.app_label in ("grants", "budget", "expenditures")]
    assert Grant in models and Partner in models and Expenditure in models
    for model in models:
        assert isinstance(model._meta.verbose_name, Promise), model
        assert isinstance(model._meta.verbose_name_plural, Promise), model
        for field in model._meta.get_fields():
            if field.auto_created or not hasattr(field, "verbose_name") or field.name.endswith("_currency"):
                continue
            assert isinstance(field.verbose_name, Promise), (model, field.name)


def test_the_grant_and_partner_pages_are_labelled_in_french(admin_client, mali):
    admin_client.cookies["django_language"] = "fr"

    grant_page = admin_client.get(_url(Grant, "change", mali["grant"].pk)).text
    partner_page = admin_client.get(_url(Partner, "change", mali["BNCE"].pk)).text

    assert "Modification de subvention" in grant_page and "Date de début" in grant_page
    assert "Méthode de conversion" in grant_page
    assert "Modification de partenaire" in partner_page and "Devise de rapport" in partner_page


def test_the_grant_page_shows_budget_actual_and_variance_by_heading_and_links_the_workbooks(admin_client, mali):
    _spend(mali, voucher="V-1", amount=THOUSAND_EUR)  # 1,000.00 EUR on 1.1, heading 1
    admin_client.cookies["django_language"] = "fr"

    page = admin_client.get(_url(Grant, "change", mali["grant"].pk))

    summary = page.context["summary"]
    heading = next(row for row in summary["rows"] if row["key"] == "1")
    budget = sum(a.amount.amount for a in Allocation.objects.filter(
        version__is_current=True, budget_line__parent=mali["heading"]))
    assert heading["label"] == mali["heading"].label_fr
    assert heading["budget"] == money_text(budget, "EUR")
    assert heading["actual"] == "1,000.00 EUR"
    assert heading["variance"] == money_text(budget - 1000, "EUR")
    assert summary["total"]["budget"] == money_text(mali["grant"].total.amount, "EUR")
    assert summary["workbook_fr"] == "/api/v1/grants/ML-ESEC-2015/reports/variance.xlsx?lang=fr"
    assert 'id="grant-variance"' in page.text and summary["workbook_en"] in page.text


def test_the_line_filter_labels_lines_in_the_admins_language(admin_client, mali):
    admin_client.cookies["django_language"] = "fr"

    page = admin_client.get(_url(Expenditure, "changelist"))

    assert f"2.1 {mali['2.1'].label_fr}" in page.text
