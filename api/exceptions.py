"""One error shape for the whole API (drf-standardized-errors), fed by the services' errors."""

from drf_standardized_errors.handler import exception_handler as standardized_handler


def exception_handler(exc, context):
    return standardized_handler(exc, context)
