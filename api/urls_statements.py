from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.routers import SimpleRouter

from api.views_statements import StatementViewSet

router = SimpleRouter()
router.register("statements", StatementViewSet, basename="statement")


@extend_schema_view(template=extend_schema(exclude=True))
class _TemplateWithoutSlash(StatementViewSet):
    """``statements/template.xlsx`` as the issue writes it, without the router's trailing slash
    (a file name reads better without one). Documented once, under the router's path."""


urlpatterns = [
    path("statements/template.xlsx", _TemplateWithoutSlash.as_view({"get": "template"}),
         name="statement-template-file"),
    *router.urls,
]
