"""Building the plugin manager, and the typed facade the host calls it through.

The manager is built by :func:`build_plugin_manager`, never at import time, so tests build their
own with exactly the plugins they name and a broken plugin fails where it can be reported.
Start-up follows one path for built-in and third-party plugins alike: spec registration,
blocked names, entry points (import errors name the entry point and its distribution),
``check_pending`` (hook-name typos), then the network registry and the transforms.

All hook calls go through :class:`KairosPlugins`, whose methods take keyword arguments, so no
call site can pass hook arguments positionally or forget one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, final

import pluggy

from publishers import _loading, hookspecs
from publishers._loading import (
    ENTRY_POINT_GROUP,
    as_list,
    build_registry,
    collect_transforms,
    distinfo,
    origin,
    plain_impls,
    register,
)
from publishers.errors import PluginLoadError, PublisherError
from publishers.hookspecs import PROJECT_NAME
from publishers.network import Network
from publishers.registry import NetworkRegistry
from publishers.transforms import PostTransform
from publishers.values import (
    ChannelContext,
    MetricSnapshot,
    Post,
    Problem,
    PublicationRef,
    PublishResult,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "KairosPlugins",
    "NetworkInfo",
    "PluginInfo",
    "build_plugin_manager",
]

logger = logging.getLogger("kairos.plugins")
trace_logger = logging.getLogger("kairos.plugins.trace")


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """One registered plugin, for ``list_networks`` and the API."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    networks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    """One installed network with where it comes from."""

    key: str
    display_name: str
    plugin: str
    distribution: str | None
    version: str | None
    network: Network

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.network.describe(),
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
        }


def build_plugin_manager(
    *,
    disabled: Iterable[str] = (),
    load_entrypoints: bool = True,
    extra_plugins: Iterable[object | tuple[str, object]] = (),
    trace: bool = False,
) -> KairosPlugins:
    """Build a plugin manager and its network registry.

    :param disabled: plugin names to block (entry-point names such as ``"webhook"``); a blocked
        plugin is never imported.
    :param load_entrypoints: discover installed plugins through the ``kairos.publishers``
        entry-point group. Tests pass ``False`` and name their plugins in ``extra_plugins``.
    :param extra_plugins: plugin modules or objects, or ``(name, plugin)`` pairs, registered
        *before* entry points - so an extra plugin registered under an entry point's name
        replaces that entry point.
    :param trace: log every hook call to the ``kairos.plugins.trace`` logger at DEBUG level.
    :raises PluginLoadError: a plugin cannot be imported or registered, implements a hook that
        does not exist (typo), or its ``register_*`` hook fails.
    :raises DuplicateNetworkError: two plugins provide the same network key.
    :raises InvalidNetworkError: a plugin registered something that is not a valid network.
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        pm.set_blocked(name)
    for item in extra_plugins:
        name, plugin = item if isinstance(item, tuple) else (None, item)
        register(pm, plugin, name)
    if load_entrypoints:
        _loading.load_entrypoints(pm)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) or repr(exc.plugin)
        raise PluginLoadError(name, str(exc), **origin(pm, name)) from exc
    undo = None
    if trace:
        undo = pm.add_hookcall_monitoring(_trace_before, _trace_after)
    registry = build_registry(pm)
    transforms = collect_transforms(pm)
    return KairosPlugins(pm, registry, transforms, trace=trace, undo_trace=undo)


def _trace_before(hook_name: str, impls: list[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
    trace_logger.debug(
        "hook %s(%s) -> %s", hook_name, ", ".join(kwargs), [i.plugin_name for i in impls]
    )


def _trace_after(
    outcome: pluggy.Result[Any], hook_name: str, impls: list[pluggy.HookImpl], kwargs: Any
) -> None:
    if outcome.exception is not None:
        trace_logger.debug("hook %s raised %r", hook_name, outcome.exception)
    else:
        trace_logger.debug("hook %s returned %s", hook_name, type(outcome.get_result()).__name__)


@final
class KairosPlugins:
    """The typed facade over the plugin manager: the only way the host calls hooks.

    :ivar networks: the :class:`~publishers.registry.NetworkRegistry`.
    :ivar manager: the underlying :class:`pluggy.PluginManager` (for introspection).
    """

    def __init__(
        self,
        manager: pluggy.PluginManager,
        networks: NetworkRegistry,
        transforms: tuple[tuple[str, PostTransform], ...],
        *,
        trace: bool = False,
        undo_trace: Any = None,
        excluded: frozenset[str] = frozenset(),
    ) -> None:
        self.manager = manager
        self.networks = networks
        self._transforms = transforms
        self._trace = trace
        self._undo_trace = undo_trace
        self._excluded = excluded
        self._subsets: dict[frozenset[str], KairosPlugins] = {}

    # --- lookup ----------------------------------------------------------------------------

    def network(self, key: str) -> Network:
        """The network for ``key``; raises ``UnknownNetworkError`` when none is installed."""
        return self.networks.get(key)

    def transforms(self) -> tuple[PostTransform, ...]:
        """Every transform, in the order the pipeline applies them: ``(order, name)``."""
        return tuple(t for owner, t in self._transforms if owner not in self._excluded)

    def without(self, plugin_names: Iterable[str]) -> KairosPlugins:
        """A view in which the named plugins' cross-cutting hooks and transforms are switched
        off (per-workspace enabling). Networks stay available. Views are cached per set."""
        names = frozenset(plugin_names) | self._excluded
        if names == self._excluded:
            return self
        if names not in self._subsets:
            self._subsets[names] = KairosPlugins(
                self.manager, self.networks, self._transforms, trace=self._trace, excluded=names
            )
        return self._subsets[names]

    # --- cross-cutting hooks --------------------------------------------------------------

    def _caller(self, name: str) -> pluggy.HookCaller:
        hook = getattr(self.manager.hook, name)
        if not self._excluded:
            return hook
        plugins = [self.manager.get_plugin(n) for n in self._excluded]
        return self.manager.subset_hook_caller(name, [p for p in plugins if p is not None])

    def validate(self, post: Post, channel: ChannelContext, network: Network) -> list[Problem]:
        """The network's own problems followed by every ``validate_post`` implementation's,
        without duplicates. Exceptions are not isolated: they are plugin bugs."""
        capabilities = network.capabilities_for(channel)
        problems: list[Problem] = []
        for part in post.parts() if post.thread else (post,):
            found = list(network.validate(post if part.part_index == 0 else part, channel))
            results = self._caller("validate_post")(
                post=part, channel=channel, capabilities=capabilities
            )
            for result in results:
                found.extend(as_list(result))  # type: ignore[arg-type]
            problems.extend(found if part.part_index == 0 else _in_part(found, part.part_index))
        unique: list[Problem] = []
        for problem in problems:
            if not isinstance(problem, Problem):
                raise TypeError(f"validation returned {problem!r}, not a publishers.Problem")
            if problem not in unique:
                unique.append(problem)
        return unique

    def resolve_placeholder(self, *, name: str, post: Post, channel: ChannelContext) -> str | None:
        """The first plugin's value for placeholder ``name``, or ``None`` when nobody knows it."""
        value = self._caller("resolve_placeholder")(name=name, post=post, channel=channel)
        return None if value is None else str(value)

    def notify_published(
        self, *, ref: PublicationRef, result: PublishResult, channel: ChannelContext
    ) -> None:
        """Broadcast ``publication_published``; each implementation isolated."""
        self._call_isolated("publication_published", ref=ref, result=result, channel=channel)

    def notify_failed(
        self, *, ref: PublicationRef, error: PublisherError, channel: ChannelContext, final: bool
    ) -> None:
        """Broadcast ``publication_failed``; each implementation isolated."""
        self._call_isolated(
            "publication_failed", ref=ref, error=error, channel=channel, final=final
        )

    def notify_unconfirmed(
        self, *, ref: PublicationRef, error: PublisherError, channel: ChannelContext
    ) -> None:
        """Broadcast ``publication_unconfirmed``; each implementation isolated."""
        self._call_isolated("publication_unconfirmed", ref=ref, error=error, channel=channel)

    def notify_metrics(
        self, *, ref: PublicationRef, snapshot: MetricSnapshot, channel: ChannelContext
    ) -> None:
        """Broadcast ``metrics_collected``; each implementation isolated."""
        self._call_isolated("metrics_collected", ref=ref, snapshot=snapshot, channel=channel)

    def _call_isolated(self, hook_name: str, **kwargs: Any) -> None:
        # pluggy stops at the first implementation that raises; a notification must reach every
        # listener, so call each implementation on its own (pretix's send_robust). Wrappers
        # are not supported on notification hooks.
        caller: pluggy.HookCaller = getattr(self.manager.hook, hook_name)
        for impl in reversed(plain_impls(caller)):
            if impl.plugin_name in self._excluded:
                continue
            if self._trace:
                trace_logger.debug("hook %s -> %s (isolated)", hook_name, impl.plugin_name)
            try:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception:
                logger.exception("plugin %r failed in hook %s", impl.plugin_name, hook_name)

    # --- introspection --------------------------------------------------------------------

    def plugin_info(self) -> list[PluginInfo]:
        """Every registered plugin with its distribution and version (when it came from an
        entry point), the hooks it implements and the networks it provides, sorted by name."""
        dists = distinfo(self.manager)
        infos = []
        for name, plugin in self.manager.list_name_plugin():
            if plugin is None:  # blocked
                continue
            dist, version = dists.get(name, (None, None))
            module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
            hooks = tuple(sorted(c.name for c in self.manager.get_hookcallers(plugin) or ()))
            networks = tuple(e.key for e in self.networks if e.plugin == name)
            infos.append(PluginInfo(name, module, dist, version, hooks, networks))
        return sorted(infos, key=lambda info: info.name)

    def network_info(self) -> list[NetworkInfo]:
        """Every installed network with the plugin, distribution and version providing it."""
        dists = distinfo(self.manager)
        return [
            NetworkInfo(
                e.key,
                e.network.display_name,
                e.plugin,
                *dists.get(e.plugin, (None, None)),
                e.network,
            )
            for e in self.networks
        ]

    def close(self) -> None:
        """Stop hook tracing, if it was switched on."""
        if self._undo_trace is not None:
            self._undo_trace()
            self._undo_trace = None

    def __repr__(self) -> str:
        names = [name for name, plugin in self.manager.list_name_plugin() if plugin is not None]
        return f"<KairosPlugins plugins={sorted(names)} networks={self.networks.keys()}>"


def _in_part(problems: list[Problem], index: int) -> list[Problem]:
    """Address a later thread part's problems to it (``body`` → ``thread.2.body``)."""
    out = []
    for problem in problems:
        if not isinstance(problem, Problem):
            raise TypeError(f"validation returned {problem!r}, not a publishers.Problem")
        where = f"thread.{index}" if problem.field is None else f"thread.{index}.{problem.field}"
        out.append(Problem(problem.code, f"Part {index + 1}: {problem.message}", where))
    return out
