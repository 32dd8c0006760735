"""Remove the files of jobs finished more than JOB_FILES_KEEP_DAYS days ago (Celery beat runs the
same daily: jobs.tasks.jobs_cleanup_task), and fail the jobs past their time limit."""

from django.conf import settings
from django.core.management.base import BaseCommand

from jobs.services import job_expire_stale, jobs_cleanup


class Command(BaseCommand):
    help = "Remove old jobs' files (after JOB_FILES_KEEP_DAYS days) and fail the jobs past their time limit."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None,
                            help="Keep files this many days (default JOB_FILES_KEEP_DAYS, "
                                 f"{settings.JOB_FILES_KEEP_DAYS}).")

    def handle(self, *args, days=None, **options):
        expired = job_expire_stale()
        removed = jobs_cleanup(days=days)
        self.stdout.write(f"{removed} job file(s) removed, {expired} job(s) past their time limit failed.")
