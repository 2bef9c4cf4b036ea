"""Kairos' publisher plugin framework.

Plugins deliver posts to networks and take part in every delivery through pluggy hooks under the
project name ``kairos``. A plugin is a module with hook implementations, declared in its
package's ``pyproject.toml``::

    [project.entry-points."kairos.publishers"]
    mynet = "kairos_mynet.plugin"

and written against this package only::

    from publishers import hookimpl

    @hookimpl
    def register_networks():
        return [MyNetwork()]

``publishers.testing`` holds the conformance kit for a plugin's own tests. This package does not
depend on the host application; see ``docs/plugins.md`` for the guide.
"""

from publishers.addresses import (
    AddressRefused,
    Target,
    is_public_address,
    pinned_request,
    private_allowed,
    resolve_target,
)
from publishers.errors import (
    CredentialsExpired,
    DuplicateNetworkError,
    FrameworkError,
    InvalidNetworkError,
    PermanentError,
    PluginLoadError,
    PublisherError,
    TransientError,
    UnknownNetworkError,
    ValidationFailed,
)
from publishers.hookspecs import PROJECT_NAME, hookimpl
from publishers.http import ClientPool, send_request
from publishers.listening import (
    LISTENING_STREAMS,
    InboundMessage,
    MessagePage,
    SearchPosition,
    StaleCursor,
    contains_term,
    messages_from,
    read_back,
)
from publishers.manager import (
    ENTRY_POINT_GROUP,
    KairosPlugins,
    NetworkInfo,
    PluginInfo,
    build_plugin_manager,
)
from publishers.media import fetch_media
from publishers.network import (
    Network,
    SettingField,
    capability_problems,
    counted_length,
    media_problems,
    settings_problems,
)
from publishers.oauth import (
    ConnectedAccount,
    OAuthApp,
    OAuthClient,
    operator_client,
    token_expiry,
    token_secrets,
)
from publishers.pipeline import Outcome, Status, deliver
from publishers.preview import PostPreview
from publishers.progress import Checkpoint, DeliveryProgress, MediaLoader, MemoryProgress
from publishers.ratelimit import RateLimit, observe_rate_limit, parse_rate_limit
from publishers.registry import NetworkRegistry
from publishers.rendering import (
    add_utm,
    apply_cta,
    apply_utm,
    check_template,
    fill,
    placeholders_in,
    render_post,
    text_with_links,
    variant_posts,
)
from publishers.retry import RetryPolicy, next_delay
from publishers.splitting import split_counts, split_recipients
from publishers.transforms import PostTransform
from publishers.values import (
    METRIC_NAMES,
    CallToAction,
    Capabilities,
    ChannelContext,
    MediaRef,
    MetricSnapshot,
    Post,
    Problem,
    PublicationRef,
    PublishResult,
    ReplyTarget,
    ThreadPart,
    VariantOffer,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "LISTENING_STREAMS",
    "METRIC_NAMES",
    "PROJECT_NAME",
    "AddressRefused",
    "CallToAction",
    "Capabilities",
    "ChannelContext",
    "Checkpoint",
    "ClientPool",
    "ConnectedAccount",
    "CredentialsExpired",
    "DeliveryProgress",
    "DuplicateNetworkError",
    "FrameworkError",
    "InboundMessage",
    "InvalidNetworkError",
    "KairosPlugins",
    "MediaLoader",
    "MediaRef",
    "MemoryProgress",
    "MessagePage",
    "MetricSnapshot",
    "Network",
    "NetworkInfo",
    "NetworkRegistry",
    "OAuthApp",
    "OAuthClient",
    "Outcome",
    "PermanentError",
    "PluginInfo",
    "PluginLoadError",
    "Post",
    "PostPreview",
    "PostTransform",
    "Problem",
    "PublicationRef",
    "PublishResult",
    "PublisherError",
    "RateLimit",
    "ReplyTarget",
    "RetryPolicy",
    "SearchPosition",
    "SettingField",
    "StaleCursor",
    "Status",
    "Target",
    "ThreadPart",
    "TransientError",
    "UnknownNetworkError",
    "ValidationFailed",
    "VariantOffer",
    "add_utm",
    "apply_cta",
    "apply_utm",
    "build_plugin_manager",
    "capability_problems",
    "check_template",
    "contains_term",
    "counted_length",
    "deliver",
    "fetch_media",
    "fill",
    "hookimpl",
    "is_public_address",
    "media_problems",
    "messages_from",
    "next_delay",
    "observe_rate_limit",
    "operator_client",
    "parse_rate_limit",
    "pinned_request",
    "placeholders_in",
    "private_allowed",
    "read_back",
    "render_post",
    "resolve_target",
    "send_request",
    "settings_problems",
    "split_counts",
    "split_recipients",
    "text_with_links",
    "token_expiry",
    "token_secrets",
    "variant_posts",
]

# Networks that send to an audience Kairos keeps (an email list): see publishers/audience.py.
from publishers.audience import (
    AUDIENCE_SETTING,
    AudienceLedger,
    LedgerSummary,
    MemoryLedger,
    Recipient,
    RecipientState,
    accepts_audience,
    audience_kwargs,
)

__all__ += [
    "AUDIENCE_SETTING",
    "AudienceLedger",
    "LedgerSummary",
    "MemoryLedger",
    "Recipient",
    "RecipientState",
    "accepts_audience",
    "audience_kwargs",
]
