"""The planner's statistics (calendar_app.planner_statistics) lead one brand's calendar month to
the brand's covering index, not through the whole workspace's month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from calendar_app import calendar_view, planner_statistics
from calendar_app.models import ContentItem, ContentStatus
from tests.factories import BrandFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

MAY = datetime(2027, 5, 1, tzinfo=UTC)


def _plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row) for row in cursor.fetchall())


def test_a_brands_month_is_read_from_the_brands_index_once_analysed():
    workspace = WorkspaceFactory()
    brands = BrandFactory.create_batch(8, workspace=workspace)
    ContentItem.objects.bulk_create(
        ContentItem(
            workspace=workspace,
            brand=brands[i % len(brands)],
            title=f"post {i}",
            status=ContentStatus.SCHEDULED,
            scheduled_at=MAY + timedelta(minutes=17 * i),
        )
        for i in range(4000)
    )
    assert "ANALYZE" in planner_statistics.refresh()
    if connection.vendor == "sqlite":  # the statistics the planner reads exist
        with connection.cursor() as cursor:
            cursor.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 'calendar_app_contentitem'")
            assert "content_brand_placed_covering" in {idx for (idx,) in cursor.fetchall()}
    parts = calendar_view._row_parts(
        workspace, brands[0], MAY, MAY + timedelta(days=31), {calendar_view.CONTENT}
    )
    for part in parts:  # each branch is counted on its own, then sliced in the union
        sql, params = part.query.sql_with_params()
        plan = _plan(f"SELECT COUNT(*) FROM ({sql}) counted", params)
        if connection.vendor == "sqlite":
            assert "COVERING INDEX content_brand_placed_covering" in plan, plan
        else:  # a small table may be read whole; never through the workspace-wide index alone
            assert "content_ws_scheduled" not in plan, plan


def test_the_schedule_runs_it_daily():
    from calendar_app.schedules import wanted

    assert (
        wanted()["kairos.planner_statistics"]["func"] == "calendar_app.planner_statistics.refresh"
    )
