"""Keeping derived rows (brand fits) in step, whichever door changed a brand or an event."""

from __future__ import annotations

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from calendar_app.fit_records import refresh_for_brand, refresh_for_event
from calendar_app.models import Brand, Event


@receiver(post_save, sender=Brand, dispatch_uid="kairos_brand_fits")
def brand_saved(sender, instance: Brand, raw: bool = False, **kwargs) -> None:
    if not raw:  # loaddata: fixtures call refresh_brand_fits once, at the end
        refresh_for_brand(instance)


@receiver(post_save, sender=Event, dispatch_uid="kairos_event_fits")
def event_saved(sender, instance: Event, raw: bool = False, **kwargs) -> None:
    if not raw:
        refresh_for_event(instance)


@receiver(pre_save, sender=Event, dispatch_uid="kairos_event_timing")
def event_raw_saving(sender, instance: Event, raw: bool = False, **kwargs) -> None:
    """``loaddata`` saves raw, skipping ``Event.save()``: a fixture must not smuggle in a rule
    that expansion would not bound, and its stored end of recurrence must be right."""
    if raw:
        instance.check_timing()
        instance.refresh_recurrence_end()
