"""Token authentication that ends in 429 for an address sending wrong tokens.

DRF authenticates before it throttles: a wrong token is answered 401 before any throttle runs, so
a client could try tokens for ever. This authentication counts the wrong tokens (and malformed
``Authorization: Token`` headers) per client address (``api.throttling.FailedTokenCount``, the
``failed_token`` rate); once the address has sent more than the rate allows, every token it sends
is answered 429 with ``Retry-After`` until the period ends, a valid one too, and without a query
to the database. Requests without a token (the admin's session, anonymous ones) are not concerned.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed, Throttled

from api.throttling import FailedTokenCount
from grants.errors import ErrorCode

TOO_MANY_FAILED_TOKENS = gettext_lazy("Too many wrong tokens were sent from your address.")


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate(self, request):
        self.failed_tokens = FailedTokenCount(request)
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            if self.failed_tokens.record_failure():
                raise self._refused() from None
            raise

    def authenticate_credentials(self, key):
        failed_tokens = getattr(self, "failed_tokens", None)
        if failed_tokens is not None and failed_tokens.exhausted():
            raise self._refused()
        return super().authenticate_credentials(key)

    def _refused(self) -> Throttled:
        return Throttled(wait=self.failed_tokens.wait(), detail=str(TOO_MANY_FAILED_TOKENS),
                         code=ErrorCode.TOO_MANY_FAILED_TOKENS)
