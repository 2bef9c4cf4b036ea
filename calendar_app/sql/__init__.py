"""SQL compiled once and rows converted cheaply, for the read paths run on every request.

Neither knows HTTP: the API's read paths (calendar_app.api.read) and the calendar's domain
code (calendar_app.calendar_view) both use them.
"""
