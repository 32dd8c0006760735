from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="swagger-ui"), name="home"),
    path("", include("api.urls")),
    path("admin/", admin.site.urls),
    path("portal/", include("portal.urls")),
]
