"""``iati_export CODE``: the grant as an IATI 2.03 activity, written to a file or standard output,
through the same export as the API's ``iati.xml`` (``reports.iati_rules.iati_export``): refused,
each violation listed with its rule's number, when it would fail the IATI Validator's rules."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grants.errors import ApplicationError
from grants.models import Grant
from reports.iati_rules import iati_export


class Command(BaseCommand):
    help = "Write a grant as an IATI 2.03 activity (XML); refuse, listing each rule broken, when it would fail them."

    def add_arguments(self, parser):
        parser.add_argument("code", help="The grant's code.")
        parser.add_argument("--output", "-o", metavar="FILE", help="Write to FILE (default: standard output).")

    def handle(self, *args, code: str, output: str | None = None, **options):
        grant = Grant.objects.filter(code=code).first()
        if grant is None:
            raise CommandError(_("No grant %(code)s.") % {"code": code}, returncode=2)
        try:
            chunks = iati_export(grant)
        except ApplicationError as error:
            for item in error.errors:
                self.stderr.write(item["detail"])
            raise CommandError(error.message) from None
        if output:
            with open(output, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            return
        for chunk in chunks:
            self.stdout.write(chunk.decode("utf-8"), ending="")
