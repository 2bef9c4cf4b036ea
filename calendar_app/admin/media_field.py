"""The item page's media: pictures and videos uploaded with a preview, not a raw JSON box.

Each medium already on the item is a row (its preview, its alt text, "remove"); new files are
chosen with a file input (previewed in the browser before saving) or given by web address.
Uploads go through :func:`calendar_app.media.ingest.store_upload`, the same checks as the media
API (the bytes are read, not the declared type), and become media of the item's workspace, so a
later edit or the API sees the same ``{"asset": id}`` entries. A row's entry comes back from the
browser: it is parsed as any API entry and its medium must belong to the item's workspace
(another workspace's id is refused exactly like an unknown one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.urls import NoReverseMatch, reverse

from calendar_app.media.entries import MAX_ALT_TEXT, MAX_MEDIA, asset_ids, normalise_entries
from calendar_app.media.ingest import ACCEPTED_TYPES, store_upload
from calendar_app.media.models import MediaAsset
from calendar_app.media.refs import check_assets, public_url
from calendar_app.models import Workspace

__all__ = ["MediaInput", "MediaUploadField", "MediaUploadWidget", "store_new_media"]

#: Rows a browser may send back: more than an item can hold is refused before anything is parsed.
_MAX_ROWS = MAX_MEDIA + 5


@dataclass
class MediaInput:
    """What the browser sent: the kept rows, the new files, a web address to add."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[UploadedFile] = field(default_factory=list)
    upload_alt_text: str = ""
    url: str = ""
    removed: int = 0
    problems: list[str] = field(default_factory=list)


class MediaUploadWidget(forms.Widget):
    """Rows of the media already on the item, then a file input with a live preview."""

    template_name = "admin/calendar_app/widgets/media_upload.html"
    needs_multipart_form = True

    class Media:
        js = ["calendar_app/media_field.js"]
        css = {"all": ["calendar_app/media_field.css"]}

    def value_from_datadict(self, data, files, name: str) -> MediaInput:
        value = MediaInput()
        try:
            count = min(int(data.get(f"{name}-count", "0")), _MAX_ROWS)
        except ValueError:
            count = 0
        for index in range(max(count, 0)):
            raw = data.get(f"{name}-{index}-entry", "")
            if data.get(f"{name}-{index}-remove"):
                value.removed += 1
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                value.problems.append(f"Medium {index + 1} was not understood; remove it.")
                continue
            if isinstance(entry, dict):
                entry = {k: v for k, v in entry.items() if k != "alt_text"}
                alt = data.get(f"{name}-{index}-alt_text", "")
                if alt:
                    entry["alt_text"] = alt
            value.entries.append(entry)
        value.uploads = list(files.getlist(f"{name}-upload")) if files else []
        value.upload_alt_text = data.get(f"{name}-upload_alt_text", "")
        value.url = data.get(f"{name}-url", "").strip()
        return value

    def value_omitted_from_data(self, data, files, name: str) -> bool:
        return f"{name}-count" not in data

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict:
        context = super().get_context(name, value, attrs)
        entries = _entries_of(value)
        assets = MediaAsset.objects.in_bulk(asset_ids(entries)) if asset_ids(entries) else {}
        rows = []
        for index, entry in enumerate(entries):
            shown = {k: v for k, v in entry.items() if k != "alt_text"}
            asset = assets.get(entry.get("asset")) if "asset" in entry else None
            if asset is not None:
                src = _preview_address(asset)
                kind, label = asset.kind, str(asset)
            elif "url" in entry:
                src, kind, label = entry["url"], "link", entry["url"]
            else:
                src, kind, label = "", "missing", f"medium {entry.get('asset')} (not found)"
            rows.append(
                {
                    "index": index,
                    "entry": json.dumps(shown),
                    "alt_text": entry.get("alt_text", ""),
                    "src": src,
                    "kind": kind,
                    "label": label,
                }
            )
        context["widget"].update(
            rows=rows,
            count=len(rows),
            accept=",".join(ACCEPTED_TYPES),
            max_alt=MAX_ALT_TEXT,
            max_media=MAX_MEDIA,
        )
        return context


def _preview_address(asset: MediaAsset) -> str:
    """The medium's address on this site (the page's own host), else its public one."""
    try:
        return reverse("media-file", args=[asset.token])
    except NoReverseMatch:  # a site without the public media route (the admin alone)
        return public_url(asset)


def _entries_of(value: Any) -> list[dict[str, Any]]:
    """The rows to draw: the saved entries, or what the browser sent back (a form with errors)."""
    if isinstance(value, MediaInput):
        return [e for e in value.entries if isinstance(e, dict)]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if not isinstance(value, list):
        return []
    return [{"url": e} if isinstance(e, str) else e for e in value if isinstance(e, dict | str)]


class MediaUploadField(forms.Field):
    """The item's media entries; new files are stored by :func:`store_new_media` once the
    workspace is known (the brand is chosen on the same form)."""

    widget = MediaUploadWidget

    def __init__(self, **kwargs: Any) -> None:
        for name in ("encoder", "decoder", "max_length"):
            kwargs.pop(name, None)
        kwargs.setdefault(
            "help_text",
            "Pictures (JPG, PNG, GIF, WEBP) or videos (MP4, MOV, WEBM), with a short "
            "description for people who cannot see them.",
        )
        super().__init__(**kwargs)
        self.required = False

    def to_python(self, value: Any) -> MediaInput:
        if isinstance(value, MediaInput):
            return value
        return MediaInput(entries=_entries_of(value))

    def validate(self, value: MediaInput) -> None:
        if value.problems:
            raise ValidationError(value.problems)
        if len(value.upload_alt_text) > MAX_ALT_TEXT:
            raise ValidationError(
                f"The description is longer than {MAX_ALT_TEXT} characters.", code="invalid_media"
            )
        extra = len(value.uploads) + bool(value.url)
        if len(value.entries) + extra > MAX_MEDIA:
            raise ValidationError(
                f"A post carries at most {MAX_MEDIA} media; remove some first.",
                code="invalid_media",
            )
        new = [{"url": value.url}] if value.url else []
        try:
            value.entries = normalise_entries([*value.entries, *new], "Medium")
        except ValidationError as exc:
            raise ValidationError(_human(exc.messages)) from None
        value.url = ""

    def has_changed(self, initial: Any, data: Any) -> bool:
        if not isinstance(data, MediaInput):
            return False
        if data.uploads or data.url or data.removed or data.problems:
            return True
        return data.entries != _entries_of(initial)


def _human(messages: list[str]) -> list[str]:
    """``Medium[1]: url must be…`` reads as ``Medium 2: url must be…``."""
    out = []
    for text in messages:
        if text.startswith("Medium[") and "]" in text:
            number, rest = text[len("Medium[") :].split("]", 1)
            if number.isdigit():
                text = f"Medium {int(number) + 1}{rest}"
        out.append(text)
    return out


def store_new_media(value: MediaInput, workspace: Workspace) -> list[dict[str, Any]]:
    """Check the kept media belong to ``workspace`` and store the new files as its media.

    :returns: the item's entries, new files last, in the order they were chosen.
    :raises ValidationError: naming the file, for a file that is not an accepted medium, or
        for a medium that is not the workspace's.
    """
    check_assets(asset_ids(value.entries), workspace.pk)
    problems, stored = [], []
    for upload in value.uploads:
        try:
            stored.append(
                store_upload(
                    workspace, upload, name=upload.name or "", alt_text=value.upload_alt_text
                )
            )
        except ValidationError as exc:
            problems.append(f"{upload.name}: {' '.join(exc.messages)}")
    if problems:
        MediaAsset.objects.filter(pk__in=[a.pk for a in stored]).delete()
        raise ValidationError(problems, code="invalid_media")
    new = [{"asset": a.pk, **({"alt_text": a.alt_text} if a.alt_text else {})} for a in stored]
    value.uploads = []
    return [*value.entries, *new]


class MediaFormMixin:
    """For a ModelForm with a ``media`` :class:`MediaUploadField` and a ``brand``: stores the
    new files as media of the brand's workspace once the form is otherwise read, and writes the
    result back into the form's data, so a page shown again (another field's error) keeps them.

    ``may_add_media(workspace_id)``, set on the form class by the admin, says whether the person
    may write into that workspace: files are stored only then."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()  # type: ignore[misc]
        value = data.get("media")
        if not isinstance(value, MediaInput):
            return data
        instance = self.instance  # type: ignore[attr-defined]
        brand = data.get("brand") or (instance.brand if instance.brand_id else None)
        if brand is None:
            if value.uploads or asset_ids(value.entries):
                self.add_error("media", "Pick the brand first: media belong to its workspace.")  # type: ignore[attr-defined]
            else:
                data["media"] = value.entries
            return data
        allowed = getattr(self, "may_add_media", None)
        if value.uploads and allowed is not None and not allowed(brand.workspace_id):
            # Checked before storing: the form's own workspace check runs after this clean.
            self.add_error("media", "You need the editor role in this workspace to add media.")  # type: ignore[attr-defined]
            return data
        try:
            data["media"] = store_new_media(value, brand.workspace)
        except ValidationError as exc:
            self.add_error("media", exc)  # type: ignore[attr-defined]
            return data
        self._keep_rows(data["media"])
        return data

    def _keep_rows(self, entries: list[dict[str, Any]]) -> None:
        name = self.add_prefix("media")  # type: ignore[attr-defined]
        kept = self.data.copy()  # type: ignore[attr-defined]
        for key in [k for k in kept if k.startswith(f"{name}-")]:
            del kept[key]
        kept[f"{name}-count"] = str(len(entries))
        for index, entry in enumerate(entries):
            kept[f"{name}-{index}-entry"] = json.dumps(
                {k: v for k, v in entry.items() if k != "alt_text"}
            )
            kept[f"{name}-{index}-alt_text"] = entry.get("alt_text", "")
        self.data = kept


def media_preview(entries: Any) -> str:
    """The media of an item that can no longer change (it went out): thumbnails, names and
    descriptions, read-only, instead of the stored JSON."""
    from django.utils.html import format_html, format_html_join

    rows = MediaUploadWidget().get_context("media", entries, None)["widget"]["rows"]
    if not rows:
        return "—"
    shown = []
    for row in rows:
        if row["kind"] == "image":
            thumb = format_html(
                '<img src="{}" alt="{}" loading="lazy">', row["src"], row["alt_text"]
            )
        elif row["kind"] == "video":
            thumb = format_html('<video src="{}" preload="metadata" muted></video>', row["src"])
        elif row["kind"] == "link":
            thumb = format_html(
                '<a href="{}" target="_blank" rel="noopener noreferrer">link</a>', row["src"]
            )
        else:
            thumb = format_html('<span class="kairos-media-missing">?</span>')
        shown.append((thumb, row["label"], row["alt_text"] or "no description"))
    items = format_html_join(
        "",
        '<li class="kairos-media-row"><span class="kairos-media-thumb">{}</span>'
        '<span class="kairos-media-fields"><span class="kairos-media-label">{}</span>'
        "<span>{}</span></span></li>",
        shown,
    )
    return format_html('<ul class="kairos-media kairos-media-rows">{}</ul>', items)
