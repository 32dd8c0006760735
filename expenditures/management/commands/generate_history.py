"""``generate_history``: demo data for a seeded grant, made-up transfers and expenditures for demos and
benchmarks, never real books (see ``expenditures.demo_data``). The command keeps its historical name
(``make run``, TRY.md and DESIGN.md call it); "history" elsewhere means the audit trail."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from expenditures.demo_data import demo_data_generate
from grants.errors import ApplicationError
from grants.models import Grant
from grants.progress import command_progress


class Command(BaseCommand):
    help = ("Generate DEMO DATA, never real books: 36 months of made-up quarterly transfers and "
            "expenditures for a seeded grant, the same for the same seed. Generated rows say so in "
            "their description or note.")

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42, help="Seed of the generator (default 42).")
        parser.add_argument("--expenditures", type=int, default=5000,
                            help="How many expenditures to make (default 5000); the money stays the same.")
        parser.add_argument("--grant", default="ML-ESEC-2015", help="Code of the grant (default ML-ESEC-2015).")
        existing = parser.add_mutually_exclusive_group()
        existing.add_argument("--if-empty", action="store_true",
                              help="Do nothing if the grant already has expenditures or transfers.")
        existing.add_argument("--replace", action="store_true",
                              help="Delete the grant's generated expenditures and transfers first.")

    def handle(self, *args, seed: int, expenditures: int, grant: str, if_empty: bool, replace: bool, **options):
        record = Grant.objects.filter(code=grant).first()
        if record is None:
            raise CommandError(f"No grant {grant}: load it first (python manage.py load_seed).")
        started = time.perf_counter()
        progress = command_progress(self.stderr._out, "generate_history")
        try:
            summary = demo_data_generate(grant=record, seed=seed, expenditures=expenditures,
                                         replace=replace, if_empty=if_empty, progress=progress)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        finally:
            progress.close()
        if summary.skipped:
            self.stdout.write(f"{summary.skipped}; nothing generated (--if-empty).")
            return
        replaced = (f", after deleting {summary.deleted_expenditures} expenditures and "
                    f"{summary.deleted_transfers} transfers generated before" if replace else "")
        self.stdout.write(
            f"{summary.grant_code}: generated {summary.expenditures} expenditures, EUR {summary.total_eur:,} "
            f"({summary.spent_pct} % of EUR {summary.budget_eur:,}), and {summary.transfers} transfers, "
            f"EUR {summary.sent_eur:,} sent, EUR {summary.fees_eur:,} fees; seed {summary.seed}{replaced}; "
            f"{time.perf_counter() - started:.1f} s."
        )
