"""A CONTRACT server for the X API v2 on 127.0.0.1 - not X: the requests and answers of the
endpoints Kairos uses, written from X's public API reference (docs.x.com/x-api), so the X
plugin is tested over real HTTP without the internet.

What it keeps to, per the reference:

* OAuth 2.0 authorisation code with PKCE at ``/i/oauth2/authorize`` and ``/2/oauth2/token``
  (a confidential client authenticates with HTTP Basic), refresh tokens with
  ``offline.access`` - served by Authlib's own server (``tests.connect.oauth_server``);
* ``POST /2/tweets`` answers 201 ``{"data": {"id", "text", "edit_history_tweet_ids"}}``; a
  duplicate text is 403 with a problem document (``title``, ``detail``, ``type``, ``status``);
  a text over 280 weighted characters is 400; media ids must be the account's uploads;
* ``POST /2/media/upload`` (multipart ``media``, ``media_category``) answers ``data.id`` and
  ``data.media_key``; ``POST /2/media/metadata`` sets alt text;
* ``DELETE /2/tweets/:id`` answers ``{"data": {"deleted": true}}``; ``GET /2/tweets/:id``
  with ``tweet.fields=public_metrics``; ``GET /2/users/:id/tweets`` with ``start_time``
  (no ``data`` key when nothing matches); ``GET /2/users/me``;
* every answer carries ``x-rate-limit-limit/-remaining/-reset``; creating posts also carries
  ``x-user-limit-24hour-limit/-remaining/-reset``, and 429 once the daily cap is reached;
* 401 with a problem document for a missing, unknown or revoked token.
"""

from __future__ import annotations

import calendar
import itertools
import time
from typing import Any

from flask import Response, jsonify, request

from plugins.x.text import weighted_length
from tests.connect.oauth_server import Account, OAuthServer

USER = {
    "id": "2244994945",
    "username": "kairos_brand",
    "name": "Kairos Brand",
    "profile_image_url": "https://pbs.example/kairos.png",
}


def _problem(status: int, title: str, detail: str) -> Response:
    answer = jsonify(title=title, detail=detail, type="about:blank", status=status)
    answer.status_code = status
    return answer


class XContractServer(OAuthServer):
    """The X API's contract on loopback; ``posts``, ``media`` and the knobs are for tests."""

    def __init__(self) -> None:
        super().__init__(
            "x-client-id",
            "x-client-secret",
            authorize_path="/i/oauth2/authorize",
            token_path="/2/oauth2/token",
            auth_method="client_secret_basic",
            scope="tweet.read tweet.write users.read media.write offline.access",
        )
        self.accounts = {"kairos_brand": Account(USER["id"], USER["username"], USER["name"])}
        self.ids = itertools.count(1850000000000000000)
        self.x_posts: dict[str, dict[str, Any]] = {}
        self.x_media: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.daily_cap = 17  # the Free tier's posts per 24 hours per user
        self.created_today = 0
        #: Knobs: answer the next create with this status *after* making the post
        #: (an ambiguous failure), or fail it before making anything.
        self.fail_after_create: int | None = None
        self.fail_before_create: int | None = None
        self._add_api_routes()

    def user_token(self) -> dict[str, str]:
        """Tokens of the brand's account, as if it had connected earlier."""
        return self.issue("kairos_brand")

    def _add_api_routes(self) -> None:
        app = self.app
        owner = self

        def authorised() -> str | None:
            header = request.headers.get("Authorization", "")
            token = owner.tokens.get(header.removeprefix("Bearer ").strip())
            if token is None or token.is_revoked() or token.is_expired():
                return None
            return token.user

        def limits(answer: Response, remaining: int = 99) -> Response:
            reset = str(int(time.time()) + 900)
            answer.headers["x-rate-limit-limit"] = "100"
            answer.headers["x-rate-limit-remaining"] = str(remaining)
            answer.headers["x-rate-limit-reset"] = reset
            return answer

        @app.before_request
        def record() -> None:
            owner.calls.append(f"{request.method} {request.path}")

        @app.route("/2/users/me")
        def users_me() -> Any:
            if authorised() is None:
                return limits(_problem(401, "Unauthorized", "Unauthorized"))
            return limits(jsonify(data=USER))

        @app.route("/2/media/upload", methods=["POST"])
        def upload() -> Any:
            if authorised() is None:
                return limits(_problem(401, "Unauthorized", "Unauthorized"))
            media = request.files.get("media")
            category = request.form.get("media_category", "")
            if media is None or category not in ("tweet_image", "tweet_gif", "tweet_video"):
                return limits(_problem(400, "Invalid Request", "media and media_category"))
            content = media.read()
            if not content.startswith((b"\x89PNG", b"\xff\xd8", b"GIF8", b"RIFF")):
                return limits(_problem(400, "Invalid Request", "media type unrecognized."))
            media_id = str(next(owner.ids))
            owner.x_media[media_id] = {
                "bytes": content,
                "type": media.mimetype,
                "category": category,
                "alt_text": "",
            }
            return limits(
                jsonify(
                    data={
                        "id": media_id,
                        "media_key": f"3_{media_id}",
                        "size": len(content),
                        "expires_after_secs": 86400,
                    }
                )
            )

        @app.route("/2/media/metadata", methods=["POST"])
        def metadata() -> Any:
            if authorised() is None:
                return limits(_problem(401, "Unauthorized", "Unauthorized"))
            body = request.get_json(silent=True) or {}
            item = owner.x_media.get(str(body.get("id")))
            if item is None:
                return limits(_problem(400, "Invalid Request", "unknown media id"))
            item["alt_text"] = body["metadata"]["alt_text"]["text"]
            return limits(jsonify(data={"id": body["id"], "associated_metadata": body["metadata"]}))

        @app.route("/2/tweets", methods=["POST"])
        def create() -> Any:
            user = authorised()
            if user is None:
                return limits(_problem(401, "Unauthorized", "Unauthorized"))
            if owner.fail_before_create:
                status, owner.fail_before_create = owner.fail_before_create, None
                return limits(_problem(status, "Service Unavailable", "Service Unavailable"))
            reset = str(int(time.time()) + 86400)
            if owner.created_today >= owner.daily_cap:
                answer = limits(_problem(429, "Too Many Requests", "Too Many Requests"))
                answer.headers["x-user-limit-24hour-limit"] = str(owner.daily_cap)
                answer.headers["x-user-limit-24hour-remaining"] = "0"
                answer.headers["x-user-limit-24hour-reset"] = reset
                return answer
            body = request.get_json(silent=True) or {}
            text = str(body.get("text") or "")
            media_ids = list((body.get("media") or {}).get("media_ids") or [])
            if not text and not media_ids:
                return limits(_problem(400, "Invalid Request", "text or media is required"))
            if weighted_length(text) > 280:
                return limits(_problem(400, "Invalid Request", "Tweet text is too long."))
            if any(p["text"] == text and p["user"] == user for p in owner.x_posts.values()):
                return limits(
                    _problem(
                        403,
                        "Forbidden",
                        "You are not allowed to create a Tweet with duplicate content.",
                    )
                )
            if any(m not in owner.x_media for m in media_ids) or len(media_ids) > 4:
                return limits(_problem(400, "Invalid Request", "Your media IDs are invalid."))
            reply = (body.get("reply") or {}).get("in_reply_to_tweet_id")
            if reply is not None and reply not in owner.x_posts:
                return limits(
                    _problem(400, "Invalid Request", "The post you are replying to is gone.")
                )
            post_id = str(next(owner.ids))
            owner.x_posts[post_id] = {
                "id": post_id,
                "user": user,
                "text": text,
                "media_ids": media_ids,
                "reply_to": reply,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "created": time.time(),
                "public_metrics": {
                    "retweet_count": 2,
                    "reply_count": 1,
                    "like_count": 7,
                    "quote_count": 1,
                    "bookmark_count": 3,
                    "impression_count": 120,
                },
            }
            owner.created_today += 1
            if owner.fail_after_create:
                status, owner.fail_after_create = owner.fail_after_create, None
                return limits(_problem(status, "Internal Error", "Internal Error"))
            answer = limits(
                jsonify(data={"id": post_id, "text": text, "edit_history_tweet_ids": [post_id]})
            )
            answer.status_code = 201
            answer.headers["x-user-limit-24hour-limit"] = str(owner.daily_cap)
            answer.headers["x-user-limit-24hour-remaining"] = str(
                owner.daily_cap - owner.created_today
            )
            answer.headers["x-user-limit-24hour-reset"] = reset
            return answer

        @app.route("/2/tweets/<post_id>", methods=["GET", "DELETE"])
        def one(post_id: str) -> Any:
            user = authorised()
            if user is None:
                return limits(_problem(401, "Unauthorized", "Unauthorized"))
            post = owner.x_posts.get(post_id)
            if post is None:
                return limits(
                    _problem(404, "Not Found Error", f"Could not find tweet with id: [{post_id}].")
                )
            if request.method == "DELETE":
                if post["user"] != user:
                    return limits(_problem(403, "Forbidden", "You are not the author."))
                del owner.x_posts[post_id]
                return limits(jsonify(data={"deleted": True}))
            data = {"id": post_id, "text": post["text"]}
            if "public_metrics" in request.args.get("tweet.fields", ""):
                data["public_metrics"] = post["public_metrics"]
            return limits(jsonify(data=data))

        @app.route("/2/users/<user_id>/tweets")
        def timeline(user_id: str) -> Any:
            user = authorised()
            if user is None:
                return limits(_problem(401, "Unauthorized", "Unauthorized"))
            start = request.args.get("start_time", "")
            since = calendar.timegm(time.strptime(start, "%Y-%m-%dT%H:%M:%SZ")) if start else 0
            found = [
                {"id": p["id"], "text": p["text"], "created_at": p["created_at"]}
                for p in sorted(owner.x_posts.values(), key=lambda p: p["created"], reverse=True)
                if p["user"] == user and user_id == USER["id"] and p["created"] >= since
            ][: int(request.args.get("max_results", 10))]
            if not found:
                return limits(jsonify(meta={"result_count": 0}))
            return limits(
                jsonify(
                    data=found,
                    meta={
                        "result_count": len(found),
                        "newest_id": found[0]["id"],
                        "oldest_id": found[-1]["id"],
                    },
                )
            )
