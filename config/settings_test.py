"""Settings for the test suite: the real settings with a throwaway key and a fast hasher.

No rate limit: the suite sends thousands of requests from one address. A test that checks one
sets it back (tests/api/test_throttling.py).
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-not-secret")

from config.settings import *  # noqa: E402,F403
from config.settings import REST_FRAMEWORK  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "failed_token": None}}
