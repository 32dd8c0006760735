"""``revalue_grant``: switch a grant's conversion method and revalue its spending from the command
line, the same service as ``POST /api/v1/grants/{code}/revalue/`` (``grant_revalue``), with a
progress bar on a terminal and plain lines otherwise."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from expenditures.revaluation import grant_revalue
from grants.errors import ApplicationError
from grants.models import FxMethod, Grant
from grants.progress import command_progress


class Command(BaseCommand):
    help = ("Switch a grant's conversion method and recompute the stored EUR value of its open quarters' "
            "spending, in one transaction (as POST /api/v1/grants/{code}/revalue/ does).")

    def add_arguments(self, parser):
        parser.add_argument("grant", metavar="CODE", help="The grant's code.")
        parser.add_argument("method", choices=FxMethod.values, help="The conversion method to switch to.")
        parser.add_argument("--confirm", action="store_true",
                            help="Required once a statement of the grant is accepted (its quarters keep their EUR).")
        parser.add_argument("--user", metavar="USERNAME",
                            help="The finance officer the grant's history names (default: none, the system).")

    def handle(self, *args, grant: str, method: str, confirm: bool, user: str | None, **options):
        record = Grant.objects.filter(code=grant).first()
        if record is None:
            raise CommandError(_("No grant %(code)s.") % {"code": grant})
        by = None
        if user:
            by = get_user_model().objects.filter(username=user).first()
            if by is None:
                raise CommandError(_("No user %(username)s.") % {"username": user})
        started = time.perf_counter()
        progress = command_progress(self.stderr._out, "revalue_grant")
        try:
            result = grant_revalue(grant=record, method=method, confirm=confirm, by=by, progress=progress)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        finally:
            progress.close()
        self.stdout.write(
            f"{record.code}: {result['method']}, {result['revalued']} expenditures revalued, EUR "
            f"{result['delta_eur']} change, {len(result['frozen_quarters'])} accepted quarters left as they were; "
            f"{time.perf_counter() - started:.1f} s.")
