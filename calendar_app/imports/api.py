"""REST API of content imports, under ``/api/v1/workspaces/<slug>/``.

content-imports/            POST: check (``dry_run``) or import rows as draft items, all or
                            nothing: JSON ``{"dry_run": true, "rows": [{column: text}, ...]}``
                            or multipart with a CSV ``file`` (and ``dry_run``)
content-imports/template/   GET: the CSV template (header and one example row)

Roles: ``editor`` for both (importing writes drafts, as creating items does).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.exceptions import RequestTooLarge
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.api.views.base import AtomicMixin, WorkspaceScopedMixin
from calendar_app.imports import content
from calendar_app.models import ContentItem, Role

EXAMPLE_ROW = {
    "brand": "crunchy",
    "title": "Spring launch teaser",
    "body": "Something fresh is coming on Monday.",
    "channels": "@crunchy",
    "scheduled_at": "2027-03-01 09:00",
}


class ContentImportRowsSerializer(KairosSerializer):
    dry_run = serializers.BooleanField(
        default=False, help_text="Only check the rows and report every problem; write nothing."
    )
    rows = serializers.ListField(
        # Each row's values are checked by the import itself (text, by column), so that every
        # problem is reported by row and column in one pass, and 10,000 rows stay fast.
        child=serializers.DictField(),
        max_length=content.MAX_ROWS,
        help_text="Rows keyed by the template's columns: "
        + ", ".join(content.COLUMNS)
        + ". All values are text, as in the CSV.",
    )


class ContentImportFileSerializer(KairosSerializer):
    file = serializers.FileField(help_text="A CSV file in UTF-8 with the template's header.")
    dry_run = serializers.BooleanField(default=False)


class ContentImportProblemSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    column = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class ContentImportResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField(help_text="Rows read (blank lines skipped).")
    valid = serializers.BooleanField(help_text="True when every row can be imported.")
    problems = ContentImportProblemSerializer(many=True)
    created = serializers.ListField(
        child=serializers.IntegerField(), help_text="The new items' ids, in row order."
    )


class ContentImportViewSet(AtomicMixin, WorkspaceScopedMixin, viewsets.GenericViewSet):
    """Bulk import of draft content items; a dry run first, then all or nothing."""

    model = ContentItem
    permission = Role.EDITOR
    write_permission = Role.EDITOR
    parser_classes = [JSONParser, MultiPartParser]
    serializer_class = ContentImportRowsSerializer
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        request={
            "application/json": ContentImportRowsSerializer,
            "multipart/form-data": ContentImportFileSerializer,
        },
        responses={200: ContentImportResultSerializer, 201: ContentImportResultSerializer},
        description=(
            "Check or import content rows (CSV `file`, or JSON `rows`). With `dry_run` the "
            "answer is 200 and lists every problem by `row` and `column`; without it a sheet "
            "with any problem is refused with 400 (fields `rows.<row>.<column>`) and nothing is "
            "written, and a clean one creates every item as a draft (201). Dates are read in "
            f"the brand's time zone. At most {content.MAX_ROWS} rows."
        ),
        examples=[
            OpenApiExample(
                "Dry run", value={"dry_run": True, "rows": [EXAMPLE_ROW]}, request_only=True
            )
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if request.content_type.startswith("multipart/"):
            upload = ContentImportFileSerializer(data=request.data)
            upload.is_valid(raise_exception=True)
            file = upload.validated_data["file"]
            if file.size > content.MAX_CSV_BYTES:
                raise RequestTooLarge(f"The file is larger than {content.MAX_CSV_BYTES} bytes.")
            try:
                rows = content.read_csv(file.read(content.MAX_CSV_BYTES + 1))
            except content.ImportRefused as exc:
                if exc.code == "too_large":
                    raise RequestTooLarge(str(exc)) from None
                raise ValidationError({exc.field: [str(exc)]}, code=exc.code) from None
            dry_run, first_row = upload.validated_data["dry_run"], 2
        else:
            data = ContentImportRowsSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            rows, dry_run, first_row = (
                data.validated_data["rows"],
                data.validated_data["dry_run"],
                1,
            )
        user = getattr(self.actor, "user", None)
        checked = content.check_rows(self.workspace, rows, first_row=first_row, user=user)
        answer = {
            "dry_run": dry_run,
            "rows": checked.rows,
            "valid": checked.ok,
            "problems": [p.as_dict() for p in checked.problems],
            "created": [],
        }
        if dry_run:
            return Response(ContentImportResultSerializer(answer).data)
        if not checked.ok:
            fields: dict[str, list[str]] = {}
            for problem in checked.problems:
                key = f"rows.{problem.row}" + (f".{problem.column}" if problem.column else "")
                fields.setdefault(key, []).append(problem.message)
            raise ValidationError(fields, code="invalid_rows")
        answer["created"] = content.write(checked)
        return Response(ContentImportResultSerializer(answer).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)},
        description="The CSV template: the columns and one example row (your first brand and "
        "channel). Dates are `YYYY-MM-DD HH:MM` in the brand's time zone.",
    )
    @action(detail=False, methods=["get"])
    def template(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        response = HttpResponse(
            content.template_csv(self.workspace), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="kairos-content-import.csv"'
        return response
