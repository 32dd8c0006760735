"""Production settings, the docs' access and the admin's lockout.

With DEBUG off the settings are production's, whatever else the environment leaves unset: checked
in child processes (``manage.py`` with config.settings, DEBUG=0, a strong key, and none of the
security variables), since the test settings relax them for the suite. ``make run``'s
development settings (DEBUG=1, plain http) are checked the same way.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = secrets.token_urlsafe(50)
# Every variable the security settings read: unset in the child, so that their defaults are seen.
SECURITY_VARIABLES = (
    "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
    "SECURE_PROXY_SSL_HEADER", "API_BROWSABLE", "API_DOCS_PUBLIC", "THROTTLE_ANON", "THROTTLE_USER",
    "THROTTLE_FAILED_TOKENS", "NUM_PROXIES", "LOGIN_FAILURE_LIMIT", "LOGIN_COOLOFF_MINUTES", "CACHE_URL",
    "REDIS_URL",
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``manage.py`` in a child process with the project's settings (not the tests'), an empty
    database in memory, and only the security variables given."""
    environment = {name: value for name, value in os.environ.items() if name not in SECURITY_VARIABLES}
    environment.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": "sqlite://:memory:",
                        "ALLOWED_HOSTS": "ledger.example.org,testserver", **env})
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


def production(*args: str, **env: str) -> subprocess.CompletedProcess:
    return manage(*args, DEBUG="0", SECRET_KEY=STRONG_KEY, **env)


# What a client meets, asked in the child process (no database needed: nobody is logged in).
PROBE = r"""
import json
from django.conf import settings
from django.test import Client
from rest_framework.settings import api_settings

def answer(path, secure=True, **headers):
    response = Client().get(path, secure=secure, **headers)
    csrf = response.cookies.get("csrftoken")
    return {"status": response.status_code, "type": response.get("Content-Type", ""),
            "location": response.get("Location"), "hsts": response.get("Strict-Transport-Security"),
            "csrf_cookie_secure": bool(csrf["secure"]) if csrf else None}

print("PROBE " + json.dumps({
    "html": answer("/api/v1/grants/", HTTP_ACCEPT="text/html"),
    "schema": answer("/api/schema/"), "docs": answer("/api/docs/"), "redoc": answer("/api/redoc/"),
    "http": answer("/api/v1/grants/", secure=False),
    "login": answer("/admin/login/"),
    "rates": api_settings.DEFAULT_THROTTLE_RATES,
    "lockout": [settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds()],
}))
"""


def probe(run) -> dict:
    done = run("shell", "--no-imports", "-c", PROBE)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("PROBE "))
    return json.loads(line.removeprefix("PROBE "))


@pytest.fixture(scope="module")
def in_production() -> dict:
    return probe(production)


@pytest.fixture(scope="module")
def in_development() -> dict:
    return probe(lambda *args: manage(*args, DEBUG="1"))


# --- settings ------------------------------------------------------------------------------------

def test_check_deploy_finds_nothing_with_debug_off_and_a_strong_key():
    done = production("check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


@pytest.mark.parametrize("key", [
    "x",
    STRONG_KEY[:49],  # one character short
    "abcd" * 20,  # 4 distinct characters
    "django-insecure-" + STRONG_KEY,  # what startproject writes
], ids=["one character", "49 characters", "4 distinct", "django-insecure"])
def test_a_weak_secret_key_is_refused_at_start_with_debug_off(key):
    done = manage("check", DEBUG="0", SECRET_KEY=key)
    assert done.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is too weak" in done.stderr


def test_a_missing_secret_key_is_refused_with_debug_off():
    done = manage("check", DEBUG="0")
    assert done.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set" in done.stderr


def test_http_is_redirected_to_https_with_hsts_and_secure_cookies(in_production):
    assert in_production["http"]["status"] == 301
    assert in_production["http"]["location"].startswith("https://")
    assert in_production["html"]["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert in_production["login"]["csrf_cookie_secure"] is True


def test_the_browsable_api_is_off_in_production(in_production):
    # a client asking for HTML only is told the API has none (406), in the API's JSON body
    html = in_production["html"]
    assert (html["status"], html["type"]) == (406, "application/json")


def test_the_schema_and_docs_need_authentication_in_production(in_production):
    assert [in_production[page]["status"] for page in ("schema", "docs", "redoc")] == [401, 401, 401]


def test_the_production_rates_and_lockout_are_real(in_production):
    assert in_production["rates"] == {"anon": "60/min", "user": "1200/min", "failed_token": "10/min"}
    assert in_production["lockout"] == [10, 30 * 60]


def test_development_runs_over_plain_http_with_the_browsable_api_and_open_docs(in_development):
    # `make run`: DEBUG=1 on http://127.0.0.1
    assert in_development["http"]["status"] == 401  # the API's answer, no redirect
    assert in_development["login"]["csrf_cookie_secure"] is False
    assert in_development["html"]["hsts"] is None
    assert in_development["html"]["type"].startswith("text/html")
    assert [in_development[page]["status"] for page in ("schema", "docs", "redoc")] == [200, 200, 200]


def test_a_rate_that_does_not_read_like_one_is_refused_at_start():
    done = production("check", THROTTLE_USER="lots")
    assert done.returncode != 0
    assert "THROTTLE_USER must read like 60/min" in done.stderr


# --- the docs: for authenticated users unless public -------------------------------------------

DOCS = ("/api/schema/?format=json", "/api/docs/", "/api/redoc/")


@pytest.fixture
def reader(db):
    return get_user_model().objects.create_user(username="reader", password="reader")


@pytest.mark.parametrize("path", DOCS)
def test_the_docs_refuse_anonymous_clients_unless_public(settings, reader, path):
    settings.API_DOCS_PUBLIC = False
    assert APIClient().get(path).status_code == 401
    settings.API_DOCS_PUBLIC = True
    assert APIClient().get(path).status_code == 200


@pytest.mark.parametrize("path", DOCS)
def test_the_docs_answer_a_token_and_an_admin_session(settings, reader, path):
    settings.API_DOCS_PUBLIC = False
    with_token = APIClient()
    with_token.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=reader).key}")
    assert with_token.get(path).status_code == 200
    in_browser = APIClient()
    in_browser.force_login(reader)
    assert in_browser.get(path).status_code == 200


# --- the admin's lockout (django-axes) ------------------------------------------------------------

LOGIN = reverse("admin:login")


@pytest.fixture
def admin_account(db):
    return get_user_model().objects.create_superuser(username="finance", password="the-right-one",
                                                     email="finance@example.org")


def log_in(client, password: str, **extra):
    return client.post(LOGIN, {"username": "finance", "password": password, "next": "/admin/"}, **extra)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_thirty_wrong_passwords_then_the_right_one_does_not_log_in(client, admin_account, settings):
    # given the default limit, 10 failures
    assert settings.AXES_FAILURE_LIMIT == 10
    # when 30 wrong passwords are sent from one address
    statuses = [log_in(client, f"guess-{attempt}").status_code for attempt in range(30)]
    # then the first 9 are the login form again; the 10th failure and those after it, the lockout
    assert statuses == [200] * 9 + [429] * 21
    # and the right password is refused too
    response = log_in(client, "the-right-one")
    assert response.status_code == 429
    assert not logged_in(client)
    assert client.get("/admin/").status_code == 302  # to the login page


def test_the_lockout_is_per_address_and_ends_after_the_cool_off(client, admin_account):
    for attempt in range(10):
        log_in(client, f"guess-{attempt}")
    assert log_in(client, "the-right-one").status_code == 429
    # another address is not locked out
    elsewhere = type(client)()
    assert log_in(elsewhere, "the-right-one", REMOTE_ADDR="192.0.2.7").status_code == 302
    assert logged_in(elsewhere)
    # and once the cool-off (30 minutes since the last failure) has passed, the first address may log in
    from axes.models import AccessAttempt
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=31))
    assert log_in(client, "the-right-one").status_code == 302
    assert logged_in(client)


def test_fewer_failures_than_the_limit_do_not_lock_out(client, admin_account):
    for attempt in range(9):
        log_in(client, f"guess-{attempt}")
    assert log_in(client, "the-right-one").status_code == 302
    assert logged_in(client)
