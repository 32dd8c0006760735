"""409 ``retry`` instead of a 500 for the pages outside the API (the admin, the login page).

The API's exception handler (``api.exceptions``) answers a deadlock, a serialization failure or
a locked SQLite database with 409 ``retry``; a page of the admin that meets one would otherwise
end in a 500. This middleware gives the same answer there: an HTML page saying what happened
(or the API's JSON body under ``/api/``), with ``Retry-After``. The atomic block the error left
was rolled back as the exception went through it; a request-wide one (``ATOMIC_REQUESTS``) has
been rolled back by the time a middleware sees the exception.
"""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.utils.html import escape

from api.exceptions import RETRY_AFTER_SECONDS, RETRY_DETAIL, error_type, is_retryable, log_retryable, retry_errors

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Try again</title></head>
<body><h1>Try again</h1><p>{detail}</p><p>Nothing was saved. <a href="">Reload the page</a> and send it again.</p>
</body></html>
"""


class RetryableConflictMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_retryable(exception):
            return None
        log_retryable(exception, request.path)
        if request.path.startswith("/api/"):
            response = JsonResponse({"type": error_type(409), "errors": retry_errors()}, status=409)
        else:
            response = HttpResponse(PAGE.format(detail=escape(str(RETRY_DETAIL))), status=409,
                                    content_type="text/html; charset=utf-8")
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response
