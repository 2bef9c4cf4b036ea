"""Forms of the admin that are more than a ModelForm: secrets, notes, firing values."""

from __future__ import annotations

import json
import re
import zoneinfo
from typing import Any

from django import forms
from django.contrib.admin import helpers

from calendar_app.models import Brand, Channel
from calendar_app.validators import validate_tag_list


class LinkLinesField(forms.CharField):
    """A post's links as one web address per line, instead of a raw JSON box.

    A JSON list is still accepted (what the form showed before, and what the API takes), so a
    pasted ``["https://…"]`` works; anything else that starts like JSON is refused with a message.
    """

    widget = forms.Textarea(attrs={"rows": 3, "cols": 80, "placeholder": "https://…"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        kwargs.setdefault(
            "help_text", "One web address per line (https://…), in the order they appear."
        )
        super().__init__(**kwargs)
        self.required = False

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return "" if value is None else str(value)

    def to_python(self, value: Any) -> list[str]:
        text = (value or "").strip()
        if text.startswith(("[", "{", '"')):
            try:
                parsed = json.loads(text)
            except ValueError as exc:
                raise forms.ValidationError("Put one web address per line.") from exc
            if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
                raise forms.ValidationError("Put one web address per line.")
            lines = [v.strip() for v in parsed if v.strip()]
        else:
            lines = [line.strip() for line in text.splitlines() if line.strip()]
        check = forms.URLField(assume_scheme="https")
        for number, line in enumerate(lines, start=1):
            if not line.lower().startswith(("http://", "https://")):
                raise forms.ValidationError(
                    f"Line {number} is not a web address (http:// or https://): {line[:80]}"
                )
            check.clean(line)
        return lines

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(data) != (initial or [])
        except forms.ValidationError:
            return True


class TagLinesField(forms.CharField):
    """A short list of words (a brand's themes, values, audience, what it avoids) typed one per
    line or separated by commas, instead of a JSON box."""

    widget = forms.Textarea(attrs={"rows": 2, "cols": 60})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> str:
        return ", ".join(value) if isinstance(value, list) else (value or "")

    def to_python(self, value: Any) -> list[str]:
        words = [w.strip() for w in re.split(r"[,\n]", value or "") if w.strip()]
        unique = list(dict.fromkeys(words))
        validate_tag_list(unique)  # its messages (too many, too long) land on the field
        return unique


#: The brand's fit profile, key by key, with what each one does to the fit of an event.
PROFILE_FIELDS = {
    "themes": "What the brand talks about (fashion, beauty, sustainability…): events on these "
    "themes fit.",
    "values": "What it stands for (craft, inclusivity…).",
    "audience": "Who it speaks to (women 25-40, Paris…).",
    "avoid": "Themes it stays away from (politics, gambling…): events on these never fit.",
}


def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone the server knows, grouped by region so a long list stays findable."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for zone in sorted(zoneinfo.available_timezones()):
        region = zone.split("/", 1)[0] if "/" in zone else "Other"
        groups.setdefault(region, []).append((zone, zone))
    return [(region, zones) for region, zones in sorted(groups.items())]


class BrandForm(forms.ModelForm):
    """The brand page: the time zone picked from a list, and the fit profile as four plain
    fields (the API keeps the JSON object)."""

    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        initial="UTC",
        help_text="Posts are planned and shown in this zone; summer time is followed.",
    )
    themes = TagLinesField(help_text=PROFILE_FIELDS["themes"])
    values = TagLinesField(help_text=PROFILE_FIELDS["values"])
    audience = TagLinesField(help_text=PROFILE_FIELDS["audience"])
    avoid = TagLinesField(help_text=PROFILE_FIELDS["avoid"])

    class Meta:
        model = Brand
        fields = (
            "workspace",
            "name",
            "slug",
            "time_zone",
            "language",
            "description",
        )  # the admin adds the rest from its fieldsets

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        profile = self.instance.profile if isinstance(self.instance.profile, dict) else {}
        for key in PROFILE_FIELDS:
            if key in self.fields:
                self.initial.setdefault(key, list(profile.get(key, [])))

    def save(self, commit: bool = True) -> Brand:
        kept = self.instance.profile if isinstance(self.instance.profile, dict) else {}
        self.instance.profile = {
            key: self.cleaned_data[key] if key in self.cleaned_data else kept.get(key, [])
            for key in PROFILE_FIELDS
        }
        return super().save(commit)


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value, not even the one just typed (like a password)."""

    def format_value(self, value: Any) -> None:
        return None


class ChannelForm(forms.ModelForm):
    """The channel form: secrets can be set or replaced, never read back."""

    new_secrets = forms.CharField(
        label="Set or replace secrets",
        required=False,
        widget=WriteOnlyTextarea(
            attrs={
                "rows": 4,
                "cols": 60,
                "autocomplete": "off",
                "placeholder": '{"access_token": "…"}',
            }
        ),
        help_text=(
            'A JSON object of strings, e.g. {"access_token": "…"}. It replaces every current secret. '
            "Leave blank to keep the current secrets. Secrets are encrypted and never shown again."
        ),
    )
    clear_secrets = forms.BooleanField(
        label="Remove all secrets",
        required=False,
        help_text="Disconnects the channel's credentials.",
    )

    class Meta:
        model = Channel
        # Secrets are not a model form field (never rendered): see new_secrets / clear_secrets.
        fields = (
            "brand",
            "network",
            "handle",
            "display_name",
            "settings",
            "status",
            "status_reason",
        )

    def clean_new_secrets(self) -> dict[str, str] | None:
        text = self.cleaned_data.get("new_secrets", "").strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON ({exc.msg}, line {exc.lineno}).") from exc
        if not isinstance(value, dict) or not value:
            raise forms.ValidationError('Give a non-empty JSON object, e.g. {"access_token": "…"}.')
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise forms.ValidationError("Every secret must be a string value.")
        return value

    def clean(self) -> dict[str, Any]:
        from calendar_app.api.networks import settings_errors

        cleaned = super().clean()
        if cleaned.get("clear_secrets") and cleaned.get("new_secrets"):
            self.add_error("clear_secrets", "Either replace the secrets or remove them, not both.")
        settings = cleaned.get("settings")
        errors = settings_errors(
            cleaned.get("network"),
            settings if settings is not None else {},
            cleaned.get("new_secrets"),
        )
        for group, field in (("settings", "settings"), ("secrets", "new_secrets")):
            for key, messages in errors.get(group, {}).items():
                for message in messages:
                    self.add_error(field, f"{key}: {message}")
        return cleaned

    def save(self, commit: bool = True) -> Channel:
        channel = super().save(commit=False)
        if self.cleaned_data.get("clear_secrets"):
            channel.secrets = {}
        elif self.cleaned_data.get("new_secrets"):
            from calendar_app.delivery.held import reconnect_with_new_secrets

            channel.secrets = self.cleaned_data["new_secrets"]
            reconnect_with_new_secrets(channel)
        if commit:
            channel.save()
            self.save_m2m()
        return channel


class ActionForm(forms.Form):
    """Base for the intermediate pages of admin actions (keeps the selection through the POST)."""

    _selected_action = forms.CharField(widget=forms.MultipleHiddenInput)


class RejectForm(ActionForm):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 70}),
        help_text="Say what has to change, so the editor knows.",
    )


PLACEHOLDER = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*}}")


def placeholders(text: str) -> list[str]:
    """Placeholder names in a template body, in order of first appearance."""
    seen: list[str] = []
    for name in PLACEHOLDER.findall(text or ""):
        if name not in seen:
            seen.append(name)
    return seen


class FireForm(ActionForm):
    """One text field per placeholder of the template's body."""

    def __init__(self, *args: Any, names: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in names:
            # Labelled as a person reads it; the placeholder as written stays in the help text.
            self.fields[f"value_{name}"] = forms.CharField(
                label=name.replace("_", " ").capitalize(),
                max_length=500,
                help_text=f"Replaces {{{{ {name} }}}} in the text.",
                widget=forms.TextInput(attrs={"size": 60}),
            )

    def values(self) -> dict[str, str]:
        return {
            key.removeprefix("value_"): value
            for key, value in self.cleaned_data.items()
            if key.startswith("value_")
        }


SELECTED = helpers.ACTION_CHECKBOX_NAME
