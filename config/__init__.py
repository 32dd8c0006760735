# The Celery app is loaded with Django, so that the jobs' tasks are bound to it (config.celery).
from config.celery import app as celery_app

__all__ = ["celery_app"]
