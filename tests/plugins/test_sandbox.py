from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from plugins.sandbox.network import SandboxNetwork
from publishers import (
    ChannelContext,
    CredentialsExpired,
    PermanentError,
    Post,
    PublicationRef,
    Status,
    TransientError,
    build_plugin_manager,
    deliver,
)
from publishers.testing import NetworkConformance


def make_channel(tmp_path, channel_id="brand-x", **settings):
    return ChannelContext(
        id=channel_id,
        network="sandbox",
        handle="@brand",
        settings={"sandbox_dir": str(tmp_path), **settings},
    )


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 2, 8, 23, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class TestSandboxConformance(NetworkConformance):
    @pytest.fixture
    def network(self):
        return SandboxNetwork()

    @pytest.fixture
    def channel(self, tmp_path):
        return make_channel(tmp_path)

    @pytest.fixture
    def failing_channels(self, tmp_path):
        return [
            (make_channel(tmp_path, "t", fail_mode="transient"), TransientError),
            (make_channel(tmp_path, "p", fail_mode="permanent"), PermanentError),
            (make_channel(tmp_path, "e", fail_mode="expired"), CredentialsExpired),
            (make_channel(tmp_path, "o", fail_mode="timeout_after_send"), TransientError),
        ]

    def count_posts(self, network, channel):
        return len(network.posts(channel))


def test_posts_are_readable_json_lines(tmp_path):
    network = SandboxNetwork()
    channel = make_channel(tmp_path, "brand/x y")
    result = network.publish(Post(body="Dunk in the dark", variant_key="B"), channel, "k1")
    path = tmp_path / "brand_x_y.jsonl"
    assert network.path_for(channel) == path
    record = json.loads(path.read_text().splitlines()[0])
    assert record["post"]["body"] == "Dunk in the dark"
    assert record["external_id"] == result.external_id and record["idempotency_key"] == "k1"
    assert result.url.startswith("file://") and result.url.endswith(result.external_id)


def test_directory_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KAIROS_SANDBOX_DIR", str(tmp_path / "env"))
    channel = ChannelContext(id="c", network="sandbox")
    SandboxNetwork().publish(Post(body="x"), channel, "k")
    assert (tmp_path / "env" / "c.jsonl").exists()


def test_concurrent_publishes_with_one_key_make_one_post(tmp_path):
    network = SandboxNetwork()
    channel = make_channel(tmp_path)
    results = []

    def worker():
        results.append(network.publish(Post(body="race"), channel, "same-key").external_id)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert len(network.posts(channel)) == 1


def test_delete_is_an_appended_record(tmp_path):
    network = SandboxNetwork()
    channel = make_channel(tmp_path)
    result = network.publish(Post(body="x"), channel, "k")
    ref = PublicationRef("p", "k", "sandbox", result.external_id)
    network.delete(ref, channel)
    network.delete(ref, channel)  # idempotent
    assert [r["type"] for r in network.records(channel)] == ["post", "delete"]
    with pytest.raises(PermanentError, match="no such post"):
        network.delete(PublicationRef("p", "k", "sandbox", "sb_missing"), channel)
    # a new publish with the same key after deletion makes a new post
    assert network.publish(Post(body="x"), channel, "k").external_id != result.external_id


def test_metrics_grow_towards_audience_and_are_deterministic(tmp_path):
    clock = Clock()
    network = SandboxNetwork(clock=clock)
    settings = {
        "audience": 5000,
        "rates": {"ctr": 0.02, "cvr": 0.1},
        "seed": 7,
        "ramp_seconds": 600,
    }
    channel = make_channel(tmp_path, **settings)
    result = network.publish(Post(body="x", publication_id="pub-1"), channel, "k")
    ref = PublicationRef("pub-1", "k", "sandbox", result.external_id, variant_key="control")
    snapshots = []
    for minutes in (0, 1, 5, 30, 600):
        clock.now = result.published_at + timedelta(minutes=minutes)
        snapshots.append(network.fetch_metrics(ref, channel))
    assert snapshots[0].impressions == 0
    assert snapshots[-1].impressions == 5000
    for earlier, later in itertools.pairwise(snapshots):
        for name, value in earlier.available().items():
            assert later.available()[name] >= value
    assert snapshots[-1].conversions <= snapshots[-1].clicks <= snapshots[-1].impressions
    assert network.fetch_metrics(ref, channel) == snapshots[-1]
    # the same publication on another run of the sandbox gives the same numbers
    other = SandboxNetwork(clock=clock)
    copy = make_channel(tmp_path / "copy", **settings)
    again = other.publish(Post(body="x", publication_id="pub-1"), copy, "k")
    copy_ref = PublicationRef("pub-1", "k", "sandbox", again.external_id, variant_key="control")
    clock.now = again.published_at + timedelta(minutes=600)
    copy = ChannelContext(id=channel.id, network="sandbox", settings=dict(copy.settings))
    assert other.fetch_metrics(copy_ref, copy).available() == snapshots[-1].available()


def test_variant_rates_make_the_better_variant_win(tmp_path):
    clock = Clock()
    network = SandboxNetwork(clock=clock)
    channel = make_channel(
        tmp_path,
        audience=200_000,
        ramp_seconds=0,
        rates={"ctr": 0.02},
        variant_rates={"B": {"ctr": 0.03}},
    )
    clicks = {}
    for variant in ("A", "B"):
        post = Post(body="x", publication_id=f"pub-{variant}", variant_key=variant)
        result = network.publish(post, channel, f"k-{variant}")
        clock.now = result.published_at + timedelta(seconds=1)
        ref = PublicationRef(
            f"pub-{variant}", f"k-{variant}", "sandbox", result.external_id, variant_key=variant
        )
        clicks[variant] = network.fetch_metrics(ref, channel).clicks
    assert clicks["A"] == pytest.approx(4000, rel=0.1)
    assert clicks["B"] == pytest.approx(6000, rel=0.1)


def test_invalid_engagement_settings_are_problems(tmp_path):
    network = SandboxNetwork()
    channel = make_channel(tmp_path, rates={"ctr": 2}, fail_mode="sometimes")
    codes = {p.field for p in network.validate(Post(body="x"), channel)}
    assert codes == {"settings", "settings.fail_mode"}
    assert network.test_connection(channel)


@pytest.fixture
def plugins():
    return build_plugin_manager(disabled=["webhook"])


def test_scripted_failures_through_the_pipeline(tmp_path, plugins):
    post = Post(body="Go")
    cases = {
        "transient": Status.RETRY,
        "permanent": Status.FAILED,
        "expired": Status.CREDENTIALS_EXPIRED,
        "crash": Status.PLUGIN_ERROR,
    }
    for mode, status in cases.items():
        channel = make_channel(tmp_path, f"ch-{mode}", fail_mode=mode, retry_after=12)
        outcome = deliver(plugins, post, channel, "k")
        assert outcome.status is status, mode
    transient = deliver(
        plugins, post, make_channel(tmp_path, "t2", fail_mode="transient", retry_after=12), "k"
    )
    assert transient.retry_after == 12


def test_fail_times_then_success_and_timeout_reconciliation(tmp_path, plugins):
    post = Post(body="Go")
    channel = make_channel(tmp_path, "flaky", fail_mode="transient", fail_times=2)
    statuses = [deliver(plugins, post, channel, "k").status for _ in range(3)]
    assert statuses == [Status.RETRY, Status.RETRY, Status.PUBLISHED]

    channel = make_channel(tmp_path, "slow", fail_mode="timeout_after_send", fail_times=1)
    first = deliver(plugins, post, channel, "k")
    assert first.status is Status.RETRY and first.reconcile_next
    second = deliver(plugins, post, channel, "k", reconcile=first.reconcile_next)
    assert second.published and second.reconciled
    assert len(SandboxNetwork().posts(channel)) == 1


def test_each_process_reads_only_what_was_appended_since_it_last_looked(tmp_path):
    """Two network instances stand for two worker processes sharing one channel file."""
    channel = ChannelContext(
        id="shared", network="sandbox", handle="@s", settings={"sandbox_dir": str(tmp_path)}
    )
    first, second = SandboxNetwork(), SandboxNetwork()
    a = first.publish(Post(body="one"), channel, "key-1")
    b = second.publish(Post(body="two"), channel, "key-2")
    # Each sees the other's post: the same key never posts twice, across processes.
    assert second.publish(Post(body="one again"), channel, "key-1") == a
    assert first.find_existing("key-2", channel) == b
    log = next(iter(first._logs.values()))
    assert log.offset == first.path_for(channel).stat().st_size
    # A deleted post is gone for both; the same key may then post anew, once.
    first.delete(PublicationRef("p", "key-1", "sandbox", external_id=a.external_id), channel)
    assert second.find_existing("key-1", channel) is None
    again = second.publish(Post(body="one, again"), channel, "key-1")
    assert again.external_id != a.external_id
    assert first.publish(Post(body="one, again"), channel, "key-1") == again
    # A file replaced under the workers (a demo reset) is read from the start.
    first.path_for(channel).unlink()
    assert first.find_existing("key-2", channel) is None
    assert [p["post"]["body"] for p in second.posts(channel)] == []


def test_cost_of_a_post_and_of_a_metric_read_is_constant_in_the_posts_held(tmp_path, monkeypatch):
    """Records parsed and bytes read per post or metric read: the same at 10 posts and at 400
    (two instances stand for two workers sharing the channel file)."""
    from plugins.sandbox import log as log_module

    parsed, read = [], []
    original_apply, original_catch_up = log_module.ChannelLog.apply, log_module.ChannelLog.catch_up

    def apply(self, record):
        parsed.append(1)
        return original_apply(self, record)

    def catch_up(self, handle):
        before = self.offset
        result = original_catch_up(self, handle)
        read.append(self.offset - before if self.offset >= before else self.offset)
        return result

    monkeypatch.setattr(log_module.ChannelLog, "apply", apply)
    monkeypatch.setattr(log_module.ChannelLog, "catch_up", catch_up)
    channel = ChannelContext(
        id="busy", network="sandbox", handle="@b", settings={"sandbox_dir": str(tmp_path)}
    )
    workers = SandboxNetwork(), SandboxNetwork()

    made = itertools.count()

    def cost_at(held: int) -> tuple[int, int, int]:
        while (n := next(made)) < held:
            workers[n % 2].publish(Post(body=f"post {n}"), channel, f"key-{n}")
        workers[1].publish(Post(body="the other worker's last"), channel, f"other-{held}")
        parsed.clear(), read.clear()
        result = workers[0].publish(Post(body="measured"), channel, f"measured-{held}")
        after_post = (len(parsed), sum(read))
        parsed.clear(), read.clear()
        ref = PublicationRef("p", f"measured-{held}", "sandbox", external_id=result.external_id)
        workers[0].fetch_metrics(ref, channel)
        return (*after_post, len(parsed) + sum(read))

    small, large = cost_at(10), cost_at(400)
    assert small[0] == large[0] <= 3  # this post, and the two the other worker appended since
    assert large[1] <= 2 * small[1] + 200  # bytes read: the records appended since, not history
    assert small[2] == large[2] == 0  # a metric read parses nothing
