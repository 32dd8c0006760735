"""Job routes (issue 16), included by ``api.urls`` under /api/v1/."""

from django.urls import path

from api import views_jobs

urlpatterns = [
    path("grants/<str:code>/reports/variance.xlsx/jobs/", views_jobs.VarianceWorkbookJobView.as_view(),
         name="report-variance-xlsx-jobs"),
    path("grants/<str:code>/revalue/jobs/", views_jobs.GrantRevalueJobView.as_view(), name="grant-revalue-jobs"),
    path("jobs/<uuid:job_id>/", views_jobs.JobView.as_view(), name="job-detail"),
    path("jobs/<uuid:job_id>/file/", views_jobs.JobFileView.as_view(), name="job-file"),
]
