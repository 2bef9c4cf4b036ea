"""Listening: the conversation brought back as field research.

* :mod:`.models` - messages (once per channel and network id), stream cursors, watches, alerts
  and each workspace's retention policy.
* :mod:`.classify` - question / complaint / praise / other and a tone, offline (VADER lexicons).
* :mod:`.collect` - the schedule that reads every channel's streams by cursor, rate-limit aware.
* :mod:`.surges` - per-watch baselines and the alerts a surge raises (never a post).
* :mod:`.services` - corrections, purging a person, retention, replying, reply stats per variant.
* :mod:`.api`, :mod:`.admin` - the inbox and everything else, for people and integrations.
"""
