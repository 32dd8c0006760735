from django.urls import path

from api.views_budget import DonorApprovalView, ReallocationView

urlpatterns = [
    path("grants/<str:grant_code>/versions/<int:number>/reallocations/", ReallocationView.as_view(),
         name="version-reallocations"),
    path("grants/<str:grant_code>/versions/<int:number>/donor-approval/", DonorApprovalView.as_view(),
         name="version-donor-approval"),
]
