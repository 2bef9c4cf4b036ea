from django.apps import AppConfig


class CalendarAppConfig(AppConfig):
    name = "calendar_app"
    verbose_name = "Kairos calendar"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from calendar_app import checks, signals  # noqa: F401  (registration side effects)
        from calendar_app.outbound.receivers import connect as connect_webhook_receivers

        connect_webhook_receivers()
        from calendar_app.delivery.held import connect as connect_held_publications

        connect_held_publications()
        from calendar_app.approvals.services import connect as connect_approval_chains

        connect_approval_chains()
        from calendar_app.moments.holds import connect as connect_moment_holds

        connect_moment_holds()

        connection_created.connect(
            _fast_postgresql_datetimes, dispatch_uid="kairos_fast_postgresql_datetimes"
        )
        post_migrate.connect(_sync_schedules, sender=self, dispatch_uid="kairos_sync_schedules")
        post_migrate.connect(
            _install_triggers, sender=self, dispatch_uid="kairos_first_published_triggers"
        )
        post_migrate.connect(
            _install_click_function, sender=self, dispatch_uid="kairos_click_function"
        )


def _sync_schedules(sender, **kwargs) -> None:
    """Every migrate leaves Kairos's periodic tasks in place (idempotent by name)."""
    from calendar_app.schedules import sync_schedules

    sync_schedules()


def _install_triggers(sender, using: str = "default", **kwargs) -> None:
    """Every migrate leaves the first-publication triggers in place: a migration that rebuilds
    a table on SQLite drops the table's triggers (calendar_app.models.first_published)."""
    from django.db import connections

    from calendar_app.models import first_published

    first_published.install(connections[using])


def _install_click_function(sender, using: str = "default", **kwargs) -> None:
    """Every migrate leaves the click's PostgreSQL function as the code defines it
    (calendar_app.click_function)."""
    from django.db import connections

    from calendar_app import click_function

    click_function.install(connections[using])


def _fast_postgresql_datetimes(sender, connection, **kwargs) -> None:
    """PostgreSQL date-times parsed by psycopg's C loader (calendar_app.sql.pg_datetimes)."""
    if connection.vendor == "postgresql":
        from calendar_app.sql import pg_datetimes

        pg_datetimes.install(sender, connection, **kwargs)
