"""Routes: /api/v1/ for the records, /api/schema/, /api/docs/ and /api/redoc/ for the contract."""

from importlib import import_module

from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from api import views
from api.views_root import ApiRootView
from grants.errors import ErrorCode

router = SimpleRouter()
# The busiest route first: Django tries the patterns in order (some hundred regexes otherwise).
router.register("expenditures", views.ExpenditureViewSet, basename="expenditure")
router.register("grants", views.GrantViewSet, basename="grant")
router.register(r"grants/(?P<grant_code>[^/]+)/budget-lines", views.BudgetLineViewSet, basename="budget-line")
router.register(r"grants/(?P<grant_code>[^/]+)/versions", views.VersionViewSet, basename="version")
router.register(
    r"grants/(?P<grant_code>[^/]+)/versions/(?P<version_number>[0-9]+)/allocations",
    views.AllocationViewSet, basename="allocation",
)
router.register("partners", views.PartnerViewSet, basename="partner")
router.register("locations", views.LocationViewSet, basename="location")
router.register("donors", views.DonorViewSet, basename="donor")
router.register("exchange-rates", views.ExchangeRateViewSet, basename="exchange-rate")
router.register("transfers", views.TransferViewSet, basename="transfer")
router.register("donor-payments", views.DonorPaymentViewSet, basename="donor-payment")

# Feature modules add their own routes under /api/v1/ (reports, conversions, statements).
extra = []
for module in ("api.urls_fx", "api.urls_reports", "api.urls_statements", "api.urls_budget", "api.urls_jobs"):
    try:
        extra += import_module(module).urlpatterns
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise


@csrf_exempt  # a write to no route is a 404 too, not a CSRF refusal
def not_found(request, *args, **kwargs):
    """Any other /api/.../ path: the API's 404 body, not Django's HTML page (a path parameter
    that does not match its route's pattern, such as an id "0.5", lands here)."""
    return JsonResponse({"type": "client_error", "errors": [
        {"code": ErrorCode.NOT_FOUND.value, "detail": "Not found.", "attr": None}]}, status=404)


urlpatterns = [
    path("api/v1/", ApiRootView.as_view(), name="api-root"),
    path("api/v1/", include(router.urls + extra)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # Last, and only for paths ending in "/": a path without it is still redirected to it
    # (APPEND_SLASH) when that one exists.
    re_path(r"^api/[\s\S]*/$", not_found),  # any character, a newline too
]
