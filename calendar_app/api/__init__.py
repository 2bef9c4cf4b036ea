"""Kairos REST API (DRF): versioned under ``/api/v1/``, nested by workspace, pretix style.

Every view gets its workspace from the URL through :class:`~calendar_app.api.permissions.WorkspacePermission`
and builds its queryset from it; every workflow action goes through :mod:`calendar_app.workflow`.
"""
