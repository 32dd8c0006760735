"""URLs for ``bench/bench_api.py`` only: the product's routes plus ``bench/bare/``, a DRF view
that authenticates like the API (token) and returns a constant page of 50 expenditure-shaped
dicts, with no database work beyond authentication. It is not part of ``config.urls``."""

from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

BARE_PAGE = {
    "count": 50,
    "next": None,
    "previous": None,
    "results": [
        {
            "id": 1000 + i, "grant": "ML-ESEC-2015", "partner": "BNCE", "budget_line": "2.1",
            "location": "SEG", "date": "2016-07-01", "amount": "655957", "amount_currency": "XOF",
            "amount_eur": "1000.00", "fx_rate": "655.957000", "fx_method": "parity",
            "voucher": f"BNCE-{1000 + i}", "description": "Bench row", "status": "validated",
            "statement": None,
        }
        for i in range(50)
    ],
}


class BareView(APIView):
    """The floor: DRF's request cycle, token authentication and JSON rendering of 50 rows."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response(BARE_PAGE)


urlpatterns = [
    path("bench/bare/", BareView.as_view()),
    path("", include("config.urls")),
]
