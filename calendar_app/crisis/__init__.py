"""Crisis playbooks: scenarios written ahead, activated in one call, rehearsed by drills.

* :mod:`.models` - the playbook (scope, holding statements, the role required while active, who
  is notified, an automatic end), each activation or drill, and the publications it held.
* :mod:`.scope` - which publications and templates a playbook covers.
* :mod:`.services` - activate (one transaction, set-based), resume (all or some, lateness policy
  applied), drill (the activation run and rolled back), automatic end, and the guards the
  firing and approval paths call while a crisis is active.
* :mod:`.api`, :mod:`.admin`, and ``manage.py crisis``.

Held is a publication state of its own (``PublicationStatus.HELD``): not pending, so no worker,
dispatcher, sweep or ``/health/`` count ever sees it as work; not cancelled, so approvals, due
times and everything else are kept for the moment it is resumed.
"""
