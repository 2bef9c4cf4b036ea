"""What a channel will receive, shown before approval or a fire (see
:mod:`calendar_app.delivery.preflight`)."""

from __future__ import annotations

from rest_framework import serializers

from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.validators import validate_no_nul


class PartPreviewSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="The exact text, as the network will receive it.")
    subject = serializers.CharField(help_text="The subject line (email), else empty.")
    length = serializers.IntegerField(help_text="Its length as this network counts it.")
    limit = serializers.IntegerField(
        allow_null=True, help_text="The most this network (or the channel's server) allows."
    )
    unit = serializers.ChoiceField(
        choices=["characters", "graphemes", "bytes"], help_text="What ``length`` counts."
    )
    over_by = serializers.IntegerField(help_text="How much to cut for it to fit (0 if it fits).")


class PreviewProblemSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True)


class ChannelPreviewSerializer(serializers.Serializer):
    channel = serializers.IntegerField()
    network = serializers.CharField()
    handle = serializers.CharField()
    variant = serializers.CharField(help_text="The experiment's variant key, else empty.")
    ok = serializers.BooleanField(help_text="True when nothing stops it going out.")
    tracked_link = serializers.BooleanField(
        help_text="The call to action's link is shown as the tracked short link it becomes; its "
        "code (``xxxxxxxx`` here) is made when the post goes out."
    )
    parts = PartPreviewSerializer(many=True, help_text="One per post of the thread.")
    problems = PreviewProblemSerializer(many=True)


class TemplatePreviewRequestSerializer(KairosSerializer):
    values = serializers.DictField(
        child=serializers.CharField(max_length=2000, allow_blank=True),
        required=False,
        validators=[validate_no_nul],  # keys too: PostgreSQL cannot store NUL
        default=dict,
        help_text="Placeholder values as they would be typed for a fire; missing ones are "
        "reported as problems.",
    )
    channels = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=100,
        help_text="Only these of the template's channels (default: all its connected channels).",
    )


class PreviewsSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="True when every channel can take it.")
    previews = ChannelPreviewSerializer(many=True, help_text="One per channel and variant.")


def previews_answer(previews: list) -> dict:
    """The body of a preview answer for :class:`PreviewsSerializer`."""
    return {
        "ok": all(preview.ok for preview in previews),
        "previews": [preview.to_dict() for preview in previews],
    }
