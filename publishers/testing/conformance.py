"""The network contract as a reusable pytest suite.

A plugin proves it keeps the contract by subclassing :class:`NetworkConformance` in its own
tests and providing two fixtures::

    from publishers.testing import NetworkConformance

    class TestMyNetworkConformance(NetworkConformance):
        @pytest.fixture
        def network(self):
            return MyNetwork()

        @pytest.fixture
        def channel(self, fake_server):
            return ChannelContext(id="c1", network="mynet", settings={"base_url": fake_server.url})

Optional overrides: ``sample_post`` (a post the network accepts), ``failing_channels`` (channels
set up to make ``publish`` fail, with the error class expected) and :meth:`count_posts` (how many
posts the network holds, to prove an idempotent retry makes only one).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from publishers.errors import PublisherError
from publishers.listening import LISTENING_STREAMS, InboundMessage, MessagePage
from publishers.network import NETWORK_KEY, Network, SettingField, check_network
from publishers.progress import MemoryProgress
from publishers.testing.delivery import deliver_with, tiny_png
from publishers.values import (
    METRIC_NAMES,
    Capabilities,
    ChannelContext,
    MediaRef,
    MetricSnapshot,
    Post,
    Problem,
    PublicationRef,
    PublishResult,
    ThreadPart,
    VariantOffer,
)

__all__ = ["NetworkConformance"]


def _key() -> str:
    return f"conformance-{uuid.uuid4().hex}"


class NetworkConformance:
    """Subclass as ``Test<Something>`` and provide the ``network`` and ``channel`` fixtures."""

    # --- fixtures and hooks a subclass provides -------------------------------------------

    @pytest.fixture
    def network(self) -> Network:
        pytest.fail("provide a `network` fixture returning your Network instance")

    @pytest.fixture
    def channel(self) -> ChannelContext:
        pytest.fail("provide a `channel` fixture returning a ChannelContext for your network")

    @pytest.fixture
    def sample_post(self, network: Network) -> Post:
        """A short post the network must accept; override when your network needs more."""
        caps = network.capabilities
        return Post(
            body="Conformance check from Kairos",
            links=("https://example.com/kairos",) if caps.supports_links else (),
            variant_key="control",
            brand_name="Kairos",
            brand_slug="kairos",
            publication_id=uuid.uuid4().hex,
            scheduled_for=datetime.now(UTC),
        )

    @pytest.fixture
    def failing_channels(self) -> list[tuple[ChannelContext, type[PublisherError]]]:
        """Channels on which ``publish`` must fail, with the error class expected."""
        return []

    def count_posts(self, network: Network, channel: ChannelContext) -> int | None:
        """How many posts the network holds for ``channel``; ``None`` when unknowable."""
        return None

    # --- helpers ---------------------------------------------------------------------------

    @staticmethod
    def ref_for(network: Network, post: Post, key: str, result: PublishResult) -> PublicationRef:
        return PublicationRef(
            publication_id=post.publication_id,
            idempotency_key=key,
            network=network.key,
            external_id=result.external_id,
            url=result.url,
            variant_key=post.variant_key,
        )

    # --- the contract ----------------------------------------------------------------------

    def test_network_registers(self, network: Network) -> None:
        assert check_network(network) is None
        assert NETWORK_KEY.match(network.key)
        assert network.display_name.strip()

    def test_capabilities_well_formed(self, network: Network) -> None:
        caps = network.capabilities
        assert isinstance(caps, Capabilities)
        assert set(caps.metrics) <= set(METRIC_NAMES)
        assert len(set(caps.metrics)) == len(caps.metrics), "metrics listed twice"
        assert caps.max_text_length is None or caps.max_text_length > 0
        if not caps.supports_links:
            assert not caps.max_links
        for spec in (*network.settings_schema, *network.secret_fields):
            assert isinstance(spec, SettingField) and spec.name and spec.label
        assert network.describe()["key"] == network.key

    def test_validate_accepts_sample_post(
        self, network: Network, channel: ChannelContext, sample_post: Post
    ) -> None:
        assert network.validate(sample_post, channel) == []

    def test_validate_reports_overlong_text(
        self, network: Network, channel: ChannelContext, sample_post: Post
    ) -> None:
        limit = network.capabilities.max_text_length
        if limit is None:
            pytest.skip("the network declares no text length limit")
        problems = network.validate(sample_post.replace(body="x" * (limit + 1)), channel)
        assert problems, "a post longer than max_text_length must be refused"
        assert all(isinstance(p, Problem) and p.code and p.message for p in problems)

    def test_publish_returns_result(
        self, network: Network, channel: ChannelContext, sample_post: Post
    ) -> None:
        result = network.publish(sample_post, channel, _key())
        assert isinstance(result, PublishResult)
        assert result.external_id
        assert result.published_at.tzinfo is not None

    def test_idempotency_key_respected(
        self, network: Network, channel: ChannelContext, sample_post: Post
    ) -> None:
        if not network.capabilities.supports_idempotency_key:
            pytest.skip("the network does not declare idempotency key support")
        key = _key()
        before = self.count_posts(network, channel)
        first = network.publish(sample_post, channel, key)
        second = network.publish(sample_post, channel, key)
        assert first.external_id == second.external_id
        if before is not None:
            assert self.count_posts(network, channel) == before + 1, "one key, one post"

    def test_distinct_keys_make_distinct_posts(
        self, network: Network, channel: ChannelContext, sample_post: Post
    ) -> None:
        first = network.publish(sample_post, channel, _key())
        second = network.publish(sample_post, channel, _key())
        assert first.external_id != second.external_id

    def test_no_split_is_reported_without_per_recipient_split(
        self, network: Network, channel: ChannelContext, sample_post: Post
    ) -> None:
        """A network that does not split must not report a split either: Kairos would count
        exposures per variant that never happened."""
        if network.capabilities.per_recipient_split:
            pytest.skip("the network splits per recipient (checked below)")
        result = network.publish(sample_post, channel, _key())
        assert dict(result.recipients_per_variant) == {}, "no split without per_recipient_split"

    def test_per_recipient_split_reports_counts(
        self, network: Network, channel: ChannelContext, sample_post: Post
    ) -> None:
        if not network.capabilities.per_recipient_split:
            pytest.skip("the network does not claim per_recipient_split")
        post = sample_post.replace(
            variant_key="",
            cta=None,
            variants=(VariantOffer("control", 1), VariantOffer("challenger", 1)),
        )
        assert network.validate(post, channel) == []
        key = _key()
        result = network.publish(post, channel, key)
        counts = dict(result.recipients_per_variant)
        assert set(counts) <= {"control", "challenger"}, f"unknown variant keys in {counts}"
        assert all(isinstance(n, int) and n >= 0 for n in counts.values())
        if network.capabilities.supports_idempotency_key:
            again = network.publish(post, channel, key)
            assert dict(again.recipients_per_variant) == counts, "a retry must split alike"

    def test_unclaimed_methods_refuse(
        self, network: Network, channel: ChannelContext, sample_post: Post
    ) -> None:
        """What the network does not claim must say so (a ``PublisherError``), never half-work."""
        caps = network.capabilities
        if caps.can_find_existing and caps.can_delete:
            pytest.skip("the network claims both find_existing and delete")
        if not caps.can_find_existing:
            with pytest.raises(PublisherError):
                network.find_existing(_key(), channel)
        if not caps.can_delete:
            result = network.publish(sample_post, channel, key := _key())
            with pytest.raises(PublisherError):
                network.delete(self.ref_for(network, sample_post, key, result), channel)

    # --- listening (publishers/listening.py) ------------------------------------------------

    #: Terms a watch would search for; override for a network whose fake server answers others.
    listening_terms: tuple[str, ...] = ("kairos",)

    def _read_stream(
        self, network: Network, channel: ChannelContext, stream: str, cursor: str, posts: list
    ) -> MessagePage:
        if stream == "replies":
            return network.fetch_replies(channel, cursor, posts)
        if stream == "mentions":
            return network.fetch_mentions(channel, cursor)
        return network.search_posts(channel, self.listening_terms, cursor)

    def test_listening_streams_well_formed(
        self, network: Network, channel: ChannelContext, sample_post: Post
    ) -> None:
        """Each claimed stream returns a page of messages with readable ids, aware times and a
        cursor that is accepted when handed back. Claims are the channel's
        (``capabilities_for``): a network may read a stream only on some servers."""
        claimed = network.capabilities_for(channel).listening
        if not claimed:
            pytest.skip("the network reads no conversation")
        result = network.publish(sample_post, channel, key := _key())
        posts = [self.ref_for(network, sample_post, key, result)]
        for stream in claimed:
            page = self._read_stream(network, channel, stream, "", posts)
            assert isinstance(page, MessagePage), stream
            ids = [m.network_id for m in page.messages]
            assert all(isinstance(m, InboundMessage) for m in page.messages), stream
            assert len(ids) == len(set(ids)), f"{stream}: a page repeats a message"
            for message in page.messages:
                assert message.published_at.tzinfo is not None
            again = self._read_stream(network, channel, stream, page.cursor, posts)
            assert isinstance(again, MessagePage), stream
            if stream == "replies":
                assert all(m.in_reply_to for m in page.messages), "a reply names what it answers"

    def test_unclaimed_listening_refuses(self, network: Network, channel: ChannelContext) -> None:
        """A stream the network does not claim says so with a ``PublisherError``."""
        claimed = network.capabilities_for(channel).listening
        unclaimed = [s for s in LISTENING_STREAMS if s not in claimed]
        if not unclaimed:
            pytest.skip("the network reads every stream")
        for stream in unclaimed:
            with pytest.raises(PublisherError):
                self._read_stream(network, channel, stream, "", [])

    def test_find_existing(
        self, network: Network, channel: ChannelContext, sample_post: Post
    ) -> None:
        if not network.capabilities.can_find_existing:
            pytest.skip("the network does not claim can_find_existing")
        key = _key()
        assert network.find_existing(key, channel) is None
        result = network.publish(sample_post, channel, key)
        found = network.find_existing(key, channel)
        assert isinstance(found, PublishResult)
        assert found.external_id == result.external_id

    def test_fetch_metrics_well_formed(
        self, network: Network, channel: ChannelContext, sample_post: Post
    ) -> None:
        key = _key()
        result = network.publish(sample_post, channel, key)
        snapshot = network.fetch_metrics(self.ref_for(network, sample_post, key, result), channel)
        assert isinstance(snapshot, MetricSnapshot)
        assert snapshot.collected_at.tzinfo is not None
        undeclared = set(snapshot.available()) - set(network.capabilities.metrics)
        assert not undeclared, f"metrics not declared in capabilities: {sorted(undeclared)}"

    def test_delete(self, network: Network, channel: ChannelContext, sample_post: Post) -> None:
        if not network.capabilities.can_delete:
            pytest.skip("the network does not claim can_delete")
        key = _key()
        result = network.publish(sample_post, channel, key)
        ref = self.ref_for(network, sample_post, key, result)
        network.delete(ref, channel)
        if network.capabilities.can_find_existing:
            assert network.find_existing(key, channel) is None

    def test_errors_are_publisher_errors(
        self,
        network: Network,
        sample_post: Post,
        failing_channels: list[tuple[ChannelContext, type[PublisherError]]],
    ) -> None:
        if not failing_channels:
            pytest.skip("no failing_channels provided")
        for failing, expected in failing_channels:
            with pytest.raises(PublisherError) as caught:
                network.publish(sample_post, failing, _key())
            error = caught.value
            assert isinstance(error, expected), f"{failing!r}: {error!r} is not {expected}"
            assert error.code and error.reason
            for secret in failing.secret_values():
                assert secret not in f"{error} {error.reason} {error.detail}"

    def test_test_connection_returns_problems(
        self, network: Network, channel: ChannelContext
    ) -> None:
        problems = network.test_connection(channel)
        assert isinstance(problems, list)
        assert all(isinstance(p, Problem) for p in problems)
        assert problems == [], f"the test channel should pass test_connection: {problems}"

    def test_channel_repr_hides_secrets(self, channel: ChannelContext) -> None:
        for secret in channel.secret_values():
            assert secret not in repr(channel)

    # --- threads, media and reconciliation, through the pipeline as Kairos runs them ---------

    def deliver(self, network: Network, post: Post, channel: ChannelContext, key: str, **options):
        """Deliver ``post`` as Kairos does (parts, uploads, progress), with only ``network``
        installed."""
        return deliver_with(network, post, channel, key, **options)

    @pytest.fixture
    def sample_media(self) -> tuple[MediaRef, bytes]:
        """A medium the network should take, and its bytes; override for a network that
        takes no pictures (the default is a real 8x6 PNG)."""
        content = tiny_png(8, 6)
        media = MediaRef(
            url="https://example.com/kairos-conformance.png",
            mime_type="image/png",
            size=len(content),
            alt_text="A red rectangle",
            name="conformance.png",
        )
        return media, content

    def test_thread_goes_out_in_order(
        self, network: Network, channel: ChannelContext, sample_post: Post
    ) -> None:
        if not network.capabilities.supports_threads:
            pytest.skip("the network does not claim supports_threads")
        before = self.count_posts(network, channel)
        post = sample_post.replace(
            thread=(ThreadPart("Conformance part 2"), ThreadPart("Conformance part 3"))
        )
        progress = MemoryProgress()
        outcome = self.deliver(network, post, channel, key := _key(), progress=progress)
        assert outcome.published, outcome.reason
        assert len(outcome.parts) == 3
        assert len({p.external_id for p in outcome.parts}) == 3, "each part is its own post"
        again = self.deliver(network, post, channel, key, progress=progress)
        assert [p.external_id for p in again.parts] == [p.external_id for p in outcome.parts]
        if before is not None:
            assert self.count_posts(network, channel) == before + 3, "three parts, three posts"

    def test_media_are_uploaded_and_attached(
        self,
        network: Network,
        channel: ChannelContext,
        sample_post: Post,
        sample_media: tuple[MediaRef, bytes],
    ) -> None:
        caps = network.capabilities_for(channel)
        if not caps.supports_media:
            pytest.skip("the network does not claim supports_media")
        media, content = sample_media
        if not caps.accepts_media_type(media.mime_type):
            pytest.skip(f"the network takes no {media.mime_type}; override sample_media")
        post = sample_post.replace(media=(media,))
        assert network.validate(post, channel) == []
        outcome = self.deliver(network, post, channel, _key(), load_media=lambda m: content)
        assert outcome.published, outcome.reason
        too_many = caps.max_media
        if too_many is not None:
            crowded = post.replace(media=(media,) * (too_many + 1))
            assert network.validate(crowded, channel), "more media than max_media is refused"

    def test_reconciling_never_posts_twice(
        self, network: Network, channel: ChannelContext, sample_post: Post
    ) -> None:
        caps = network.capabilities
        if not (caps.can_find_existing or caps.supports_idempotency_key):
            pytest.skip("the network can neither be searched nor deduplicate")
        key = _key()
        first = self.deliver(network, sample_post, channel, key)
        assert first.published, first.reason
        before = self.count_posts(network, channel)
        # The answer was lost: Kairos retries with reconcile=True and the same key.
        again = self.deliver(network, sample_post, channel, key, reconcile=True)
        assert again.published, again.reason
        assert again.result.external_id == first.result.external_id
        if before is not None:
            assert self.count_posts(network, channel) == before, "a reconciled retry posts nothing"
