"""Approvals an agency trusts (issue 11, part 3), on top of :func:`calendar_app.workflow.approve`.

* :mod:`.models` - a brand's approval policy (separation of duties), its chain of ordered steps
  (each decided by one or all of a group), the votes each step received on one exact version,
  and the signed links that let a client without an account decide.
* :mod:`.services` - the checks and the bookkeeping ``workflow.approve`` calls under the item's
  row lock: who may approve (not the author under separation of duties; a member of the step
  that decides now), and whether the chain is complete (only then does the item become
  approved). Votes are per version: editing the content bumps the version, so the chain starts
  again at its first step without anything being deleted.
* :mod:`.links` - the client's page: ``GET`` shows exactly the version to decide on (never
  decides: mail scanners prefetch links), ``POST`` approves or rejects, once.
* :mod:`.api`, :mod:`.admin`.

A brand without a chain approves as before: one approver's approval.
"""
