"""The three roles, as DRF permissions. Object scoping (own partner, funded grants) is done by
each view's queryset, so a record that is not yours is 404, never 403."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from grants.roles import is_finance_officer, partner_of, role_of


class HasLedgerRole(BasePermission):
    """A finance officer, a partner member or a donor member; anyone else may do nothing."""

    message = "Your account has no role in the ledger (finance officer, partner or donor member)."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and role_of(request.user))


class FinanceWritesOthersRead(HasLedgerRole):
    message = "Only a finance officer may change this."

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        return request.method in SAFE_METHODS or is_finance_officer(request.user)


class FinanceOrPartnerWrites(HasLedgerRole):
    """Finance officers write any; partner members write their own (scoped by the queryset)."""

    message = "Donors read; only a finance officer or the partner itself may change this."

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if request.method in SAFE_METHODS:
            return True
        return is_finance_officer(request.user) or partner_of(request.user) is not None
