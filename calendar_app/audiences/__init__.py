"""Audience lists Kairos keeps for networks that send to them (an email newsletter).

* :mod:`.models` - lists, subscribers (consent, status, unsubscribe token), and the per-send
  recipient ledger rows that make a send resumable.
* :mod:`.services` - adding, importing (CSV) and unsubscribing subscribers; bounce and complaint
  feedback.
* :mod:`.ledger` - the host side of :class:`publishers.audience.AudienceLedger`.
* :mod:`.api`, :mod:`.admin`, :mod:`.views` (the public one-click unsubscribe page).
"""
