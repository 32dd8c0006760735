"""The three roles, as DRF permissions. Object scoping (own partner, funded grants) is done by
each view's queryset, so a record that is not yours is 404, never 403."""

from django.conf import settings
from django.utils.translation import gettext_lazy
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated

from grants.access import has_ledger_role, may_write


class HasLedgerRole(BasePermission):
    """A finance officer, a partner member or a donor member; anyone else may do nothing."""

    message = gettext_lazy("Your account has no role in the ledger (finance officer, partner or donor member).")

    def has_permission(self, request, view):
        return has_ledger_role(request.user)


class FinanceWritesOthersRead(HasLedgerRole):
    message = gettext_lazy("Only a finance officer may change this.")

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        return request.method in SAFE_METHODS or may_write(request.user)


class FinanceOrPartnerWrites(HasLedgerRole):
    """Finance officers write any; partner members write their own (scoped by the queryset)."""

    message = gettext_lazy("Donors read; only a finance officer or the partner itself may change this.")

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if request.method in SAFE_METHODS:
            return True
        return may_write(request.user, partners=True)


class DocsReadable(IsAuthenticated):
    """The schema and the docs: for any authenticated user (a token, or the admin's session in a
    browser), or for anyone when ``API_DOCS_PUBLIC`` is on (read at each request)."""

    def has_permission(self, request, view):
        return settings.API_DOCS_PUBLIC or super().has_permission(request, view)
