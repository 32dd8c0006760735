from pathlib import Path

from django.core.management.base import BaseCommand

from budget.seed import MALI, seed_load, seed_revise


class Command(BaseCommand):
    help = "Load the Mali project (grant ML-ESEC-2015) from fixtures/; running it twice changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--directory", type=Path, default=MALI,
                            help="A folder with project.json and the CSV files.")
        parser.add_argument("--with-revision", action="store_true",
                            help="Also make the approved revision (version 2) of project.json, for the demo.")

    def handle(self, *args, directory: Path, with_revision: bool = False, **options):
        result = seed_load(directory)
        if with_revision:
            revision = seed_revise(directory)
            if revision is not None:
                result.created["revisions"] = 1
        if result.created:
            made = ", ".join(f"{n} {what}" for what, n in sorted(result.created.items()))
            self.stdout.write(f"Loaded {result.grant.code}: {made}.")
        else:
            self.stdout.write(f"{result.grant.code} is already loaded; nothing changed.")
