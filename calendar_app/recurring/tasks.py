"""The evergreen refill on a schedule (``kairos.evergreen_refill``, hourly).

Without it, evergreen items repeat only when someone presses "refill" (API or admin). Each brand
with an active evergreen item is refilled in its own transaction, as the system: one brand whose
refill is refused (a crisis holding its channels, a slot gone) never stops the others, and the
log says so in one line. A quiet hour logs nothing (one line per event that matters).
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError

from calendar_app.models import Brand
from calendar_app.recurring import services
from calendar_app.recurring.models import EvergreenItem
from calendar_app.workflow import Actor, WorkflowError

__all__ = ["refill_all_evergreen"]

logger = logging.getLogger("kairos.evergreen")


def refill_all_evergreen() -> int:
    """Plan every brand's evergreen repeats in its free slots of the next 14 days.

    :returns: how many repeats were planned, over all brands.
    """
    brand_ids = (
        EvergreenItem.objects.filter(active=True)
        .values_list("content_item__brand_id", flat=True)
        .distinct()
        .order_by("content_item__brand_id")
    )
    actor = Actor.system("evergreen refill")
    total = 0
    for brand in Brand.objects.filter(pk__in=list(brand_ids)).order_by("pk"):
        try:
            planned = services.refill_evergreen(brand, actor)
        except (services.SeriesError, WorkflowError, ValidationError) as exc:
            logger.warning("evergreen refill of brand %s refused: %s", brand.pk, exc)
            continue
        if planned:
            logger.info(
                "evergreen refill of brand %s: %s repeat(s) planned", brand.pk, len(planned)
            )
        total += len(planned)
    return total
