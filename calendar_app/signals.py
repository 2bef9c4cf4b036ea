"""Keeping derived rows in step whichever door changed the source: brand fits when a brand or an
event changes, and approvals when an experiment's variants change."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from calendar_app import workflow
from calendar_app.fit_records import refresh_for_brand, refresh_for_event
from calendar_app.models import Brand, Event, Experiment, Variant


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


# --- an experiment's variants are part of what was approved ---------------------------------

_VARIANT_BEFORE = "_kairos_variant_before"


def _offer(variant: Variant) -> tuple[str, str, str]:
    return (variant.cta_text, variant.cta_url, variant.cta_button)


@receiver(pre_save, sender=Variant, dispatch_uid="kairos_variant_changing")
def variant_changing(sender, instance: Variant, raw: bool = False, **kwargs) -> None:
    """Before a variant is written: remember its call to action, and refuse the change while
    posts of its experiment are going out."""
    if raw:
        return
    stored = Variant.objects.filter(pk=instance.pk).first() if instance.pk else None
    setattr(instance, _VARIANT_BEFORE, _offer(stored) if stored else None)
    if stored is None or _offer(stored) != _offer(instance):
        workflow.variants_changing(instance.experiment_id)


@receiver(post_save, sender=Variant, dispatch_uid="kairos_variant_changed")
def variant_saved(sender, instance: Variant, created: bool, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    before = getattr(instance, _VARIANT_BEFORE, None)
    if created or before != _offer(instance):
        what = "was added" if created else "changed its call to action"
        workflow.variants_changed(
            instance.experiment_id,
            f"Variant “{instance.key}” of the experiment {what}: back to review.",
            workflow.current_actor(),
        )


@receiver(pre_delete, sender=Variant, dispatch_uid="kairos_variant_removing")
def variant_removing(sender, instance: Variant, **kwargs) -> None:
    workflow.variants_changing(instance.experiment_id)


@receiver(post_delete, sender=Variant, dispatch_uid="kairos_variant_removed")
def variant_removed(sender, instance: Variant, **kwargs) -> None:
    if Experiment.objects.filter(pk=instance.experiment_id).exists():  # not a cascade
        workflow.variants_changed(
            instance.experiment_id,
            f"Variant “{instance.key}” was removed from the experiment: back to review.",
            workflow.current_actor(),
        )
