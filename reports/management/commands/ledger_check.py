"""``ledger_check``: the auditor's check of ``reports.checks.ledger_check``, rerunnable by anyone
with access to the database. Exits with status 1 when it finds a discrepancy, 0 otherwise."""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from grants.models import Grant
from grants.progress import command_progress
from reports.checks import ledger_check


class Command(BaseCommand):
    help = ("Recompute the ledger from its raw records and report every discrepancy: stored conversions, "
            "accepted statements' digests and their chain, report footing, budget versions' totals. "
            "Exit status 1 when there is one.")

    def add_arguments(self, parser):
        parser.add_argument("--grant", metavar="CODE", help="Check this grant only (default: every grant).")
        parser.add_argument("--json", dest="as_json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, grant: str | None = None, as_json: bool = False, **options):
        record = None
        if grant:
            record = Grant.objects.filter(code=grant).first()
            if record is None:
                raise CommandError(_("No grant %(code)s.") % {"code": grant}, returncode=2)
        started = time.perf_counter()
        progress = command_progress(self.stderr._out, "ledger_check")
        try:
            report = ledger_check(grant=record, progress=progress)
        finally:
            progress.close()
        elapsed = time.perf_counter() - started
        if as_json:
            self.stdout.write(_dumps(report.as_dict()))
        else:
            self._human(report, elapsed)
        if not report.ok:
            count = len(report.discrepancies)
            raise CommandError(ngettext("%(count)d discrepancy found.", "%(count)d discrepancies found.",
                                        count) % {"count": count}, returncode=1)

    def _human(self, report, elapsed: float) -> None:
        for finding in report.discrepancies:
            self.stdout.write(_line(finding))
        for note in report.notes:
            self.stdout.write(_("note: ") + _line(note))
        counts = report.counts
        summary = _("%(grants)s: %(statements)d accepted statements, %(partners)d partners' conversions, "
                    "%(groupings)d report groupings, %(versions)d budget versions checked in %(seconds).1f s.") % {
            "grants": ", ".join(report.grants) or "-", "statements": counts.get("statements", 0),
            "partners": counts.get("partners_converted", 0), "groupings": counts.get("groupings", 0),
            "versions": counts.get("versions", 0), "seconds": elapsed}
        self.stdout.write(summary)
        if report.ok:
            self.stdout.write(self.style.SUCCESS(_("No discrepancy.")))


def _line(finding) -> str:
    where = " ".join(part for part in (
        finding.record(), f"grant {finding.grant}",
        f"partner {finding.partner}" if finding.partner else "",
        f"quarter {finding.quarter}" if finding.quarter else "") if part)
    return f"{finding.kind}: {where}: {finding.detail}"


def _dumps(data: dict) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
