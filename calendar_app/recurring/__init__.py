"""Recurring content and the evergreen queue.

* :mod:`.models` - :class:`~.models.ContentSeries` (an approved item that repeats by an RFC 5545
  rule, with ``EXDATE``\\ s) and :class:`~.models.SeriesOccurrence` (one occurrence: its own item,
  with its own publications and state); :class:`~.models.EvergreenItem` (an approved item that
  may be posted again in free slots, with a minimum gap between repeats).
* :mod:`.services` - expanding a series within the bounds of :mod:`calendar_app.recurrence`,
  copying the approved content into each occurrence, editing all occurrences, and filling free
  slots with evergreen items.
* :mod:`.api`.

Each occurrence is a content item of its own (a publication is one item × channel), so each
has its own state, can be rescheduled, cancelled or edited on its own ("edit one"), and "edit
all" changes every occurrence still to come that was not edited on its own.
"""
