"""Rate limits: too many requests, or too many wrong tokens, are answered 429 with ``Retry-After``.

The test settings turn every rate off (the suite sends thousands of requests from one address);
each test here sets the rate it checks, low, and starts from an empty cache. The production rates
(60/min anonymous, 1200/min per user, 10 wrong tokens a minute) are checked in
tests/test_security_settings.py.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.throttling import FailedTokenCount
from grants.models import Role
from tests.api import support
from tests.api.support import API
from tests.conftest import make_user

GRANTS = f"{API}/grants/"


def build():
    """Two finance officers with tokens (``world`` in tests/api/conftest.py builds it once)."""
    return {name: Token.objects.create(user=make_user(name, Role.FINANCE_OFFICER)).key
            for name in ("finance", "auditor")}


@pytest.fixture
def rates(settings):
    """Sets the throttle rates a test names (the others stay off), on an empty cache."""
    cache.clear()

    def set_rates(**rates):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
            "anon": None, "user": None, "failed_token": None, **rates}}

    yield set_rates
    cache.clear()


def assert_429(response, code: str, *, most_seconds: int) -> None:
    assert response.status_code == 429, response.content
    assert 1 <= int(response["Retry-After"]) <= most_seconds
    assert [error["code"] for error in support.errors(response)] == [code]
    assert response.json()["type"] == "client_error"


def test_a_user_past_the_rate_gets_429_with_retry_after_and_others_do_not(world, clients, rates):
    # given 3 requests a minute per user
    rates(user="3/min")
    # when finance sends 4
    statuses = [clients["finance"].get(GRANTS).status_code for _ in range(4)]
    # then the fourth is refused, and says when to come back
    assert statuses[:3] == [200, 200, 200]
    response = clients["finance"].get(GRANTS)
    assert_429(response, "throttled", most_seconds=60)
    assert f"{response['Retry-After']} second" in support.errors(response)[0]["detail"]
    # and another user, from the same address, is not concerned
    assert clients["auditor"].get(GRANTS).status_code == 200


def test_an_anonymous_client_past_the_rate_gets_429(world, clients, rates, settings):
    # given public docs (the only views open to anonymous clients) and 1 request a minute
    settings.API_DOCS_PUBLIC = True
    rates(anon="1/min")
    anonymous = clients["anonymous"]
    # when an anonymous client asks twice, then the second is refused
    assert anonymous.get("/api/schema/", {"format": "json"}).status_code == 200
    assert_429(anonymous.get("/api/schema/", {"format": "json"}), "throttled", most_seconds=60)
    # and a user is not concerned by the anonymous rate
    assert clients["finance"].get("/api/schema/", {"format": "json"}).status_code == 200


def test_wrong_tokens_end_in_429_for_every_token_from_that_address(world, clients, rates, monkeypatch):
    # given 5 wrong tokens a minute per address
    rates(failed_token="5/min")
    guesser = APIClient()
    # when an address sends 50 wrong tokens
    statuses = []
    for attempt in range(50):
        guesser.credentials(HTTP_AUTHORIZATION=f"Token {attempt:040x}")
        statuses.append(guesser.get(GRANTS).status_code)
    # then the first 5 are 401 and every later one 429
    assert statuses == [401] * 5 + [429] * 45
    assert_429(guesser.get(GRANTS), "too_many_failed_tokens", most_seconds=60)
    # and a valid token from that address is refused too, until the minute ends
    finance = clients["finance"]
    assert_429(finance.get(GRANTS), "too_many_failed_tokens", most_seconds=60)
    # while the same token from another address passes
    assert finance.get(GRANTS, REMOTE_ADDR="192.0.2.7").status_code == 200
    # and once the period is over, it passes from the first address as well
    later = FailedTokenCount.timer() + 60
    monkeypatch.setattr(FailedTokenCount, "timer", lambda self: later)
    assert finance.get(GRANTS).status_code == 200


def test_malformed_token_headers_count_as_wrong_tokens(world, rates):
    rates(failed_token="2/min")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token two words")
    assert [client.get(GRANTS).status_code for _ in range(3)] == [401, 401, 429]


def test_requests_without_a_token_are_not_counted(world, rates):
    # given an address refused for wrong tokens
    rates(failed_token="1/min")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert [client.get(GRANTS).status_code for _ in range(2)] == [401, 429]
    # then a request without a token is not refused by the count (but asked to authenticate)
    assert APIClient().get(GRANTS).status_code == 401


def test_the_schema_documents_429_with_retry_after_and_its_codes(world, clients):
    schema = clients["finance"].get("/api/schema/", {"format": "json"}).json()
    response = schema["paths"][GRANTS]["get"]["responses"]["429"]
    assert "Retry-After" in response["headers"]
    component = schema["components"]["schemas"]["TooManyRequests429ErrorComponent"]
    assert component["properties"]["code"]["enum"] == ["throttled", "too_many_failed_tokens"]
