"""Hook specifications of the ``kairos`` plugin project.

Two kinds of hook:

* **Registration** - ``register_networks`` and ``register_post_transforms`` add *kinds of thing*.
  They are called once, when the plugin manager is built; errors surface and stop start-up,
  naming the plugin.
* **Cross-cutting** - validation, placeholders and notifications take part in every delivery.
  Notification hooks are isolated: one failing implementation is logged and the others still run.

Specs only grow: arguments may be added (implementations opt in by naming them), never renamed
or removed. Call sites pass keyword arguments only, through :class:`publishers.KairosPlugins`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from publishers.errors import PublisherError
    from publishers.network import Network
    from publishers.transforms import PostTransform
    from publishers.values import (
        Capabilities,
        ChannelContext,
        MetricSnapshot,
        Post,
        Problem,
        PublicationRef,
        PublishResult,
    )

PROJECT_NAME = "kairos"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --- registration -------------------------------------------------------------------------


@hookspec
def register_networks() -> Network | list[Network] | None:
    """Provide the networks this plugin delivers to.

    Called once, when the plugin manager is built (never at import time).

    :returns: a :class:`~publishers.Network` instance, a list of them, or ``None``.
    :first result wins: no; every plugin's networks are collected into the registry. A key may
        be provided only once: a duplicate raises ``DuplicateNetworkError`` naming both plugins.
    :exceptions: not isolated. An exception (including an abstract network that cannot be
        instantiated) raises ``PluginLoadError`` naming the plugin and stops start-up.
    """


@hookspec
def register_post_transforms() -> list[PostTransform] | None:
    """Provide transforms applied to every post before validation (UTM tags, link tracking,
    a compliance footer).

    Called once, when the plugin manager is built.

    :returns: a list of :class:`~publishers.PostTransform`, or ``None``.
    :first result wins: no; all transforms are collected and run in ``(order, name)`` order,
        each receiving the previous output.
    :exceptions: not isolated at registration (``PluginLoadError``). A transform that raises
        during a delivery fails that attempt as ``plugin_error`` (never retried automatically).
    """


# --- every delivery ----------------------------------------------------------------------


@hookspec
def validate_post(
    post: Post, channel: ChannelContext, capabilities: Capabilities
) -> list[Problem] | None:
    """Add problems to a post's validation (a brand-safety word list, a legal footer check).

    Called for every validation: when the API checks a draft and before every delivery, after
    the network's own ``validate``. Must be pure and fast: no I/O.

    :param post: the post after rendering and transforms.
    :param channel: the target channel (secrets included; do not log them).
    :param capabilities: the target network's capabilities.
    :returns: a list of :class:`~publishers.Problem` (empty or ``None`` when all is well).
    :first result wins: no; problems from every plugin are added together.
    :exceptions: not isolated: an exception fails the attempt as ``plugin_error``.
    """


@hookspec(firstresult=True)
def resolve_placeholder(name: str, post: Post, channel: ChannelContext) -> str | None:
    """Supply the value of a placeholder ``{{ name }}`` that Kairos itself does not know.

    Called while rendering, once per unknown placeholder name, after the values given by the
    caller (a reactive template's fire) and Kairos' built-ins (``brand.name``, ``variant``...).

    :returns: the text to insert, or ``None`` when this plugin does not know ``name``.
    :first result wins: yes - stops at the first non-``None`` result. When every plugin returns
        ``None`` the placeholder is unknown and becomes a ``Problem``; nothing is sent.
    :exceptions: not isolated: an exception fails the attempt as ``plugin_error``.
    """


# --- notifications (isolated) ------------------------------------------------------------


@hookspec
def publication_published(
    ref: PublicationRef, result: PublishResult, channel: ChannelContext
) -> None:
    """Hear that a publication went out (the home of outbound webhooks and chat notices).

    Called once per publication, after the host has committed the result.

    :returns: ignored.
    :first result wins: no; every implementation is called.
    :exceptions: isolated: a failing implementation is logged with its traceback and the others
        still run; the publication's status is not affected.
    """


@hookspec
def publication_failed(
    ref: PublicationRef, error: PublisherError, channel: ChannelContext, final: bool
) -> None:
    """Hear that a delivery attempt failed.

    Called after the host has committed the attempt, once per failed attempt.

    :param error: the classified error (``code``, ``reason``; secrets already redacted).
    :param final: ``True`` when Kairos gives up (permanent error, expired credentials, retries
        exhausted); ``False`` when another attempt is scheduled.
    :returns: ignored.
    :first result wins: no; every implementation is called.
    :exceptions: isolated: logged, the others still run.
    """


@hookspec
def publication_unconfirmed(
    ref: PublicationRef, error: PublisherError, channel: ChannelContext
) -> None:
    """Hear that a publication's outcome is unknown: the request may have reached a network
    that cannot deduplicate or be searched, so Kairos will not retry and a person must check.

    Called after the host has committed the publication as unconfirmed.

    :returns: ignored.
    :first result wins: no; every implementation is called.
    :exceptions: isolated: logged, the others still run.
    """


@hookspec
def metrics_collected(
    ref: PublicationRef, snapshot: MetricSnapshot, channel: ChannelContext
) -> None:
    """Hear that a metric snapshot was read and stored.

    Called after the host has committed the snapshot.

    :returns: ignored.
    :first result wins: no; every implementation is called.
    :exceptions: isolated: logged, the others still run.
    """
