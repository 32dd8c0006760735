"""Rate limits: DRF's throttles with their rates read at each request, and the count of wrong
tokens sent from one client address.

The rates are ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (``anon``, ``user``, ``failed_token``;
set from the environment in ``config.settings``). DRF binds them to ``SimpleRateThrottle`` when it
is imported, so a rate changed later (a test's ``override_settings``) would go unseen: these
classes read them through DRF's ``api_settings`` each time, which DRF reloads when the setting
changes. A rate of ``None`` limits nothing (the test settings' default).

Every count lives in Django's default cache: per process with the default local-memory cache,
shared by every worker and host once ``CACHE_URL`` names a Redis.
"""

from __future__ import annotations

import math

from rest_framework import throttling
from rest_framework.settings import api_settings


def client_ip(request) -> str:
    """The client's address: ``REMOTE_ADDR``, or, behind ``NUM_PROXIES`` proxies, the address the
    first of them wrote in ``X-Forwarded-For`` (DRF's rule). The throttles, the failed tokens and
    django-axes (``AXES_CLIENT_IP_CALLABLE``) all read it here."""
    return throttling.BaseThrottle().get_ident(request)


class RatesReadAtRequest:
    """The rate of the throttle's scope, read from the settings when the throttle is made (DRF
    makes one per request)."""

    def get_rate(self):
        self.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        return super().get_rate()


class AnonRateThrottle(RatesReadAtRequest, throttling.AnonRateThrottle):
    """Anonymous requests per client address (``anon``). DRF checks permissions first: an
    anonymous request to a view that needs a user is answered 401 before any throttle."""


class UserRateThrottle(RatesReadAtRequest, throttling.UserRateThrottle):
    """Requests per authenticated user, by any address (``user``)."""


class FailedTokenCount(RatesReadAtRequest, throttling.SimpleRateThrottle):
    """The wrong tokens one client address sent in the current period of the ``failed_token``
    rate ("10/min": at most 10 in each calendar minute).

    The count is one cache entry per address and period, raised with the cache's atomic ``incr``,
    so that wrong tokens sent in parallel are all counted (DRF's throttles rewrite a list of
    times, and parallel requests overwrite each other's)."""

    scope = "failed_token"

    def __init__(self, request):
        super().__init__()
        if self.rate is not None:
            self.now = self.timer()
            period = int(self.now // self.duration)
            self.key = self.cache_format % {"scope": self.scope, "ident": f"{client_ip(request)}_{period}"}

    def wait(self) -> int:
        """Seconds until the period ends and the address may try again."""
        return max(1, math.ceil(self.duration - self.now % self.duration))

    def exhausted(self) -> bool:
        """The address sent as many wrong tokens as the rate allows in this period."""
        return self.rate is not None and self.cache.get(self.key, 0) >= self.num_requests

    def record_failure(self) -> bool:
        """Count one wrong token; True if the address has now sent more than the rate allows."""
        if self.rate is None:
            return False
        self.cache.add(self.key, 0, timeout=self.duration)
        try:
            failures = self.cache.incr(self.key)
        except ValueError:  # the entry expired between add and incr: a new period began
            self.cache.set(self.key, 1, timeout=self.duration)
            failures = 1
        return failures > self.num_requests
