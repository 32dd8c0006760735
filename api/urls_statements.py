from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.routers import SimpleRouter

from api.views_statements import StatementViewSet

router = SimpleRouter()
router.register("statements", StatementViewSet, basename="statement")


@extend_schema_view(template=extend_schema(exclude=True), problems=extend_schema(exclude=True))
class _FileWithoutSlash(StatementViewSet):
    """``statements/template.xlsx`` and ``statements/{id}/problems.xlsx`` as the issues write them,
    without the router's trailing slash (a file name reads better without one). Documented once,
    under the router's paths."""


urlpatterns = [
    path("statements/template.xlsx", _FileWithoutSlash.as_view({"get": "template"}),
         name="statement-template-file"),
    path("statements/<int:pk>/problems.xlsx", _FileWithoutSlash.as_view({"get": "problems"}),
         name="statement-problems-file"),
    *router.urls,
]
