"""LinkedIn - CONTRACT tests against ``linkedin_server`` on 127.0.0.1 (LinkedIn's documented
versioned REST API, not LinkedIn): the conformance kit, the member/organisation picker, the
pinned version header and what a sunset version does, images and documents, share statistics."""

from __future__ import annotations

import uuid

import pytest

from plugins.linkedin.network import API_VERSION, LinkedInNetwork
from publishers import (
    ChannelContext,
    CredentialsExpired,
    MediaRef,
    PermanentError,
    Post,
    PublicationRef,
)
from publishers.testing import FakeServer, NetworkConformance, Reply, deliver_with
from publishers.testing.delivery import tiny_png
from tests.plugins.linkedin_server import MEMBER, ORG, LinkedInContractServer

pytestmark = pytest.mark.e2e
ORG_URN = f"urn:li:organization:{ORG['id']}"


@pytest.fixture
def linkedin(monkeypatch):
    with LinkedInContractServer() as server:
        monkeypatch.setenv("KAIROS_LINKEDIN_API_URL", server.base_url)
        monkeypatch.setenv(
            "KAIROS_LINKEDIN_AUTHORIZE_URL", f"{server.base_url}/oauth/v2/authorization"
        )
        monkeypatch.setenv("KAIROS_LINKEDIN_TOKEN_URL", f"{server.base_url}/oauth/v2/accessToken")
        monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "linkedin")
        yield server


def org_channel(server, token=None, author=ORG_URN) -> ChannelContext:
    secrets = server.issue("lena")
    if token is not None:
        secrets["access_token"] = token
    return ChannelContext(
        id="1",
        network="linkedin",
        handle=ORG["localizedName"],
        settings={"author": author},
        secrets=secrets,
    )


def unique(text: str = "We are hiring") -> Post:
    return Post(body=f"{text} {uuid.uuid4().hex[:8]}")


class TestLinkedInConformance(NetworkConformance):
    @pytest.fixture
    def network(self):
        return LinkedInNetwork()

    @pytest.fixture
    def channel(self, linkedin):
        return org_channel(linkedin)

    @pytest.fixture
    def sample_post(self):
        return unique("Conformance check from Kairos")

    @pytest.fixture
    def failing_channels(self, linkedin):
        return [(org_channel(linkedin, token="not-a-valid-token-7"), CredentialsExpired)]

    def test_find_existing(self, network, channel, sample_post) -> None:
        """LinkedIn keeps no key: the post is found by its text among the author's posts."""
        assert network.find_existing("k", channel, post=sample_post) is None
        result = network.publish(sample_post, channel, "k")
        found = network.find_existing("k", channel, post=sample_post)
        assert found is not None and found.external_id == result.external_id


def test_the_picker_offers_the_member_and_each_organisation(linkedin) -> None:
    token = {**linkedin.issue("lena"), "expires_at": 9_999_999_999}
    accounts = LinkedInNetwork().oauth_accounts({}, token)
    assert [(a.kind, dict(a.settings)) for a in accounts] == [
        ("Member", {"author": f"urn:li:person:{MEMBER['sub']}"}),
        ("Organisation", {"author": ORG_URN}),
    ]
    assert accounts[1].handle == "Acme Shoes" and accounts[1].expires_at == 9_999_999_999
    assert set(accounts[0].secrets) == {"access_token", "refresh_token"}


def test_every_call_carries_the_pinned_version(linkedin) -> None:
    LinkedInNetwork().publish(unique(), org_channel(linkedin), "k")
    assert linkedin.versions == [API_VERSION]


def test_a_sunset_version_says_what_to_do(linkedin, monkeypatch) -> None:
    monkeypatch.setenv("KAIROS_LINKEDIN_VERSION", "202301")
    with pytest.raises(PermanentError) as sunset:
        LinkedInNetwork().publish(unique(), org_channel(linkedin), "k")
    assert sunset.value.code == "linkedin_version_sunset"
    assert "KAIROS_LINKEDIN_VERSION" in sunset.value.reason and "202301" in sunset.value.reason
    assert linkedin.li_posts == {}


@pytest.mark.parametrize(
    ("mime", "content", "kind"),
    [("image/png", tiny_png(4, 4), "image"), ("application/pdf", b"%PDF-1.4 deck", "document")],
)
def test_an_image_or_a_document_is_uploaded_then_attached(linkedin, mime, content, kind) -> None:
    network, channel = LinkedInNetwork(), org_channel(linkedin)
    media = MediaRef(
        url="https://kairos.example/m/x",
        mime_type=mime,
        size=len(content),
        alt_text="Our booth",
        name="deck.pdf" if kind == "document" else "booth.png",
    )
    linkedin.calls.clear()
    outcome = deliver_with(
        network, unique().replace(media=(media,)), channel, "k", load_media=lambda m: content
    )
    assert outcome.published, outcome.reason
    post = linkedin.li_posts[outcome.result.external_id]
    urn = post["content"]["media"]["id"]
    assert urn.startswith(f"urn:li:{kind}:") and linkedin.uploads[urn]["bytes"] == content
    assert linkedin.uploads[urn]["owner"] == ORG_URN
    assert len(linkedin.calls) == 3, "initialise, upload, post"


def test_organisation_share_statistics_and_member_social_actions(linkedin) -> None:
    network = LinkedInNetwork()
    channel = org_channel(linkedin)
    result = network.publish(unique(), channel, "k")
    ref = PublicationRef(
        publication_id="p", idempotency_key="k", network="linkedin", external_id=result.external_id
    )
    snapshot = network.fetch_metrics(ref, channel)
    assert (snapshot.impressions, snapshot.clicks, snapshot.reactions) == (540, 33, 18)
    assert (snapshot.shares, snapshot.replies) == (2, 4)
    member = org_channel(linkedin, author=f"urn:li:person:{MEMBER['sub']}")
    mine = network.publish(unique(), member, "k2")
    member_ref = PublicationRef(
        publication_id="p2", idempotency_key="k2", network="linkedin", external_id=mine.external_id
    )
    member_snapshot = network.fetch_metrics(member_ref, member)
    assert (member_snapshot.reactions, member_snapshot.replies) == (9, 3)
    network.delete(ref, channel)
    network.delete(ref, channel)
    assert list(linkedin.li_posts) == [mine.external_id]


def test_posts_reuse_one_connection(monkeypatch) -> None:
    """Two posts: one TCP connection, kept alive. The contract server runs on werkzeug's
    development server, which closes every connection, so a loopback server that keeps them
    answers as LinkedIn does here."""
    answers = (Reply(201, headers={"x-restli-id": f"urn:li:share:{n}"}) for n in range(1, 9))
    with FakeServer(lambda request: next(answers)) as server:
        monkeypatch.setenv("KAIROS_LINKEDIN_API_URL", server.url)
        monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "linkedin")
        network = LinkedInNetwork()
        channel = ChannelContext(
            id="1", network="linkedin", settings={"author": ORG_URN}, secrets={"access_token": "t"}
        )
        first = network.publish(unique(), channel, "k1")
        second = network.publish(unique(), channel, "k2")
        network.close()
    assert (first.external_id, second.external_id) == ("urn:li:share:1", "urn:li:share:2")
    assert [r.path for r in server.requests] == ["/rest/posts", "/rest/posts"]
    assert len({r.peer for r in server.requests}) == 1
