"""The API introduces itself: its index, the redirect to the docs, and a schema written for users."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator

from api.resources import RESOURCES, TAGS
from tests.api.support import API

INTERNAL_WORDS = re.compile(r"``|\bwraps\b|for viewsets|mixin|views under|get_queryset|serializer", re.I)


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_the_index_lists_every_resource_with_its_url_and_what_it_is(finance):
    # When a user opens /api/v1/
    response = finance.get(f"{API}/")

    # Then it lists the resources, each with its name, an absolute URL and one line
    assert response.status_code == 200, response.content
    listed = {row["name"]: row for row in response.json()["resources"]}
    assert {"grants", "budget-lines", "allocations", "transfers", "expenditures", "statements",
            "exchange-rates", "partners", "locations", "donors", "reports", "donor-payments"} <= set(listed)
    assert listed["transfers"]["url"] == "http://testserver/api/v1/transfers/"
    assert all(row["description"] for row in listed.values())
    assert response.json()["docs"] == "http://testserver/api/docs/"


def test_every_listed_url_without_placeholders_answers(finance):
    for resource in RESOURCES:
        if "{" in resource.path:
            continue
        assert finance.get(f"{API}/{resource.path}").status_code == 200, resource.path


@override_settings(API_DOCS_PUBLIC=False)
def test_the_index_is_private_when_the_docs_are(anonymous, finance):
    assert anonymous.get(f"{API}/").status_code == 401
    assert finance.get(f"{API}/").status_code == 200


def test_the_site_root_redirects_to_the_docs(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/api/docs/"


@override_settings(API_DOCS_PUBLIC=True)
def test_every_address_make_run_prints_answers(client):
    # The Makefile's echo line names these; with DEBUG (make run) the docs are public.
    with open("Makefile") as makefile:
        printed = re.findall(r"http://\$\(HOST\):\$\(PORT\)(/[^ \"]*)", makefile.read())
    assert "/api/v1/" in printed and "/api/docs/" in printed
    for path in printed:
        assert client.get(path).status_code in (200, 302), path


def test_every_operation_is_tagged_by_resource_and_summarised(schema):
    declared = {tag["name"] for tag in TAGS}
    for name, operation in operations(schema):
        assert len(operation["tags"]) == 1 and operation["tags"][0] in declared, name
        assert operation.get("summary"), name
        assert len(operation["summary"]) <= 120, name
        assert operation.get("description"), name
    used = {operation["tags"][0] for _, operation in operations(schema)}
    assert {"grants", "budget", "expenditures", "transfers", "statements", "reports", "fx",
            "reference data", "donor payments"} <= used


def test_no_internal_docstring_reaches_the_schema(schema):
    # The rule (api.schema.AutoSchema): a description is an explicit extend_schema one, else the
    # docstring of the handler written in api/views*.py, else the standard action's text; never a
    # class's docstring nor a mixin's or DRF's.
    for name, operation in operations(schema):
        assert not INTERNAL_WORDS.search(operation["description"]), (name, operation["description"])
        assert not INTERNAL_WORDS.search(operation["summary"]), (name, operation["summary"])


def test_the_statement_workflow_is_described(schema):
    statements = next(tag for tag in schema["tags"] if tag["name"] == "statements")["description"]
    for step in ("draft", "submitted", "returned", "accepted", "upload", "problems.xlsx", "reopen"):
        assert step in statements, step
