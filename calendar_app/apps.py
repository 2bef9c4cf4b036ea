from django.apps import AppConfig


class CalendarAppConfig(AppConfig):
    name = "calendar_app"
    verbose_name = "Kairos calendar"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from calendar_app import checks, signals  # noqa: F401  (registration side effects)
