"""The IATI 2.03 export (issue 17): valid against the official schema, refused (409) when it would
fail the IATI Validator's rules, every amount equal to the ledger's to the cent."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from lxml import etree
from moneyed import Money

from budget.seed import seed_revise
from expenditures.demo_data import demo_data_generate
from expenditures.models import FundTransfer
from grants import services as grant_services
from grants.errors import ApplicationError
from grants.models import Donor, Grant, Partner, Role
from reports.iati import Budget, iati_activity
from reports.iati_rules import iati_violations
from reports.selectors import budget_version_for, report_as_of, report_inputs
from reports.variance import variance
from tests.conftest import client_for, make_user
from tests.factories import DonorFactory, GrantFactory
from tests.test_admin import _form_data

G = "ML-ESEC-2015"
URL = f"/api/v1/grants/{G}/iati.xml"
SCHEMA = Path(settings.BASE_DIR) / "iati" / "schema" / "2.03" / "iati-activities-schema.xsd"


@pytest.fixture(scope="module")
def xsd() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def export(client, code: str = G):
    response = client.get(f"/api/v1/grants/{code}/iati.xml")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def valid_document(client, xsd, code: str = G) -> etree._Element:
    response, body = export(client, code)
    assert response.status_code == 200, body[:2000]
    assert response["Content-Type"].startswith("application/xml")
    document = etree.fromstring(body)
    xsd.assertValid(document)  # fails on the first schema error, naming it
    return document


def activity_of(document) -> etree._Element:
    (activity,) = document.findall("iati-activity")
    return activity


def sums_by_type(activity) -> dict[tuple[str, str], Decimal]:
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for transaction in activity.findall("transaction"):
        value = transaction.find("value")
        sums[(transaction.find("transaction-type").get("code"), value.get("currency"))] += Decimal(value.text)
    return dict(sums)


@pytest.fixture
def spent(grant):
    """The seed project with demo transfers and expenditures, all in the past."""
    demo_data_generate(grant=grant, expenditures=400)
    return grant


# --- the schema -----------------------------------------------------------------------------------

def test_the_seed_project_exports_valid_against_the_xsd_with_its_seed_values(spent, finance, xsd):
    document = valid_document(finance, xsd)
    assert document.get("version") == "2.03"
    activity = activity_of(document)
    assert activity.get("default-currency") == "EUR"
    assert activity.findtext("iati-identifier") == "LU-RCS-F000000-ML-ESEC-2015"
    assert activity.find("reporting-org").get("ref") == "LU-RCS-F000000"
    langs = {n.get("{http://www.w3.org/XML/1998/namespace}lang") for n in activity.find("title")}
    assert langs == {"fr", "en"}
    assert {n.get("{http://www.w3.org/XML/1998/namespace}lang") for n in activity.find("description")} == {"fr", "en"}
    roles = defaultdict(set)
    for org in activity.findall("participating-org"):
        roles[org.get("role")].add(org.findtext("narrative"))
    assert len(roles["1"]) == 2 and "XM-DAC-22-1" in {o.get("ref") for o in activity.findall("participating-org")}
    assert roles["2"] == roles["3"] == {"ECPAT Luxembourg"}
    assert len(roles["4"]) == 3
    assert activity.find("activity-status").get("code") == "4"
    assert {d.get("type") for d in activity.findall("activity-date")} == {"1", "2", "3", "4"}
    assert [c.get("code") for c in activity.findall("recipient-country")] == ["ML"]
    locations = activity.findall("location")
    assert {loc.get("ref") for loc in locations} == {"BKO", "SEG", "SIK", "MOP"}
    assert all(loc.findtext("point/pos") for loc in locations)
    sectors = activity.findall("sector")
    assert sum(Decimal(s.get("percentage")) for s in sectors) == 100
    assert {s.get("code") for s in sectors} == {"15180", "16010", "15160"}
    budgets = activity.findall("budget")
    assert [b.get("type") for b in budgets] == ["1", "1", "1"]  # three project years, no revision yet
    assert budgets[0].find("period-start").get("iso-date") == "2015-07-01"
    assert budgets[0].find("period-end").get("iso-date") == "2016-06-30"
    assert sum(Decimal(b.findtext("value")) for b in budgets) == spent.total.amount


def test_a_grant_with_an_approved_revision_has_revised_budgets_and_validates(grant, finance, xsd):
    seed_revise()
    activity = activity_of(valid_document(finance, xsd))
    kinds = [b.get("type") for b in activity.findall("budget")]
    assert kinds == ["1", "1", "1", "2", "2", "2"]
    by_kind = defaultdict(Decimal)
    for budget in activity.findall("budget"):
        by_kind[budget.get("type")] += Decimal(budget.findtext("value"))
    # a revision moves money between cells, not the total
    assert by_kind["1"] == by_kind["2"] == grant.total.amount
    year3 = [Decimal(b.findtext("value")) for b in activity.findall("budget")][2::3]
    assert year3[0] == year3[1]  # the moves stay inside year 3


def test_an_empty_grant_validates(finance, xsd):
    GrantFactory(code="G-EMPTY", title="Vide", iati_org_ref="LU-RCS-F000001", start_date=date(2020, 1, 1),
                 end_date=date(2020, 12, 31))
    activity = activity_of(valid_document(finance, xsd, "G-EMPTY"))
    assert activity.findtext("iati-identifier") == "LU-RCS-F000001-G-EMPTY"
    assert activity.findall("transaction") == [] and activity.findall("budget") == []


# --- who may read it ------------------------------------------------------------------------------

def test_finance_and_the_grant_donor_read_it_a_partner_and_another_donor_get_404(grant, finance, donor, bnce):
    assert export(finance)[0].status_code == 200
    assert export(donor)[0].status_code == 200
    partner_response, _ = export(bnce)
    missing, _ = export(bnce, "NO-SUCH-GRANT")
    assert partner_response.status_code == missing.status_code == 404
    assert partner_response.json()["errors"][0]["detail"] == f"No grant {G}."
    other = DonorFactory(code="OTHER-DONOR")
    stranger = client_for(make_user("stranger", Role.DONOR_MEMBER, donor=other))
    assert export(stranger)[0].status_code == 404


# --- the ledger's own figures ---------------------------------------------------------------------

def test_every_amount_equals_the_ledger_to_the_cent(spent, finance, xsd):
    activity = activity_of(valid_document(finance, xsd))
    sums = sums_by_type(activity)
    # expenditures (4), summed by partner and month in EUR: the variance report's actual
    as_of = report_as_of(spent, None, today=timezone.localdate())
    report = variance(report_inputs(grant=spent, as_of=as_of, version=budget_version_for(grant=spent)))
    assert sums[("4", "EUR")] == Decimal(report["total"]["actual"]) > 0
    # disbursements (3): the transfers, in the currency sent, each one
    transfers = FundTransfer.objects.filter(grant=spent)
    by_currency = defaultdict(Decimal)
    for transfer in transfers:
        by_currency[str(transfer.amount_sent.currency)] += transfer.amount_sent.amount
    assert {c: v for (t, c), v in sums.items() if t == "3"} == dict(by_currency)
    assert len([t for t in activity.findall("transaction")
                if t.find("transaction-type").get("code") == "3"]) == transfers.count() > 0
    # incoming commitments (11): the donors' shares of the total, adding up to it
    assert sums[("11", "EUR")] == spent.total.amount
    # each partner's expenditures per month: no more than one transaction per partner and month
    keys = [(t.find("provider-org/narrative").text, t.find("transaction-date").get("iso-date")[:7])
            for t in activity.findall("transaction") if t.find("transaction-type").get("code") == "4"]
    assert len(keys) == len(set(keys))


def test_expenditures_are_summed_in_sql_so_queries_do_not_grow_with_rows(spent, finance, django_assert_max_num_queries):
    with django_assert_max_num_queries(30):
        response, _ = export(finance)
    assert response.status_code == 200


# --- the IATI Validator's rules: 409 with each rule's number --------------------------------------

def rules_of(response) -> list[str]:
    assert response.status_code == 409, response
    errors = response.json()["errors"]
    assert {e["code"] for e in errors} == {"iati_rules_failed"}
    assert all(e["detail"].startswith(e["rule"] + ": ") for e in errors)
    return [e["rule"] for e in errors]


def test_an_identifier_not_starting_with_the_reporting_org_is_refused(grant, finance):
    Grant.objects.filter(pk=grant.pk).update(iati_identifier="XM-DAC-22-1-ML-ESEC-2015")
    assert rules_of(export(finance)[0]) == ["1.1.21"]


def test_no_reporting_org_identifier_is_refused(grant, finance):
    Partner.objects.filter(code="ECPAT-LU").update(iati_org_ref="")
    assert rules_of(export(finance)[0]) == ["1.1.21"]


def test_sector_percentages_not_adding_to_100_are_refused(grant, finance):
    # written past the service (which refuses it): the export still checks
    Grant.objects.filter(pk=grant.pk).update(dac_sectors=[{"code": "15180", "percentage": "60"},
                                                          {"code": "15160", "percentage": "30"}])
    assert rules_of(export(finance)[0]) == ["2.1.2"]


def test_no_sector_on_the_activity_nor_its_transactions_is_refused(grant, finance):
    Grant.objects.filter(pk=grant.pk).update(dac_sectors=[])
    assert rules_of(export(finance)[0]) == ["6.2.2"]


def test_future_transactions_and_actual_dates_are_refused(spent, finance, monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: date(2016, 1, 15))
    rules = rules_of(export(finance)[0])
    # closed (status 4) with an actual end of 2018-06-30, transfers and spending after the 15th
    assert {"11.1.4", "11.2.1", "11.2.2"} == set(rules)
    assert rules.count("11.2.1") == rules.count("11.2.2") > 1


def test_an_actual_start_in_the_future_is_refused(grant, finance, monkeypatch):
    Grant.objects.filter(pk=grant.pk).update(iati_activity_status=2)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: date(2015, 6, 1))
    # the donors' commitments are dated at the start too
    assert set(rules_of(export(finance)[0])) == {"11.1.3", "11.2.1", "11.2.2"}


def test_the_rules_no_grant_can_reach_through_the_services_on_a_crafted_activity(spent):
    activity = iati_activity(spent)
    assert iati_violations(activity, today=date(2026, 1, 1)) == []
    first = activity.budgets[0]
    activity.budgets = [
        dataclasses.replace(first, value_date=None),  # 7.5.2
        dataclasses.replace(first, value_date=date(2030, 1, 1)),  # 7.5.2, outside its period
        dataclasses.replace(first, period_end=date(2016, 7, 1)),  # 7.5.3: a year and a day
        Budget(type="1", year=1, period_start=first.period_start, period_end=first.period_end,
               value_date=first.period_start, value=Decimal("1.00"), currency=""),  # 7.8.1
    ]
    activity.dates = [("1", date(2018, 6, 30)), ("2", date(2018, 6, 30)), ("3", date(2015, 7, 1)),
                      ("4", date(2015, 7, 1))]  # 11.1.1, 11.1.2
    rules = [v.rule for v in iati_violations(activity, today=date(2026, 1, 1))]
    assert rules == ["7.5.2", "7.5.2", "7.5.3", "7.8.1", "11.1.1", "11.1.2"]


def test_the_409_is_documented_with_its_rule(finance):
    schema = finance.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/grants/{code}/iati.xml"]["get"]
    assert set(operation["responses"]) >= {"200", "404", "409"}
    assert "application/xml" in operation["responses"]["200"]["content"]
    assert operation["tags"] == ["reports"]
    error = schema["components"]["schemas"]["Conflict409ErrorComponent"]
    assert "iati_rules_failed" in error["properties"]["code"]["enum"] and "rule" in error["properties"]


# --- the fields, set by a finance officer ---------------------------------------------------------

def test_the_api_sets_the_grant_iati_fields_and_refuses_bad_ones(grant, finance):
    body = {"dac_sectors": [{"code": "15180", "percentage": "50"}, {"code": "16010", "percentage": "50.00"}],
            "iati_activity_status": 2, "iati_org_ref": "LU-RCS-F123456", "title_en": "Breaking the silence"}
    response = finance.patch(f"/api/v1/grants/{G}/", body, format="json")
    assert response.status_code == 200, response.json()
    grant.refresh_from_db()
    assert grant.dac_sectors == [{"code": "15180", "percentage": "50.00"}, {"code": "16010", "percentage": "50.00"}]
    assert (grant.iati_activity_status, grant.iati_org_ref) == (2, "LU-RCS-F123456")
    assert response.json()["dac_sectors"][0] == {"code": "15180", "percentage": "50.00"}
    bad = finance.patch(f"/api/v1/grants/{G}/", {"dac_sectors": [{"code": "15180", "percentage": "90"}]},
                        format="json")
    assert bad.status_code == 400
    assert (bad.json()["errors"][0]["code"], bad.json()["errors"][0]["attr"]) == ("invalid_sectors", "dac_sectors")
    bad = finance.patch(f"/api/v1/grants/{G}/", {"iati_org_ref": "ECPAT Luxembourg"}, format="json")
    assert (bad.status_code, bad.json()["errors"][0]["attr"]) == (400, "iati_org_ref")
    bad = finance.patch(f"/api/v1/grants/{G}/", {"iati_activity_status": 7}, format="json")
    assert (bad.status_code, bad.json()["errors"][0]["attr"]) == (400, "iati_activity_status")


def test_the_api_sets_partner_and_donor_identifiers(grant, finance):
    response = finance.patch("/api/v1/partners/BNCE/", {"iati_org_ref": "ML-RCCM-123", "iati_org_type": "24"},
                             format="json")
    assert response.status_code == 200, response.json()
    assert Partner.objects.get(code="BNCE").iati_org_ref == "ML-RCCM-123"
    bad = finance.patch("/api/v1/donors/MAEE-LU/", {"iati_org_ref": "22-1"}, format="json")
    assert (bad.status_code, bad.json()["errors"][0]["attr"]) == (400, "iati_org_ref")
    assert Donor.objects.get(code="MAEE-LU").iati_org_ref == "XM-DAC-22-1"


def test_the_service_refuses_bad_values_with_field_errors(grant, finance_user):
    cases = [
        ({"dac_sectors": [{"code": "1518", "percentage": "100"}]}, "dac_sectors"),
        ({"dac_sectors": [{"code": "15180", "percentage": "50"}, {"code": "15180", "percentage": "50"}]},
         "dac_sectors"),
        ({"dac_sectors": [{"code": "15180", "percentage": "100.001"}]}, "dac_sectors"),
        ({"iati_activity_status": 0}, "iati_activity_status"),
        ({"iati_org_ref": "lu-rcs-1"}, "iati_org_ref"),
        ({"iati_identifier": "LU-RCS-F000000 ML"}, "iati_identifier"),
    ]
    for fields, attr in cases:
        with pytest.raises(ApplicationError) as caught:
            grant_services.grant_update(grant=Grant.objects.get(pk=grant.pk), by=finance_user, **fields)
        assert caught.value.attr == attr, fields
    created = grant_services.grant_create(
        code="G-IATI", title="t", total=Money(Decimal("10.00"), "EUR"), start_date=date(2020, 1, 1),
        end_date=date(2020, 12, 31), by=finance_user, dac_sectors=[{"code": "15160", "percentage": Decimal("100")}])
    assert created.dac_sectors == [{"code": "15160", "percentage": "100"}]


def test_the_admin_sets_the_grant_iati_fields(grant, admin_client):
    url = reverse("admin:grants_grant_change", args=[grant.pk])
    data = {**_form_data(admin_client.get(url)), "iati_activity_status": "3",
            "dac_sectors": '[{"code": "15180", "percentage": "100"}]'}
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    grant.refresh_from_db()
    assert (grant.iati_activity_status, grant.dac_sectors) == (3, [{"code": "15180", "percentage": "100"}])
    data["dac_sectors"] = '[{"code": "15180", "percentage": "10"}]'
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "not 100" in response.content.decode(), (response.context["adminform"].form.errors, data)


def test_the_admin_sets_a_donor_identifier(grant, admin_client):
    donor = Donor.objects.get(code="MAEE-LU")
    url = reverse("admin:grants_donor_change", args=[donor.pk])
    data = {**_form_data(admin_client.get(url)), "iati_org_ref": "XM-DAC-22-2"}
    assert admin_client.post(url, data).status_code == 302
    donor.refresh_from_db()
    assert donor.iati_org_ref == "XM-DAC-22-2"


def test_the_seed_loader_fills_iati_values_once_and_keeps_what_finance_set(grant):
    from budget.seed import seed_load

    Grant.objects.filter(pk=grant.pk).update(iati_activity_status=2)
    seed_load()
    grant.refresh_from_db()
    assert grant.iati_activity_status == 2  # not overwritten
    assert Donor.objects.get(code="MAEE-LU").iati_org_type == "10"
    assert Partner.objects.filter(kind="implementing").exclude(iati_org_type="24").count() == 0
    assert FundTransfer.objects.aggregate(n=Sum("id"))["n"] is None  # the seed moves no money


def test_the_document_is_written_in_chunks_that_make_the_whole(spent, xsd):
    from reports.iati import iati_xml_chunks

    activity = iati_activity(spent)
    chunks = list(iati_xml_chunks(activity, chunk_bytes=4096))
    assert len(chunks) > 5 and all(chunks[:-1])
    xsd.assertValid(etree.fromstring(b"".join(chunks)))


# --- donors' payments: the incoming funds ---------------------------------------------------------

def test_donor_payments_are_the_incoming_funds_to_the_cent(spent, finance, finance_user, xsd):
    ministry, own = Donor.objects.get(code="MAEE-LU"), Donor.objects.get(code="ECPAT-LU-OWN")
    paid = [(ministry, date(2015, 7, 20), "250000.00"), (ministry, date(2016, 8, 1), "250000.10"),
            (own, date(2015, 9, 1), "80000.00")]
    for donor, day, amount in paid:
        grant_services.donor_payment_record(grant=spent, donor=donor, received_on=day,
                                            amount=Money(Decimal(amount), "EUR"), reference=f"V-{day}", by=finance_user)
    activity = activity_of(valid_document(finance, xsd))
    assert sums_by_type(activity)[("1", "EUR")] == Decimal("580000.10")
    funds = [t for t in activity.findall("transaction") if t.find("transaction-type").get("code") == "1"]
    assert [(t.find("provider-org").get("ref"), t.find("transaction-date").get("iso-date")) for t in funds] == [
        ("XM-DAC-22-1", "2015-07-20"), ("LU-RCS-F000000", "2015-09-01"), ("XM-DAC-22-1", "2016-08-01")]


def test_a_donor_payment_is_refused_from_a_stranger_in_another_currency_or_not_positive(grant, finance_user):
    stranger = DonorFactory(code="STRANGER")
    ministry = Donor.objects.get(code="MAEE-LU")
    cases = [
        (dict(donor=stranger, amount=Money(Decimal("10.00"), "EUR")), "unknown_donor", "donor"),
        (dict(donor=ministry, amount=Money(Decimal("10"), "XOF")), "currency_not_allowed", "amount_currency"),
        (dict(donor=ministry, amount=Money(Decimal("0.00"), "EUR")), None, "amount"),
        (dict(donor=ministry, amount=Money(Decimal("-5.00"), "EUR")), None, "amount"),
    ]
    for fields, code, attr in cases:
        with pytest.raises(ApplicationError) as caught:
            grant_services.donor_payment_record(grant=grant, received_on=date(2016, 1, 1), by=finance_user, **fields)
        assert caught.value.attr == attr and (code is None or caught.value.code == code), fields


def test_a_donor_payment_in_the_future_is_refused_by_the_export(grant, finance, finance_user, monkeypatch):
    grant_services.donor_payment_record(grant=grant, donor=Donor.objects.get(code="MAEE-LU"),
                                        received_on=date(2017, 1, 10), amount=Money(Decimal("1.00"), "EUR"),
                                        by=finance_user)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: date(2017, 1, 9))
    rules = rules_of(export(finance)[0])
    assert {"11.2.1", "11.2.2", "11.1.4"} == set(rules)


def test_the_admin_records_a_donor_payment(grant, admin_client):
    from grants.models import DonorPayment

    response = admin_client.post(reverse("admin:grants_donorpayment_add"), {
        "grant": grant.pk, "donor": Donor.objects.get(code="MAEE-LU").pk, "received_on": "2015-08-03",
        "amount_0": "100000.00", "amount_1": "EUR", "reference": "LUX-1", "note": ""})
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert DonorPayment.objects.get().amount == Money(Decimal("100000.00"), "EUR")
    stranger = DonorFactory(code="STRANGER")
    response = admin_client.post(reverse("admin:grants_donorpayment_add"), {
        "grant": grant.pk, "donor": stranger.pk, "received_on": "2015-08-03",
        "amount_0": "1.00", "amount_1": "EUR", "reference": "", "note": ""})
    assert response.status_code == 200 and "does not fund" in response.content.decode()


def test_the_command_writes_the_same_document_and_refuses_on_the_same_rules(spent, finance, xsd, tmp_path):
    from io import StringIO

    from django.core.management import CommandError, call_command

    # the same activity as the API's (but for the generated-datetime stamp), valid against the XSD
    path = tmp_path / "activity.xml"
    call_command("iati_export", G, "--output", str(path))
    from_command = etree.fromstring(path.read_bytes())
    xsd.assertValid(from_command)
    from_api = valid_document(finance, xsd)
    for document in (from_command, from_api):
        document.attrib.pop("generated-datetime", None)
        activity_of(document).attrib.pop("last-updated-datetime", None)
    assert etree.tostring(from_command) == etree.tostring(from_api)

    # and a grant breaking a rule is refused with the rule's number on standard error
    Grant.objects.filter(code=G).update(iati_identifier="XX-OTHER-1")
    errors = StringIO()
    with pytest.raises(CommandError):
        call_command("iati_export", G, stderr=errors, stdout=StringIO())
    assert "1.1.21" in errors.getvalue()
