"""The day counts (ExpenditureDayCount, kept by triggers) survive a copy of the database: after
``dumpdata``/``loaddata`` into a fresh migrated database (SQLite and PostgreSQL) and after
``pg_dump -Fc``/``pg_restore`` into an empty one, they equal a GROUP BY of the expenditures, and
the triggers go on keeping them. A fixture's own counts are never taken as they are.

The round trips run ``manage.py`` in subprocesses against databases of their own: temporary SQLite
files, or ``ledger_daycount_*`` databases created and dropped on the suite's PostgreSQL server.
A migrated database is copied (the file, or ``CREATE DATABASE ... TEMPLATE``) rather than
migrated twice: the copy is what ``migrate`` makes, in a second."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models import Count

from expenditures.models import Expenditure, ExpenditureDayCount

ROOT = Path(__file__).resolve().parents[2]

# The source database: generated expenditures, replaced by others (days left at 0, day-count ids
# no longer in the order of the expenditures), and some moved to another day.
MAKE_BOOKS = """
import io
from django.core.management import call_command
from expenditures.models import Expenditure
call_command("load_seed", verbosity=0)
call_command("generate_history", expenditures=300, seed=3, stdout=io.StringIO())
call_command("generate_history", expenditures=200, seed=7, replace=True, stdout=io.StringIO())
Expenditure.objects.filter(id__in=Expenditure.objects.order_by("id").values("id")[:30]).update(date="2017-01-02")
"""

# Writes after the copy: the triggers must still count (a bulk delete and insert, a move).
WRITE_MORE = """
import io
from datetime import timedelta
from django.core.management import call_command
from django.db.models import F
from expenditures.models import Expenditure
call_command("generate_history", expenditures=120, seed=11, replace=True, stdout=io.StringIO())
Expenditure.objects.filter(id__in=Expenditure.objects.order_by("-id").values("id")[:15]).update(
    date=F("date") + timedelta(days=2))
"""

COUNTS = """
import json
from django.db.models import Count
from expenditures.models import Expenditure, ExpenditureDayCount
grouped = Expenditure.objects.order_by().values_list("grant_id", "partner_id", "date").annotate(n=Count("id"))
stored = ExpenditureDayCount.objects.exclude(count=0).values_list("grant_id", "partner_id", "date", "count")
print(json.dumps({"grouped": sorted([g, p, str(d), n] for g, p, d, n in grouped),
                  "stored": sorted([g, p, str(d), n] for g, p, d, n in stored)}))
"""


def manage(url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"manage.py {' '.join(args[:2])} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def counts(url: str, after: str = "") -> tuple[list, list]:
    """(the GROUP BY of the expenditures, the non-zero day counts), each sorted, once the code
    ``after`` has run (in the same process: each manage.py costs a second or two)."""
    answer = json.loads(manage(url, "shell", "--no-imports", "-c", after + COUNTS).strip().splitlines()[-1])
    return answer["grouped"], answer["stored"]


def expenditures(rows: list) -> int:
    return sum(row[3] for row in rows)


class Postgres:
    """Databases named ledger_daycount_* on the suite's PostgreSQL server, dropped at the end."""

    def __init__(self):
        import psycopg

        db = settings.DATABASES["default"]
        self.server = {"host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or 5432, "user": db["USER"],
                       "password": db["PASSWORD"] or None}
        self.admin = psycopg.connect(dbname="postgres", autocommit=True, **self.server)
        self.prefix = f"ledger_daycount_{uuid.uuid4().hex[:8]}"
        self.names: list[str] = []
        self.template: str | None = None

    def migrated(self, suffix: str) -> str:
        """A fresh migrated database: a copy of one migrated once for the module."""
        if self.template is None:
            self.template = self.create("migrated")
            manage(self.url(self.template), "migrate", "-v0")
        return self.create(suffix, template=self.template)

    def create(self, suffix: str, template: str | None = None) -> str:
        name = f"{self.prefix}_{suffix}"
        self.admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.names.append(name)
        return name

    def url(self, name: str) -> str:
        password = f":{self.server['password']}" if self.server["password"] else ""
        return f"postgres://{self.server['user']}{password}@{self.server['host']}:{self.server['port']}/{name}"

    def client_args(self, name: str) -> list[str]:
        return ["-h", str(self.server["host"]), "-p", str(self.server["port"]), "-U", self.server["user"], "-d", name]

    def client_env(self) -> dict:
        return {**os.environ, **({"PGPASSWORD": self.server["password"]} if self.server["password"] else {})}

    def close(self) -> None:
        for name in reversed(self.names):
            self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.close()


@pytest.fixture(scope="module")
def postgres():
    server = Postgres()
    yield server
    server.close()


def migrated_pair(kind: str, tmp_path: Path, request) -> tuple[str, str]:
    """Two migrated, empty databases (source, target) of the kind."""
    if kind == "sqlite":
        source = tmp_path / "source.sqlite3"
        manage(f"sqlite:///{source}", "migrate", "-v0")
        shutil.copyfile(source, tmp_path / "target.sqlite3")
        return f"sqlite:///{source}", f"sqlite:///{tmp_path / 'target.sqlite3'}"
    server = request.getfixturevalue("postgres")
    return server.url(server.migrated("dumped")), server.url(server.migrated("loaded"))


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_dumpdata_then_loaddata_into_a_fresh_database_keeps_the_counts(kind, tmp_path, request):
    source, target = migrated_pair(kind, tmp_path, request)
    grouped, stored = counts(source, after=MAKE_BOOKS)
    assert expenditures(grouped) == 200 and stored == grouped
    dump = tmp_path / "dump.json"
    manage(source, "dumpdata", "-o", str(dump))  # the whole database, the day counts with it
    assert any(row["model"] == "expenditures.expendituredaycount" for row in json.loads(dump.read_text()))

    manage(target, "loaddata", str(dump))
    assert counts(target) == (grouped, grouped)
    grouped_after, stored_after = counts(target, after=WRITE_MORE)
    assert expenditures(grouped_after) == 120 and stored_after == grouped_after


@pytest.mark.postgres
def test_pg_dump_then_pg_restore_keeps_the_counts_and_the_triggers(postgres, tmp_path):
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump and pg_restore are not on PATH")
    source = postgres.migrated("pg_dumped")
    grouped, stored = counts(postgres.url(source), after=MAKE_BOOKS)
    assert expenditures(grouped) == 200 and stored == grouped

    dump = tmp_path / "ledger.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), *postgres.client_args(source)],
                   env=postgres.client_env(), check=True, capture_output=True, timeout=300)
    target = postgres.create("pg_restored")  # empty: pg_restore creates the schema, the data, then the triggers
    subprocess.run(["pg_restore", "--exit-on-error", "--no-owner", *postgres.client_args(target), str(dump)],
                   env=postgres.client_env(), check=True, capture_output=True, timeout=300)

    assert counts(postgres.url(target)) == (grouped, grouped)
    manage(postgres.url(target), "rebuild_day_counts", "--check")  # the three triggers are back
    grouped_after, stored_after = counts(postgres.url(target), after=WRITE_MORE)
    assert expenditures(grouped_after) == 120 and stored_after == grouped_after


# In the suite's own database: fixtures that are not a dump of an empty database.

def grouped_now() -> dict:
    rows = Expenditure.objects.order_by().values_list("grant_id", "partner_id", "date").annotate(n=Count("id"))
    return {(grant, partner, day): n for grant, partner, day, n in rows}


def stored_now() -> dict:
    rows = ExpenditureDayCount.objects.exclude(count=0).values_list("grant_id", "partner_id", "date", "count")
    return {(grant, partner, day): n for grant, partner, day, n in rows}


def test_a_fixture_s_day_counts_are_recounted_whatever_their_order_or_numbers(grant, tmp_path):
    call_command("generate_history", expenditures=150, seed=5, stdout=io.StringIO())
    dump = tmp_path / "expenditures.json"
    call_command("dumpdata", "expenditures.Expenditure", "expenditures.ExpenditureDayCount", output=str(dump))
    rows = json.loads(dump.read_text())
    day_rows = [row for row in rows if row["model"] == "expenditures.expendituredaycount"]
    for row in day_rows:  # wrong counts, foreign ids
        row["fields"]["count"] += 999
        row["pk"] += 10_000
    wrong = tmp_path / "day_counts_first.json"
    others = [row for row in rows if row["model"] != "expenditures.expendituredaycount"]
    wrong.write_text(json.dumps(day_rows + others))

    call_command("loaddata", str(wrong), verbosity=0)  # into the database it came from
    assert sum(grouped_now().values()) == 150 and stored_now() == grouped_now()


def test_day_counts_loaded_alone_change_nothing(grant, tmp_path):
    call_command("generate_history", expenditures=80, seed=6, stdout=io.StringIO())
    before = grouped_now()
    (grant_id, partner_id, day), _ = next(iter(before.items()))
    fixture = tmp_path / "day_counts.json"
    fixture.write_text(json.dumps([
        {"model": "expenditures.expendituredaycount", "pk": 1,
         "fields": {"grant": grant_id, "partner": partner_id, "date": str(day), "count": 50}},
        {"model": "expenditures.expendituredaycount", "pk": 2,  # a day without expenditures
         "fields": {"grant": grant_id, "partner": partner_id, "date": "2030-01-01", "count": 7}},
    ]))
    call_command("loaddata", str(fixture), verbosity=0)
    assert stored_now() == grouped_now() == before
    assert ExpenditureDayCount.objects.filter(count__lt=0).exists() is False


def test_rebuild_day_counts_recreates_the_triggers_and_recounts(grant, on_postgres):
    from django.core.management.base import CommandError
    from django.db import connection

    call_command("generate_history", expenditures=60, seed=8, stdout=io.StringIO())
    with connection.cursor() as cursor:  # as a database restored without its triggers would be
        cursor.execute("DROP TRIGGER expenditure_day_count_insert"
                       + (" ON expenditures_expenditure" if on_postgres else ""))
    ExpenditureDayCount.objects.update(count=3)
    with pytest.raises(CommandError, match="1 of the 3 triggers missing"):
        call_command("rebuild_day_counts", "--check")
    call_command("rebuild_day_counts", stdout=io.StringIO())
    assert sum(grouped_now().values()) == 60 and stored_now() == grouped_now()
    call_command("generate_history", expenditures=40, seed=9, replace=True, stdout=io.StringIO())
    assert sum(grouped_now().values()) == 40 and stored_now() == grouped_now()
    call_command("rebuild_day_counts", "--check", stdout=io.StringIO())
