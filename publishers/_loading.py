"""Loading plugins: entry points with errors that name the culprit, then registration hooks.

Split from :mod:`publishers.manager` so that the facade stays readable; nothing here is public.
"""

from __future__ import annotations

import importlib.metadata
import logging

import pluggy

from publishers.errors import PluginLoadError
from publishers.registry import NetworkRegistry
from publishers.transforms import PostTransform

#: The entry-point group plugins declare in their ``pyproject.toml``.
ENTRY_POINT_GROUP = "kairos.publishers"

logger = logging.getLogger("kairos.plugins")


def register(pm: pluggy.PluginManager, plugin: object, name: str | None) -> None:
    try:
        pm.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as exc:
        label = name or pm.get_canonical_name(plugin)
        raise PluginLoadError(label, f"cannot be registered: {exc}") from exc


def load_entrypoints(pm: pluggy.PluginManager) -> None:
    # Import every entry point ourselves first, so an import error can name the entry point
    # and its distribution; then let pluggy register them, which records the distribution
    # information that list_plugin_distinfo() reports.
    loaded: dict[str, tuple[importlib.metadata.EntryPoint, str, object]] = {}
    for dist in importlib.metadata.distributions():
        dist_name = dist.metadata["name"] or "?"
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP or pm.get_plugin(ep.name) or pm.is_blocked(ep.name):
                continue
            if ep.name in loaded:
                if loaded[ep.name][0].value != ep.value:
                    logger.warning(
                        "plugin name %r is declared by %s and %s; using the first",
                        ep.name,
                        loaded[ep.name][1],
                        dist_name,
                    )
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginLoadError(
                    ep.name,
                    f"cannot be imported: {type(exc).__name__}: {exc}",
                    distribution=dist_name,
                    entry_point=ep.value,
                ) from exc
            loaded[ep.name] = (ep, dist_name, plugin)
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    except (pluggy.PluginValidationError, ValueError) as exc:
        culprit = getattr(exc, "plugin", None)
        for name, (ep, dist_name, plugin) in loaded.items():
            if culprit is None or plugin is culprit:
                raise PluginLoadError(
                    name,
                    f"cannot be registered: {exc}",
                    distribution=dist_name,
                    entry_point=ep.value,
                ) from exc
        raise PluginLoadError("?", f"cannot be registered: {exc}") from exc


def distinfo(pm: pluggy.PluginManager) -> dict[str, tuple[str | None, str | None]]:
    found: dict[str, tuple[str | None, str | None]] = {}
    for plugin, dist in pm.list_plugin_distinfo():
        name = pm.get_name(plugin)
        if name is not None:
            found[name] = (dist.project_name, dist.version)
    return found


def origin(pm: pluggy.PluginManager, name: str) -> dict[str, str | None]:
    return {"distribution": distinfo(pm).get(name, (None, None))[0]}


def plain_impls(caller: pluggy.HookCaller) -> list[pluggy.HookImpl]:
    return [i for i in caller.get_hookimpls() if not (i.hookwrapper or i.wrapper)]


def as_list(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def build_registry(pm: pluggy.PluginManager) -> NetworkRegistry:
    registry = NetworkRegistry()
    for impl in plain_impls(pm.hook.register_networks):
        try:
            returned = impl.function()
        except Exception as exc:
            raise PluginLoadError(
                impl.plugin_name,
                f"register_networks() failed: {type(exc).__name__}: {exc}",
                **origin(pm, impl.plugin_name),
            ) from exc
        for network in as_list(returned):
            registry.add(network, impl.plugin_name)  # type: ignore[arg-type]
    return registry


def collect_transforms(pm: pluggy.PluginManager) -> tuple[tuple[str, PostTransform], ...]:
    found: list[tuple[str, PostTransform]] = []
    for impl in plain_impls(pm.hook.register_post_transforms):
        try:
            returned = as_list(impl.function())
        except Exception as exc:
            raise PluginLoadError(
                impl.plugin_name,
                f"register_post_transforms() failed: {type(exc).__name__}: {exc}",
                **origin(pm, impl.plugin_name),
            ) from exc
        for transform in returned:
            if not isinstance(transform, PostTransform):
                raise PluginLoadError(
                    impl.plugin_name,
                    f"register_post_transforms() returned {transform!r}, not a PostTransform",
                )
            found.append((impl.plugin_name, transform))
    names = [t.name for _, t in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        owners = [p for p, t in found if t.name == duplicates[0]]
        raise PluginLoadError(
            owners[-1], f"transform name {duplicates[0]!r} is also used by plugin {owners[0]!r}"
        )
    return tuple(sorted(found, key=lambda pair: pair[1].sort_key))
