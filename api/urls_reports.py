"""Report routes, included by ``api.urls`` under /api/v1/."""

from django.urls import path

from api import views_reports
from api.views_iati import GrantIatiView

urlpatterns = [
    path("grants/<str:code>/reports/variance/", views_reports.VarianceReportView.as_view(),
         name="report-variance"),
    path("grants/<str:code>/reports/burn-rate/", views_reports.BurnRateReportView.as_view(),
         name="report-burn-rate"),
    path("grants/<str:code>/reports/cost-per-beneficiary/", views_reports.CostPerBeneficiaryReportView.as_view(),
         name="report-cost-per-beneficiary"),
    path("grants/<str:code>/reports/variance.xlsx", views_reports.VarianceWorkbookView.as_view(),
         name="report-variance-xlsx"),
    path("grants/<str:code>/iati.xml", GrantIatiView.as_view(), name="grant-iati"),
]
