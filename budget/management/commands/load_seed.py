from pathlib import Path

from django.core.management.base import BaseCommand

from budget.seed import MALI, seed_load


class Command(BaseCommand):
    help = "Load the Mali project (grant ML-ESEC-2015) from fixtures/; running it twice changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--directory", type=Path, default=MALI,
                            help="A folder with project.json and the CSV files.")

    def handle(self, *args, directory: Path, **options):
        result = seed_load(directory)
        if result.created:
            made = ", ".join(f"{n} {what}" for what, n in sorted(result.created.items()))
            self.stdout.write(f"Loaded {result.grant.code}: {made}.")
        else:
            self.stdout.write(f"{result.grant.code} is already loaded; nothing changed.")
