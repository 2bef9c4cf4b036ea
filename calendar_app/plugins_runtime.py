"""The process's plugin manager: built once, on first use, from settings.

Building the manager imports every installed plugin, so it is never done at import time (a
broken plugin would otherwise break ``manage.py migrate``). Tests replace it with
:func:`use_plugins` to run against exactly the plugins they name.
"""

from __future__ import annotations

import threading

from django.conf import settings

from publishers import KairosPlugins, build_plugin_manager

_lock = threading.Lock()
_plugins: KairosPlugins | None = None


def get_plugins() -> KairosPlugins:
    global _plugins
    if _plugins is None:
        with _lock:
            if _plugins is None:
                _plugins = build_plugin_manager(
                    disabled=settings.KAIROS_DISABLED_PLUGINS,
                    trace=settings.KAIROS_TRACE_PLUGINS,
                )
    return _plugins


def use_plugins(plugins: KairosPlugins | None) -> None:
    """Replace the process's plugins (``None``: rebuild from settings on next use)."""
    global _plugins
    with _lock:
        _plugins = plugins


def reset_plugins() -> None:
    use_plugins(None)
