"""Posting slots and the queue: the weekly times a brand posts at, and the approved items
waiting for them.

* :mod:`.models` - :class:`~.models.PostingSlot` (a weekday and a wall-clock time in the
  brand's zone, for one channel or for every channel of the brand) and
  :class:`~.models.QueueEntry` (an item put in a slot by "add to queue").
* :mod:`.services` - when the slots fall (DST-correct), the next free slot, adding to the
  queue, and re-planning what was queued when a slot moves or goes.
* :mod:`.api` and :mod:`.admin`.

**Daylight saving time.** Slots are wall-clock times, so a Tuesday 09:00 slot is at 09:00 in
the brand's zone in winter and in summer. On the two days a year the clocks change:

* spring forward: a slot inside the gap (02:30 in New York on the second Sunday of March)
  does not exist that day; it falls one hour later in real time (03:30 local), the way RFC 5545
  and :mod:`calendar_app.recurrence` place such times - the post still goes out that day;
* fall back: a slot inside the repeated hour (01:30 in New York on the first Sunday of
  November) happens once, at the first of the two 01:30s (as :mod:`calendar_app.timeutils`
  reads an ambiguous time) - never twice.
"""
