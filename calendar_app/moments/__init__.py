"""Moment windows (war-room mode): a live event's window, the templates armed for it, the team
on duty, and the checks that say, before kick-off, whether every armed post would go out.

* :mod:`.models` - the moment (window, brand, armed templates, sample values, team) and the
  latest readiness report it keeps.
* :mod:`.readiness` - the readiness check: every armed template × channel, green or red with
  the reason; on demand and at T-24 h, T-1 h and T-5 min (the ``kairos.moment_readiness``
  schedule).
* :mod:`.services` - firing from the moment (armed templates only), the live view, the
  report after the window, and ``tick`` (the schedule: due checks, ``moment.started`` and
  ``moment.ended``).
* :mod:`.api` and :mod:`.admin` (the war-room page).
"""
