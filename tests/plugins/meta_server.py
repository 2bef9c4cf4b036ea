"""A CONTRACT server for Meta's Graph API (Facebook Pages and Instagram) on 127.0.0.1 - not
Meta: the requests and answers of the endpoints Kairos uses, written from the public Graph API
reference (developers.facebook.com/docs/graph-api, .../instagram-platform), so the Facebook and
Instagram plugins are tested over real HTTP without the internet.

What it keeps to, per the reference:

* Facebook Login (``/dialog/oauth`` and ``/v23.0/oauth/access_token``), served by Authlib's own
  authorisation server; ``GET /oauth/access_token?grant_type=fb_exchange_token`` for a
  long-lived user token; ``GET /me/accounts`` lists the person's Pages with their Page tokens,
  ``tasks`` and linked ``instagram_business_account``;
* Pages: ``POST /{page}/photos`` (``published=false``: an unpublished photo to attach),
  ``POST /{page}/feed`` (``message``, ``link``, ``attached_media[n]``), ``GET /{page}/feed``
  (``since``), ``GET /{post}`` with ``summary(true)`` edges, ``GET /{post}/insights``,
  ``DELETE /{post}``;
* Instagram: ``POST /{ig-user}/media`` makes a container (``IN_PROGRESS`` for a while, then
  ``FINISHED``), ``POST /{ig-user}/media_publish`` publishes one (then ``PUBLISHED``; publishing
  it again is refused), ``GET /{ig-user}/media``, ``GET /{media}/insights``,
  ``GET /{ig-user}/content_publishing_limit``;
* errors as ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``: 190 for
  a bad token, 4 for the app's rate limit (with ``X-Business-Use-Case-Usage``), 100 for a bad
  parameter or an unknown object; ``X-App-Usage`` on every answer.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from typing import Any

from flask import Response, jsonify, request

from plugins.meta.graph import GRAPH_VERSION
from tests.connect.oauth_server import Account, OAuthServer

PAGE = {"id": "101000000000001", "name": "Acme Shoes"}
OTHER_PAGE = {"id": "101000000000002", "name": "Acme Outlet"}
IG_USER = {"id": "17841400000000001", "username": "acme.shoes", "name": "Acme Shoes"}


def _error(code: int, message: str, status: int = 400, subcode: int | None = None) -> Response:
    body: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": secrets.token_hex(6),
    }
    if subcode is not None:
        body["error_subcode"] = subcode
    answer = jsonify(error=body)
    answer.status_code = status
    return answer


class MetaContractServer(OAuthServer):
    def __init__(self) -> None:
        super().__init__(
            "meta-app-id",
            "meta-app-secret",
            authorize_path="/dialog/oauth",
            token_path=f"/{GRAPH_VERSION}/oauth/access_token",
            scope=(
                "pages_show_list pages_read_engagement pages_manage_posts instagram_basic "
                "instagram_content_publish instagram_manage_insights business_management"
            ),
        )
        self.accounts = {"maria": Account("5550001", "maria", "Maria Admin")}
        self.ids = itertools.count(180000000000001)
        self.page_tokens = {f"page-token-{PAGE['id']}": PAGE["id"]}
        self.page_tokens[f"page-token-{OTHER_PAGE['id']}"] = OTHER_PAGE["id"]
        self.long_lived: set[str] = set()
        self.photos: dict[str, dict[str, Any]] = {}
        self.feed: dict[str, dict[str, Any]] = {}
        self.containers: dict[str, dict[str, Any]] = {}
        self.ig_media: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        #: Knobs: how many status checks a container stays IN_PROGRESS; fail the next
        #: media_publish after publishing (an ambiguous answer); answer a rate limit next.
        self.processing_checks = 1
        self.fail_after_publish: int | None = None
        self.rate_limit_next = False
        self._add_graph_routes()

    def page_token(self, page: dict[str, str] = PAGE) -> str:
        return f"page-token-{page['id']}"

    def _add_graph_routes(self) -> None:
        app, owner = self.app, self
        prefix = f"/{GRAPH_VERSION}"

        @app.after_request
        def usage(answer: Response) -> Response:
            answer.headers["X-App-Usage"] = json.dumps(
                {"call_count": 12, "total_time": 5, "total_cputime": 3}
            )
            return answer

        @app.before_request
        def record() -> None:
            owner.calls.append(f"{request.method} {request.path.removeprefix(prefix)}")

        @app.route(f"{prefix}/oauth/access_token", methods=["GET"], endpoint="fb_exchange")
        def exchange() -> Any:
            args = request.args
            if (
                args.get("grant_type") != "fb_exchange_token"
                or args.get("client_id") != owner.client.client_id
                or args.get("client_secret") != owner.client.client_secret
                or args.get("fb_exchange_token") not in owner.tokens
            ):
                return _error(100, "Invalid fb_exchange_token request")
            short = owner.tokens[args["fb_exchange_token"]]
            long_lived = f"long-{secrets.token_urlsafe(16)}"
            owner.tokens[long_lived] = type(short)(
                short.client_id, short.user, short.scope, long_lived, None, 60 * 86400
            )
            owner.long_lived.add(long_lived)
            return jsonify(access_token=long_lived, token_type="bearer", expires_in=5183944)

        def who() -> tuple[str, str] | None:
            """("user", name) or ("page", page id) for the bearer token."""
            token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if token in owner.page_tokens:
                return "page", owner.page_tokens[token]
            found = owner.tokens.get(token)
            if found is not None and not found.is_revoked() and not found.is_expired():
                return "user", found.user
            return None

        @app.route(f"{prefix}/<path:rest>", methods=["GET", "POST", "DELETE"])
        def graph(rest: str) -> Any:
            caller = who()
            if caller is None:
                return _error(190, "Error validating access token: Session has expired.", 400, 463)
            if owner.rate_limit_next:
                owner.rate_limit_next = False
                answer = _error(4, "Application request limit reached")
                answer.headers["X-Business-Use-Case-Usage"] = json.dumps(
                    {
                        PAGE["id"]: [
                            {
                                "type": "pages",
                                "call_count": 100,
                                "estimated_time_to_regain_access": 7,
                            }
                        ]
                    }
                )
                return answer
            parts = rest.strip("/").split("/")
            form = request.form if request.method == "POST" else request.args
            if parts == ["me", "accounts"] and caller[0] == "user":
                pages = []
                for page in (PAGE, OTHER_PAGE):
                    entry: dict[str, Any] = {
                        **page,
                        "access_token": owner.page_token(page),
                        "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT"],
                        "picture": {"data": {"url": f"https://cdn.example/{page['id']}.png"}},
                    }
                    if page is PAGE and "instagram_business_account" in request.args.get(
                        "fields", ""
                    ):
                        entry["instagram_business_account"] = {
                            **IG_USER,
                            "profile_picture_url": "https://cdn.example/ig.png",
                        }
                    pages.append(entry)
                return jsonify(data=pages, paging={"cursors": {"before": "a", "after": "b"}})
            if caller[0] != "page":
                return _error(200, "This endpoint requires a Page access token", 403)
            page_id = caller[1]
            if len(parts) == 2 and parts[0] == page_id and parts[1] == "photos":
                upload = request.files.get("source")
                if upload is None:
                    return _error(100, "(#100) source or url is required")
                photo = str(next(owner.ids))
                owner.photos[photo] = {
                    "bytes": upload.read(),
                    "published": form.get("published") != "false",
                    "alt_text": form.get("alt_text_custom", ""),
                }
                return jsonify(id=photo)
            if len(parts) == 2 and parts[0] == page_id and parts[1] == "feed":
                if request.method == "GET":
                    since = int(form.get("since", "0"))
                    return jsonify(
                        data=[
                            {"id": k, "message": v["message"], "created_time": v["created_time"]}
                            for k, v in owner.feed.items()
                            if v["page"] == page_id and v["created"] >= since
                        ]
                    )
                attached = [
                    json.loads(form[key])["media_fbid"]
                    for key in sorted(form)
                    if key.startswith("attached_media[")
                ]
                if any(a not in owner.photos or owner.photos[a]["published"] for a in attached):
                    return _error(100, "(#100) attached_media must be unpublished photos")
                if not form.get("message") and not attached and not form.get("link"):
                    return _error(100, "(#100) message, link or attached_media is required")
                post_id = f"{page_id}_{next(owner.ids)}"
                owner.feed[post_id] = {
                    "page": page_id,
                    "message": form.get("message", ""),
                    "link": form.get("link", ""),
                    "attached": attached,
                    "created": int(time.time()),
                    "created_time": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime()),
                }
                return jsonify(id=post_id)
            if len(parts) == 2 and parts[0] == IG_USER["id"] and page_id == PAGE["id"]:
                return owner._instagram(parts[1], form)
            if len(parts) == 2 and parts[1] == "insights":
                return owner._insights(parts[0])
            if len(parts) == 1:
                return owner._object(parts[0], page_id)
            return _error(100, f"(#100) Unknown path components: /{rest}")

    def _object(self, object_id: str, page_id: str) -> Any:
        if object_id in self.feed and self.feed[object_id]["page"] == page_id:
            if request.method == "DELETE":
                del self.feed[object_id]
                return jsonify(success=True)
            return jsonify(
                id=object_id,
                shares={"count": 4},
                comments={"data": [], "summary": {"total_count": 6}},
                reactions={"data": [], "summary": {"total_count": 21}},
            )
        if object_id in self.containers:
            container = self.containers[object_id]
            if container["status_code"] == "IN_PROGRESS":
                container["checks"] += 1
                if container["checks"] > self.processing_checks:
                    container["status_code"] = "FINISHED"
            return jsonify(id=object_id, status_code=container["status_code"])
        if object_id in self.ig_media:
            return jsonify(id=object_id, permalink=self.ig_media[object_id]["permalink"])
        return _error(100, f"(#100) Object with ID '{object_id}' does not exist", 400, 33)

    def _insights(self, object_id: str) -> Any:
        if object_id in self.feed:
            values = {"post_impressions": 321}
        elif object_id in self.ig_media:
            values = {"views": 900, "likes": 45, "comments": 5, "shares": 2}
        else:
            return _error(100, "(#100) Unknown object")
        wanted = request.args.get("metric", "").split(",")
        return jsonify(
            data=[
                {"name": name, "period": "lifetime", "values": [{"value": values[name]}]}
                for name in wanted
                if name in values
            ]
        )

    def _instagram(self, edge: str, form: Any) -> Any:
        if edge == "media" and request.method == "POST":
            container = str(next(self.ids))
            if form.get("media_type") == "CAROUSEL":
                children = form.get("children", "").split(",")
                if len(children) < 2 or any(c not in self.containers for c in children):
                    return _error(100, "(#100) children must be 2 to 10 carousel item containers")
                self.containers[container] = {
                    "children": children,
                    "caption": form.get("caption", ""),
                    "status_code": "IN_PROGRESS",
                    "checks": 0,
                }
                return jsonify(id=container)
            if not form.get("image_url", "").startswith("https://"):
                return _error(100, "(#100) image_url must be a public https URL", 400, 2207052)
            self.containers[container] = {
                "image_url": form["image_url"],
                "caption": form.get("caption", ""),
                "carousel_item": form.get("is_carousel_item") == "true",
                "status_code": "IN_PROGRESS",
                "checks": 0,
            }
            return jsonify(id=container)
        if edge == "media_publish" and request.method == "POST":
            container = self.containers.get(form.get("creation_id", ""))
            if container is None or container["status_code"] != "FINISHED":
                return _error(9007, "Media ID is not available", 400, 2207027)
            media_id = str(next(self.ids))
            container["status_code"] = "PUBLISHED"
            self.ig_media[media_id] = {
                "container": form["creation_id"],
                "caption": container["caption"],
                "image_urls": [
                    self.containers[c]["image_url"] for c in container.get("children", [])
                ]
                or [container["image_url"]],
                "permalink": f"https://www.instagram.com/p/{media_id[-8:]}/",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime()),
            }
            if self.fail_after_publish:
                status, self.fail_after_publish = self.fail_after_publish, None
                return _error(2, "An unexpected error has occurred. Please retry.", status)
            return jsonify(id=media_id)
        if edge == "media" and request.method == "GET":
            return jsonify(
                data=[
                    {
                        "id": k,
                        "caption": v["caption"],
                        "permalink": v["permalink"],
                        "timestamp": v["timestamp"],
                    }
                    for k, v in reversed(self.ig_media.items())
                ]
            )
        if edge == "content_publishing_limit":
            return jsonify(
                data=[
                    {
                        "quota_usage": len(self.ig_media),
                        "config": {"quota_total": 100, "quota_duration": 86400},
                    }
                ]
            )
        return _error(100, f"(#100) Unknown edge {edge}")
