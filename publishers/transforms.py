"""Cross-cutting post transforms: UTM tags, link tracking, a compliance footer.

A plugin returns :class:`PostTransform` values from ``register_post_transforms``. The pipeline
runs them in ``(order, name)`` order - never in plugin-registration order, which depends on how
packages happen to be installed - and each gets the previous one's output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from publishers.values import ChannelContext, Post

__all__ = ["PostTransform"]


@dataclass(frozen=True, slots=True)
class PostTransform:
    """A named, ordered function from a post to a new post.

    :param name: unique, stable name (shown in errors and traces), e.g. ``"acme.footer"``.
    :param apply: ``apply(post, channel) -> Post``; build the result with ``post.replace(...)``.
        It must be pure: it can run more than once for one publication (retries).
    :param order: lower runs first; ties are broken by ``name``. Kairos' own rendering
        (placeholders, CTA, UTM) happens before every transform.
    """

    name: str
    apply: Callable[[Post, ChannelContext], Post]
    order: int = 100

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a PostTransform needs a name")
        if not callable(self.apply):
            raise TypeError(f"PostTransform {self.name!r}: apply must be callable")

    @property
    def sort_key(self) -> tuple[int, str]:
        return (self.order, self.name)
