"""Settings for the test suite: the real settings with a throwaway key and a fast hasher.

Whatever DEBUG the environment gives, the suite runs the same: plain http (no redirect to HTTPS),
the schema served to anyone (tests read it anonymously), and no rate limit, since the suite sends
thousands of requests from one address. A test that checks a protection turns it back on
(tests/test_security_settings.py, tests/api/test_throttling.py); the production defaults are
checked in a child process with DEBUG off.
"""

import os

# Long and varied enough to pass the weak-key refusal when DEBUG is off.
os.environ.setdefault("SECRET_KEY", "test-only-not-secret-" + "0123456789abcdefghijklmnopqrstuvwxyz")

from config.settings import *  # noqa: E402,F403
from config.settings import REST_FRAMEWORK  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
SECURE_SSL_REDIRECT = False
API_DOCS_PUBLIC = True
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "failed_token": None}}
# Jobs run at once, when their request's transaction commits (a test captures the callbacks);
# tests/jobs/test_worker.py starts a real Celery worker on Redis and sets JOBS_RUNNER=celery.
JOBS_RUNNER = "eager"
