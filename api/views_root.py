"""The API's index: ``GET /api/v1/`` lists the resources."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import DocsReadable
from api.resources import RESOURCES


class ApiRootView(APIView):
    # Like the docs: for anyone in development (API_DOCS_PUBLIC), else for authenticated users.
    permission_classes = [DocsReadable]

    @extend_schema(
        operation_id="api_root",
        summary="List the API's resources",
        description="Each resource's name, URL (with `{placeholders}` for the paths under a grant) and what it "
                    "is, with the addresses of the schema and its documentation.",
        responses={200: inline_serializer("ApiRoot", {
            "resources": inline_serializer("ApiResource", {
                "name": serializers.CharField(), "url": serializers.CharField(),
                "description": serializers.CharField()}, many=True),
            "schema": serializers.CharField(), "docs": serializers.CharField(),
            "redoc": serializers.CharField()})},
    )
    def get(self, request):
        base = request.build_absolute_uri("/api/v1/")
        return Response({
            "resources": [{"name": r.name, "url": base + r.path, "description": r.description}
                          for r in RESOURCES],
            "schema": request.build_absolute_uri("/api/schema/"),
            "docs": request.build_absolute_uri("/api/docs/"),
            "redoc": request.build_absolute_uri("/api/redoc/"),
        })
