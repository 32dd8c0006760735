"""``rebuild_day_counts``: put back the triggers of migration 0005 and recount ``ExpenditureDayCount``
from the expenditures, in one transaction. For a database that lost its triggers (a SQLite table
rebuilt by hand, a data-only restore with ``--disable-triggers`` of a database whose counts were
already wrong); a ``dumpdata``/``loaddata`` or a full ``pg_restore`` does not need it. ``--check``
changes nothing and exits with status 1 when a day's count differs from its expenditures."""

from __future__ import annotations

import importlib

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Count

from expenditures.models import Expenditure, ExpenditureDayCount

day_counts = importlib.import_module("expenditures.migrations.0005_expenditure_day_counts")


class Command(BaseCommand):
    help = ("Recreate the triggers that keep the expenditures' day counts and recount them from the "
            "expenditures. With --check, change nothing and exit 1 when a count is wrong.")

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Only compare; exit 1 on a difference.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="Database alias (default: default).")

    def handle(self, *args, check: bool, database: str, **options):
        connection = connections[database]
        if connection.vendor not in ExpenditureDayCount.VENDORS:
            raise CommandError(f"No day counts on {connection.vendor}: the list counts the expenditures there.")
        if check:
            triggers, wrong = _triggers(connection), _differences(database)
            if triggers < 3 or wrong:
                raise CommandError(f"{3 - triggers} of the 3 triggers missing or disabled, {wrong} days counted "
                                   f"wrong: run manage.py rebuild_day_counts.", returncode=1)
            self.stdout.write("The 3 triggers are in place and the day counts equal the expenditures.")
            return
        create = {"postgresql": day_counts.POSTGRESQL, "sqlite": day_counts.SQLITE}[connection.vendor]
        drop = {"postgresql": day_counts.POSTGRESQL_DROP, "sqlite": day_counts.SQLITE_DROP}[connection.vendor]
        with transaction.atomic(using=database), connection.cursor() as cursor:
            for statement in [*drop, *create, f"DELETE FROM {day_counts.DAY_COUNT}", day_counts.BACKFILL]:
                cursor.execute(statement)
        days = ExpenditureDayCount.objects.using(database).count()
        self.stdout.write(f"Triggers recreated; {days} days recounted.")


def _triggers(connection) -> int:
    """How many of 0005's triggers the table has, enabled."""
    sql = {"sqlite": "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (%s, %s, %s)",
           "postgresql": "SELECT COUNT(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'"
                         " AND tgname IN (%s, %s, %s)"}[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(sql, [f"expenditure_day_count_{name}" for name in ("insert", "delete", "move")])
        return cursor.fetchone()[0]


def _differences(database: str) -> int:
    """How many (grant, partner, day) have a count other than their expenditures' (a missing row
    counts as 0, as a row of 0 does for a day with none)."""
    rows = (Expenditure._base_manager.using(database).order_by().values_list("grant_id", "partner_id", "date")
            .annotate(n=Count("id")))
    counted = {(grant, partner, day): n for grant, partner, day, n in rows}
    stored = {(grant, partner, day): n for grant, partner, day, n in ExpenditureDayCount.objects.using(database)
              .exclude(count=0).values_list("grant_id", "partner_id", "date", "count")}
    return sum(counted.get(day) != stored.get(day) for day in counted.keys() | stored.keys())
