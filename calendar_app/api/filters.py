"""django-filter FilterSets. Ids in filters are scoped to the caller's workspace (a foreign id is
"not one of the available choices"), and an impossible time range is a 400, not an empty page.

Query parameters mean what the schema says and nothing else: a boolean filter takes ``true`` or
``false`` (django-filter's default widget turned ``?is_active=maybe`` into "no filter"), and
``?ordering=`` takes only the listed fields (DRF silently dropped unknown ones). Anything else is
a 400 naming the parameter, so a typo never returns a plausible but unfiltered list.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import django_filters as df
from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request

from calendar_app.models import (
    Brand,
    BrandFit,
    Channel,
    ContentItem,
    ContentStatus,
    Event,
    Experiment,
    MetricSnapshot,
    Priority,
    Publication,
    PublicationStatus,
    ReactiveTemplate,
    Variant,
)

OUT_OF_RANGE = "Give a date between 1900 and 9998."


def _scoped(model: type) -> Any:
    def queryset(request: Request | None) -> QuerySet:
        workspace = getattr(request, "workspace", None)
        if workspace is None:
            return model.objects.none()
        return model.objects.filter(workspace=workspace)

    return queryset


def _variants(request: Request | None) -> QuerySet:
    workspace = getattr(request, "workspace", None)
    if workspace is None:
        return Variant.objects.none()
    return Variant.objects.filter(experiment__workspace=workspace)


def _visible_events(request: Request | None) -> QuerySet:
    workspace = getattr(request, "workspace", None)
    if workspace is None:
        return Event.objects.none()
    return Event.objects.visible_to(workspace)


class StrictBooleanFormField(forms.Field):
    """``true``/``false`` (also ``1``/``0``, any case); anything else, empty included, is refused."""

    widget = forms.TextInput
    default_error_messages = {"invalid": "Must be true or false."}
    spellings = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value: Any) -> bool | None:
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        try:
            return self.spellings[str(value).strip().lower()]
        except KeyError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None

    def validate(self, value: Any) -> None:
        if value is None and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")


class StrictBooleanFilter(df.BooleanFilter):
    field_class = StrictBooleanFormField


class InstantFormField(IsoDateTimeField):
    """An ISO-8601 instant, in UTC, between the years 1900 and 9998 (as the body's instants).

    PostgreSQL refuses a UTC offset beyond ±15:59 and years before 4713 BC (``DataError``): a
    filter ``?end=0180-01-28T12:28:08-22:45`` that the schema allows was a 400 "cannot be stored"
    on PostgreSQL and a 200 on SQLite. Converted to UTC and bounded, it is the same everywhere.
    """

    def to_python(self, value: Any) -> datetime | None:
        result = super().to_python(value)
        if result is None:
            return None
        if timezone.is_aware(result):
            try:
                result = result.astimezone(UTC)
            except OverflowError:
                raise forms.ValidationError(OUT_OF_RANGE, code="out_of_range") from None
        if not 1900 <= result.year <= 9998:
            raise forms.ValidationError(OUT_OF_RANGE, code="out_of_range")
        return result


class InstantFilter(df.IsoDateTimeFilter):
    field_class = InstantFormField


#: How a model's rows reach their workspace, tried in order, for id filters built by DRF.
WORKSPACE_PATHS = ("workspace", "brand__workspace", "experiment__workspace")


def workspace_choices(queryset: QuerySet, workspace: Any) -> QuerySet:
    """The rows of ``queryset`` this workspace may name in a filter (events: its own and the
    shared library's). Without a workspace, none."""
    model = queryset.model
    if workspace is None:
        return queryset.none()
    if model is Event:
        return Event.objects.visible_to(workspace)
    names = {field.name for field in model._meta.get_fields()}
    for path in WORKSPACE_PATHS:
        if path.split("__")[0] in names:
            return queryset.filter(**{path: workspace})
    raise ImproperlyConfigured(f"{model.__name__} ids cannot be filtered: no path to a workspace")


class KairosFilterSet(df.FilterSet):
    """The base of every FilterSet (including those DRF builds from ``filterset_fields``).

    An empty value (``?scheduled_before=``) is refused for every filter that is not free text:
    django-filter read it as "no filter", while the schema (a date-time, an id, one of a list)
    does not allow an empty string.

    An id filter that a FilterSet did not scope itself (those built from ``filterset_fields``)
    is scoped here: another workspace's id is "not one of the available choices", exactly like
    an id that does not exist, so a filter cannot tell whether a foreign row exists.
    """

    FILTER_DEFAULTS = {
        **df.filterset.FILTER_FOR_DBFIELD_DEFAULTS,
        models.BooleanField: {"filter_class": StrictBooleanFilter},
        models.DateTimeField: {"filter_class": InstantFilter},
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        workspace = getattr(self.request, "workspace", None)
        for flt in self.filters.values():
            chosen = getattr(flt, "queryset", None)
            if isinstance(chosen, QuerySet):
                flt.queryset = workspace_choices(chosen, workspace)

    def _blank_parameters(self) -> list[str]:
        getlist = getattr(self.data, "getlist", None)
        if getlist is None:
            return []
        return [
            name
            for name, flt in self.filters.items()
            if not isinstance(flt, df.CharFilter) and any(v.strip() == "" for v in getlist(name))
        ]

    def is_valid(self) -> bool:
        valid = super().is_valid()
        blank = self._blank_parameters()
        for name in blank:
            self.form.add_error(
                name, forms.ValidationError("Give a value, or leave the parameter out.", "blank")
            )
        return valid and not blank


class KairosFilterBackend(DjangoFilterBackend):
    """django-filter's backend, building ``filterset_fields`` FilterSets on :class:`KairosFilterSet`.

    A request that names none of the FilterSet's parameters skips it: building its form (a
    deep copy of every field, a queryset per choice filter) cost a first page of the content list
    about a fifth of its time, and a detail read goes through here too, only to filter nothing.
    Every filter of an empty form leaves the queryset as it is (django-filter skips empty values,
    and our ``filter_queryset`` overrides act on values given), so the answer is the same. A
    parameter that merely starts like a filter's name (``?brand_min=``, ``?brand=`` blank) still
    runs the FilterSet, which then validates it as before.
    """

    filterset_base = KairosFilterSet

    def get_filterset(self, request: Request, queryset: QuerySet, view: Any) -> Any:
        """The view's FilterSet bound to the request, or ``None`` (nothing to filter) when no
        query parameter names one of its filters."""
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return None
        names = tuple(filterset_class.base_filters)
        if not any(key.startswith(names) for key in request.query_params):
            return None
        return filterset_class(**self.get_filterset_kwargs(request, queryset, view))


#: Names of the primary key in an ordering.
_KEYS = frozenset({"id", "pk"})


def with_tie_break(ordering: Any) -> Any:
    """``ordering`` (a string, a sequence or None) with ``pk`` (``-pk`` after a descending
    first term) appended when it orders by fields that need not be unique."""
    if not ordering:
        return ordering
    terms = [ordering] if isinstance(ordering, str) else list(ordering)
    if not all(isinstance(term, str) for term in terms):
        return ordering  # expressions: the view's own business
    if any(term.removeprefix("-") in _KEYS for term in terms):
        return terms
    return [*terms, "-pk" if terms[0].startswith("-") else "pk"]


class StrictOrderingFilter(OrderingFilter):
    """``?ordering=`` with only the view's ``ordering_fields`` (each optionally prefixed ``-``,
    comma-separated); an unknown or empty term is a 400 instead of being dropped silently.

    Every ordering ends with the primary key, in the direction of its first term, unless it
    names the key itself: rows equal in the ordered fields (the publications of one item share
    their due time, a recurring event's occurrences can share a start) otherwise come back in
    any order the database likes, and PostgreSQL does vary it, so a cursor's offset over equal
    positions, or a numbered page, could skip one row and repeat another.
    """

    def get_ordering(self, request: Request, queryset: QuerySet, view: Any) -> Any:
        return with_tie_break(self._requested(request, queryset, view))

    def _names(self, view: Any, queryset: QuerySet, request: Request | None = None) -> list[str]:
        context = {"request": request} if request is not None else {}
        return [name for name, _label in self.get_valid_fields(queryset, view, context)]

    def _requested(self, request: Request, queryset: QuerySet, view: Any) -> Any:
        values = request.query_params.getlist(self.ordering_param)
        if not values:
            return self.get_default_ordering(view)
        names = set(self._names(view, queryset, request))
        # No stripping: the schema's pattern has no spaces, so neither has the API.
        terms = [term for value in values for term in value.split(",")]
        bad = [term for term in terms if term.removeprefix("-") not in names]
        if bad or len(values) > 1:
            allowed = ", ".join(sorted(names))
            raise ValidationError(
                {
                    self.ordering_param: [
                        f"Order by one or more of: {allowed} (prefix - to reverse)."
                    ]
                },
                code="invalid",
            )
        return terms

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        try:
            queryset = view.get_queryset()
        except Exception:  # pragma: no cover - schema generation without a workspace
            queryset = view.model.objects.none()
        names = sorted(self._names(view, queryset))
        if not names:
            return []
        field = "-?(?:" + "|".join(re.escape(name) for name in names) + ")"
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": (
                    "Sort by one or more of "
                    + ", ".join(f"`{name}`" for name in names)
                    + ", comma-separated; prefix `-` to reverse."
                ),
                "schema": {"type": "string", "pattern": f"^{field}(?:,{field})*$"},
            }
        ]


class RangeFilterSet(KairosFilterSet):
    """Checks every ``(after, before)`` pair listed in ``ranges``: after must come first."""

    ranges: tuple[tuple[str, str], ...] = ()

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        data = self.form.cleaned_data
        errors = {
            before: [f"Must be later than {after}."]
            for after, before in self.ranges
            if data.get(after) and data.get(before) and data[before] <= data[after]
        }
        if errors:
            raise ValidationError(errors, code="impossible_range")
        return super().filter_queryset(queryset)


class BrandFilter(KairosFilterSet):
    class Meta:
        model = Brand
        fields = {"slug": ["exact"], "language": ["exact"]}


class ChannelFilter(KairosFilterSet):
    brand = df.ModelChoiceFilter(queryset=_scoped(Brand))

    class Meta:
        model = Channel
        fields = ["brand", "network", "status"]


class EventFilter(RangeFilterSet):
    ranges = (("start", "end"),)
    start = InstantFilter(method="noop", help_text="Occurrences ending after this instant.")
    end = InstantFilter(method="noop", help_text="Occurrences starting before this instant.")
    theme = df.CharFilter(method="filter_theme", help_text="Events tagged with this theme.")
    brand = df.ModelChoiceFilter(
        queryset=_scoped(Brand), method="filter_brand", help_text="Events scored for this brand."
    )
    min_fit = df.NumberFilter(
        method="noop", min_value=0, max_value=100, help_text="With brand: minimum effective fit."
    )
    scope = df.ChoiceFilter(
        choices=[("global", "Shared library"), ("workspace", "This workspace's own")],
        method="filter_scope",
    )

    class Meta:
        model = Event
        fields = ["source"]

    def noop(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        start, end = self.form.cleaned_data.get("start"), self.form.cleaned_data.get("end")
        if start and end:
            queryset = queryset.overlapping(start, end)
        elif start:
            queryset = queryset.filter(
                Q(ends_at__gt=start)
                | Q(recurrence_ends_at__gt=start)
                | Q(recurrence_ends_at__isnull=True, rrule__gt="")
            )
        elif end:
            queryset = queryset.filter(starts_at__lt=end)
        return queryset

    def filter_theme(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # JSON containment is not portable to SQLite; match the JSON text of the list instead.
        import json

        needle = json.dumps(value.strip().lower())
        return queryset.filter(themes__icontains=needle)

    def filter_brand(self, queryset: QuerySet, name: str, value: Brand) -> QuerySet:
        fits = BrandFit.objects.filter(brand=value)
        min_fit = self.form.cleaned_data.get("min_fit")
        if min_fit is not None:
            fits = fits.filter(
                Q(override_score__isnull=True, score__gte=min_fit) | Q(override_score__gte=min_fit)
            )
        return queryset.filter(pk__in=fits.values("event_id"))

    def filter_scope(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(workspace__isnull=value == "global")


class ContentItemFilter(RangeFilterSet):
    ranges = (("scheduled_after", "scheduled_before"),)
    brand = df.ModelChoiceFilter(queryset=_scoped(Brand))
    event = df.ModelChoiceFilter(queryset=_visible_events)
    experiment = df.ModelChoiceFilter(queryset=_scoped(Experiment))
    channel = df.ModelChoiceFilter(queryset=_scoped(Channel), field_name="channels")
    status = df.MultipleChoiceFilter(choices=ContentStatus.choices)
    priority = df.MultipleChoiceFilter(choices=Priority.choices)
    scheduled_after = InstantFilter(field_name="scheduled_at", lookup_expr="gte")
    scheduled_before = InstantFilter(field_name="scheduled_at", lookup_expr="lt")

    class Meta:
        model = ContentItem
        fields = ["brand", "event", "experiment", "channel", "status", "priority"]


class ReactiveTemplateFilter(KairosFilterSet):
    brand = df.ModelChoiceFilter(queryset=_scoped(Brand))

    class Meta:
        model = ReactiveTemplate
        fields = ["brand", "scenario", "is_active"]


class ExperimentFilter(KairosFilterSet):
    brand = df.ModelChoiceFilter(queryset=_scoped(Brand))

    class Meta:
        model = Experiment
        fields = ["brand", "status", "metric"]


class PublicationFilter(RangeFilterSet):
    ranges = (("due_after", "due_before"),)
    content_item = df.ModelChoiceFilter(queryset=_scoped(ContentItem))
    channel = df.ModelChoiceFilter(queryset=_scoped(Channel))
    variant = df.ModelChoiceFilter(queryset=_variants)
    status = df.MultipleChoiceFilter(choices=PublicationStatus.choices)
    due_after = InstantFilter(field_name="due_at", lookup_expr="gte")
    due_before = InstantFilter(field_name="due_at", lookup_expr="lt")

    class Meta:
        model = Publication
        fields = ["content_item", "channel", "variant", "status"]


class MetricSnapshotFilter(RangeFilterSet):
    ranges = (("collected_after", "collected_before"),)
    publication = df.ModelChoiceFilter(queryset=_scoped(Publication))
    variant = df.ModelChoiceFilter(queryset=_variants, field_name="publication__variant")
    experiment = df.ModelChoiceFilter(
        queryset=_scoped(Experiment), field_name="publication__variant__experiment"
    )
    collected_after = InstantFilter(field_name="collected_at", lookup_expr="gte")
    collected_before = InstantFilter(field_name="collected_at", lookup_expr="lt")

    class Meta:
        model = MetricSnapshot
        fields = ["publication", "variant", "experiment"]
