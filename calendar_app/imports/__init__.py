"""Bulk import of content: CSV (with a downloadable template) and the same rows as JSON.

* :mod:`.content` - reading a CSV, checking every row (problems by row and column), writing
  all or nothing.
* :mod:`.api` - ``content-imports/`` (dry run or import) and ``content-imports/template/``.
* :mod:`.admin` - the admin's import page, linked from the content items list.
"""
