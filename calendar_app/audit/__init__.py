"""The audit trail in the API: who moved which item where (transitions), who approved or
rejected which version (approvals), and every fire of a reactive template (the fire history).

Read-only: these records are written by :mod:`calendar_app.workflow` and
:mod:`calendar_app.reactive` and never change. Crisis holds are read at ``crises/``
(:mod:`calendar_app.crisis.api`).
"""
