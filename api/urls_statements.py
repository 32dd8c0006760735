from rest_framework.routers import SimpleRouter

from api.views_statements import StatementViewSet

router = SimpleRouter(trailing_slash="/?")
router.register("statements", StatementViewSet, basename="statement")
urlpatterns = router.urls
