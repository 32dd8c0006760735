from django.urls import path
from django.views.i18n import set_language

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("language/", set_language, name="language"),
    path("<str:grant>/<str:period>/", views.quarter, name="quarter"),
    path("<str:grant>/<str:period>/template.xlsx", views.template, name="template"),
    path("<str:grant>/<str:period>/upload/", views.upload, name="upload"),
    path("<str:grant>/<str:period>/submit/", views.submit, name="submit"),
]
