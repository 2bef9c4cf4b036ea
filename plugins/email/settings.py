"""The email channel's settings, read once per send into a checked, typed value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Any

from publishers import AUDIENCE_SETTING, ChannelContext, Problem, SettingField

SECURITY_MODES = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}

SETTINGS_SCHEMA = (
    SettingField(
        AUDIENCE_SETTING,
        "Audience list",
        "Id of the brand's audience list in Kairos that this channel sends to.",
        "integer",
        required=True,
    ),
    SettingField("from_address", "From address", "e.g. news@brand.example", required=True),
    SettingField("from_name", "From name", "The sender name people see, e.g. the brand."),
    SettingField("reply_to", "Reply-To address", "Where replies go; empty: the from address."),
    SettingField("smtp_host", "SMTP host", "Your provider's submission server.", required=True),
    SettingField(
        "smtp_port", "SMTP port", "Empty: 587 for starttls, 465 for tls, 25 for none.", "integer"
    ),
    SettingField(
        "security",
        "Connection security",
        "starttls (port 587), tls (implicit TLS, port 465) or none (only on a trusted network).",
        default="starttls",
    ),
    SettingField("username", "SMTP user name", "Empty: the server takes mail without AUTH."),
    SettingField(
        "rate_per_second",
        "Messages per second",
        "Throttle for this channel (your provider's sending rate); 0 means no limit.",
        "number",
        default=10,
    ),
    SettingField(
        "unsubscribe_mailto",
        "Unsubscribe mailbox",
        "Optional address for List-Unsubscribe by email, besides Kairos' one-click URL.",
    ),
    SettingField(
        "max_deferrals",
        "Deferrals per recipient",
        "How many temporary refusals (4xx) a recipient gets before being given up.",
        "integer",
        default=3,
    ),
    SettingField(
        "messages_per_connection",
        "Messages per connection",
        "Reconnect after this many messages (providers cap it); 0 means never.",
        "integer",
        default=100,
    ),
    SettingField("timeout", "Time-out (s)", "Per SMTP command.", "number", default=30),
)
SECRET_FIELDS = (
    SettingField("password", "SMTP password", "The password or API key for AUTH.", "secret"),
)


class SettingsError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def parse_address(value: Any) -> Address | None:
    """One plain address (no display name, no header tricks), or ``None``."""
    if not isinstance(value, str) or not value or any(c in value for c in "\r\n<>,\"'"):
        return None
    try:
        address = Address(addr_spec=value.strip())
    except (HeaderParseError, ValueError, IndexError):
        return None
    if not address.username or "." not in address.domain:
        return None
    return address


def _number(values: Mapping[str, Any], name: str, default: float, minimum: float) -> float:
    value = values.get(name)
    if value in (None, ""):
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ValueError(name)
    return value


@dataclass(frozen=True, slots=True)
class EmailSettings:
    audience: int
    from_address: str
    from_name: str
    reply_to: str
    host: str
    port: int
    security: str
    username: str
    password: str
    rate_per_second: float
    unsubscribe_mailto: str
    max_deferrals: int
    messages_per_connection: int
    timeout: float

    @property
    def from_domain(self) -> str:
        return self.from_address.rpartition("@")[2].lower()

    @classmethod
    def problems(cls, channel: ChannelContext) -> list[Problem]:
        try:
            cls.from_channel(channel)
        except SettingsError as exc:
            return exc.problems
        return []

    @classmethod
    def from_channel(cls, channel: ChannelContext) -> EmailSettings:
        s = channel.settings
        problems: list[Problem] = []
        audience = s.get(AUDIENCE_SETTING)
        if audience in (None, "") or isinstance(audience, bool):
            problems.append(
                Problem(
                    "no_audience",
                    "Choose the audience list this channel sends to.",
                    f"settings.{AUDIENCE_SETTING}",
                )
            )
            audience = 0
        sender = s.get("from_address")
        if not sender:
            problems.append(
                Problem(
                    "missing_from_address",
                    "Set the address the newsletter is sent from.",
                    "settings.from_address",
                )
            )
        elif parse_address(sender) is None:
            problems.append(
                Problem(
                    "invalid_from_address",
                    f"{str(sender)[:80]!r} is not a valid email address.",
                    "settings.from_address",
                )
            )
        for name in ("reply_to", "unsubscribe_mailto"):
            if s.get(name) and parse_address(s.get(name)) is None:
                problems.append(
                    Problem("invalid_setting", "Not a valid email address.", f"settings.{name}")
                )
        host = s.get("smtp_host")
        if not isinstance(host, str) or not host.strip() or any(c in host for c in " /\r\n"):
            problems.append(
                Problem("missing_setting", "Set the SMTP server's host name.", "settings.smtp_host")
            )
        security = s.get("security") or "starttls"
        if security not in SECURITY_MODES:
            problems.append(
                Problem(
                    "invalid_setting",
                    f"Connection security must be one of {', '.join(SECURITY_MODES)}.",
                    "settings.security",
                )
            )
            security = "starttls"
        numbers = {}
        for name, default, minimum in (
            ("smtp_port", DEFAULT_PORTS[security], 1),
            ("rate_per_second", 10, 0),
            ("max_deferrals", 3, 1),
            ("messages_per_connection", 100, 0),
            ("timeout", 30, 1),
        ):
            try:
                numbers[name] = _number(s, name, default, minimum)
            except ValueError:
                problems.append(
                    Problem(
                        "invalid_setting", f"Must be a number >= {minimum}.", f"settings.{name}"
                    )
                )
                numbers[name] = default
        if not 0 < numbers["smtp_port"] < 65536:
            problems.append(Problem("invalid_setting", "Not a TCP port.", "settings.smtp_port"))
        if s.get("username") and not channel.secrets.get("password"):
            problems.append(Problem("missing_secret", "Set the SMTP password.", "secrets.password"))
        if problems:
            raise SettingsError(problems)
        return cls(
            audience=int(audience),
            from_address=str(sender).strip(),
            from_name=str(s.get("from_name") or ""),
            reply_to=str(s.get("reply_to") or ""),
            host=host.strip(),
            port=int(numbers["smtp_port"]),
            security=security,
            username=str(s.get("username") or ""),
            password=str(channel.secrets.get("password") or ""),
            rate_per_second=float(numbers["rate_per_second"]),
            unsubscribe_mailto=str(s.get("unsubscribe_mailto") or ""),
            max_deferrals=int(numbers["max_deferrals"]),
            messages_per_connection=int(numbers["messages_per_connection"]),
            timeout=float(numbers["timeout"]),
        )
