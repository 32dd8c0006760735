"""A grant as an IATI 2.03 activity (``reports.iati``), refused when it would fail the IATI
Validator's rules (``reports.iati_rules``). Finance officers and the grant's donors; a partner
member gets 404, as for a grant it may not read."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from api.access import grant_not_found, grant_or_404
from api.schema import ErrorResponse404Serializer, ErrorResponse409Serializer
from grants.access import sees_whole_grant
from reports.iati_rules import iati_export

IATI_MEDIA_TYPE = "application/xml"


class GrantIatiView(APIView):
    def perform_content_negotiation(self, request, force=False):
        # A client asking for XML still gets its errors, in JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="grants_iati",
        summary="The grant as an IATI 2.03 activity (XML)",
        description=(
            "The grant published in the IATI Activity Standard 2.03, the XML that donors such as Luxembourg's "
            "development cooperation read and publish: an `iati-activities` document with one `iati-activity`, "
            "valid against the official schema. It carries the grant's identifier, reporting organisation, "
            "French and English title and description, donors (funding), the NGO (accountable, extending) and "
            "the implementing partners, status, dates, recipient country, each city with its coordinates, DAC "
            "sectors, a budget per project year (original, and revised once a revision is approved) and the "
            "transactions: each donor's incoming commitment, a disbursement per transfer to a partner (in the "
            "currency sent) and the expenditures summed by partner and month in EUR under the grant's "
            "conversion method. Finance officers and the grant's donors; a partner member gets 404.\n\n"
            "Before answering, the export applies the IATI Validator's data-quality rules and refuses with 409 "
            "`iati_rules_failed` rather than publish data that would fail them: one error per violation, its "
            "`rule` the rule's number (1.1.21 identifier, 2.1.2 sector percentages, 6.2.2 sectors, 7.5.2 and "
            "7.5.3 budgets, 7.8.1 currencies, 11.1.x activity dates, 11.2.x transaction dates)."
        ),
        responses={
            (200, IATI_MEDIA_TYPE): OpenApiResponse(response=OpenApiTypes.BINARY,
                                                    description="The iati-activities document, UTF-8."),
            404: OpenApiResponse(response=ErrorResponse404Serializer, description="No such grant for this user."),
            409: OpenApiResponse(response=ErrorResponse409Serializer,
                                 description="The activity would fail the IATI Validator's rules: each error is "
                                             "one violation, `rule` its number."),
        },
    )
    def get(self, request: Request, code: str):
        grant = grant_or_404(request.user, code)
        if not sees_whole_grant(request.user):
            raise grant_not_found(code)
        response = StreamingHttpResponse(iati_export(grant), content_type=f"{IATI_MEDIA_TYPE}; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="{grant.code}-iati.xml"'
        return response
