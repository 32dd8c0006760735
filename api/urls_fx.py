"""Conversion routes; ``api.urls`` includes them under ``api/v1/``."""

from django.urls import path

from api.views_check import GrantCheckView
from api.views_fx import GrantReconciliationView, GrantRevalueView

urlpatterns = [
    path("grants/<str:code>/revalue/", GrantRevalueView.as_view(), name="grant-revalue"),
    path("grants/<str:code>/reconciliation/", GrantReconciliationView.as_view(), name="grant-reconciliation"),
    path("grants/<str:code>/check/", GrantCheckView.as_view(), name="grant-check"),
]
