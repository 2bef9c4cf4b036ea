"""A CONTRACT server for LinkedIn's versioned REST API on 127.0.0.1 - not LinkedIn: the requests
and answers of the endpoints Kairos uses, written from LinkedIn's public API reference
(learn.microsoft.com/linkedin: Posts API, Images API, Documents API, Organization Access
Control, Share Statistics, Sign In with LinkedIn using OpenID Connect).

What it keeps to, per the reference:

* OAuth 2.0 at ``/oauth/v2/authorization`` and ``/oauth/v2/accessToken`` (client secret in
  the form, no PKCE), served by Authlib's own authorisation server; ``GET /v2/userinfo``;
* every ``/rest/`` call needs ``LinkedIn-Version: YYYYMM`` and
  ``X-Restli-Protocol-Version: 2.0.0``; a missing version is 400 ``VERSION_MISSING``, a
  sunset one 426 ``NONEXISTENT_VERSION``;
* ``GET /rest/organizationAcls?q=roleAssignee``, ``GET /rest/organizations/{id}``;
* ``POST /rest/images?action=initializeUpload`` (and ``documents``) answers ``value.uploadUrl``
  and the ``urn:li:image:``/``urn:li:document:`` URN; ``PUT`` to the upload URL takes the bytes;
* ``POST /rest/posts`` answers 201 with the URN in ``x-restli-id``; ``GET /rest/posts?q=author``;
  ``DELETE /rest/posts/{urn}`` answers 204;
* ``GET /rest/organizationalEntityShareStatistics`` and ``GET /rest/socialActions/{urn}``;
* errors as ``{"status", "serviceErrorCode", "code", "message"}``.
"""

from __future__ import annotations

import itertools
import time
from typing import Any
from urllib.parse import unquote

from flask import Response, jsonify, request

from tests.connect.oauth_server import Account, OAuthServer

MEMBER = {"sub": "782bbtaQ", "name": "Lena Marketer", "picture": "https://media.example/l.png"}
ORG = {"id": 2414183, "localizedName": "Acme Shoes"}
SUPPORTED = {"202601", "202603", "202606", "202609", "202611"}


def _error(status: int, code: str, message: str, service: int = 100) -> Response:
    answer = jsonify(status=status, serviceErrorCode=service, code=code, message=message)
    answer.status_code = status
    return answer


class LinkedInContractServer(OAuthServer):
    def __init__(self) -> None:
        super().__init__(
            "li-client-id",
            "li-client-secret",
            authorize_path="/oauth/v2/authorization",
            token_path="/oauth/v2/accessToken",
            scope="openid profile w_member_social w_organization_social r_organization_social "
            "rw_organization_admin",
            pkce_required=False,
        )
        self.accounts = {"lena": Account(MEMBER["sub"], "lena", MEMBER["name"])}
        self.ids = itertools.count(7100000000000000001)
        self.uploads: dict[str, dict[str, Any]] = {}
        self.li_posts: dict[str, dict[str, Any]] = {}
        self.versions: list[str] = []
        self.calls: list[str] = []
        self._add_api_routes()

    def _add_api_routes(self) -> None:
        app, owner = self.app, self

        @app.before_request
        def record() -> None:
            owner.calls.append(f"{request.method} {request.path}")

        def user() -> str | None:
            token = owner.tokens.get(
                request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            )
            if token is None or token.is_revoked() or token.is_expired():
                return None
            return token.user

        def versioned() -> Response | None:
            if user() is None:
                return _error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
            version = request.headers.get("LinkedIn-Version", "")
            owner.versions.append(version)
            if not version:
                return _error(400, "VERSION_MISSING", "A version must be present.")
            if version not in SUPPORTED:
                return _error(
                    426, "NONEXISTENT_VERSION", f"Requested version {version} is not active"
                )
            if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
                return _error(400, "INVALID_PROTOCOL", "X-Restli-Protocol-Version 2.0.0")
            return None

        @app.route("/v2/userinfo")
        def userinfo() -> Any:
            if user() is None:
                return _error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
            return jsonify(**MEMBER, email_verified=True, locale={"language": "en"})

        @app.route("/rest/organizationAcls")
        def acls() -> Any:
            if (refused := versioned()) is not None:
                return refused
            return jsonify(
                elements=[
                    {
                        "organization": f"urn:li:organization:{ORG['id']}",
                        "role": "ADMINISTRATOR",
                        "state": "APPROVED",
                        "roleAssignee": f"urn:li:person:{MEMBER['sub']}",
                    }
                ],
                paging={"count": 10, "start": 0, "total": 1},
            )

        @app.route("/rest/organizations/<int:org_id>")
        def organization(org_id: int) -> Any:
            if (refused := versioned()) is not None:
                return refused
            if org_id != ORG["id"]:
                return _error(404, "NOT_FOUND", "Not found")
            return jsonify(ORG)

        @app.route("/rest/<kind>", methods=["POST"])
        def initialize(kind: str) -> Any:
            if (refused := versioned()) is not None:
                return refused
            if kind == "posts":
                return create_post()
            if kind not in ("images", "documents") or request.args.get("action") != (
                "initializeUpload"
            ):
                return _error(400, "INVALID_REQUEST", "Unknown action")
            owner_urn = (request.get_json(silent=True) or {}).get("initializeUploadRequest") or {}
            number = next(owner.ids)
            urn = f"urn:li:{kind[:-1]}:D4E10AQ{number}"
            owner.uploads[urn] = {"owner": owner_urn.get("owner"), "bytes": None, "type": ""}
            return jsonify(
                value={
                    "uploadUrlExpiresAt": int(time.time() * 1000) + 3600_000,
                    "uploadUrl": f"{owner.base_url}/dms-uploads/{urn}",
                    kind[:-1]: urn,
                }
            )

        @app.route("/dms-uploads/<urn>", methods=["PUT"])
        def upload(urn: str) -> Any:
            if user() is None:
                return _error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
            if urn not in owner.uploads:
                return _error(404, "NOT_FOUND", "Unknown upload")
            owner.uploads[urn]["bytes"] = request.get_data()
            owner.uploads[urn]["type"] = request.headers.get("Content-Type", "")
            return Response(status=201)

        def create_post() -> Any:
            body = request.get_json(silent=True) or {}
            author = str(body.get("author") or "")
            if author not in (f"urn:li:person:{MEMBER['sub']}", f"urn:li:organization:{ORG['id']}"):
                return _error(403, "ACCESS_DENIED", f"Not enough permissions to post as {author}")
            if body.get("lifecycleState") != "PUBLISHED" or "distribution" not in body:
                return _error(422, "UNPROCESSABLE_ENTITY", "lifecycleState and distribution")
            media = ((body.get("content") or {}).get("media") or {}).get("id")
            if media is not None and owner.uploads.get(media, {}).get("bytes") is None:
                return _error(422, "UNPROCESSABLE_ENTITY", f"{media} has not been uploaded")
            urn = f"urn:li:share:{next(owner.ids)}"
            owner.li_posts[urn] = {
                "id": urn,
                "author": author,
                "commentary": body.get("commentary", ""),
                "content": body.get("content"),
                "visibility": body.get("visibility"),
                "createdAt": int(time.time() * 1000),
            }
            answer = Response(status=201)
            answer.headers["x-restli-id"] = urn
            return answer

        @app.route("/rest/posts", methods=["GET"])
        def by_author() -> Any:
            if (refused := versioned()) is not None:
                return refused
            author = request.args.get("author", "")
            found = [p for p in owner.li_posts.values() if p["author"] == author]
            return jsonify(elements=list(reversed(found)), paging={"count": 20, "start": 0})

        @app.route("/rest/posts/<path:urn>", methods=["DELETE"])
        def delete(urn: str) -> Any:
            if (refused := versioned()) is not None:
                return refused
            if owner.li_posts.pop(unquote(urn), None) is None:
                return _error(404, "NOT_FOUND", "Not found")
            return Response(status=204)

        @app.route("/rest/organizationalEntityShareStatistics")
        def share_statistics() -> Any:
            if (refused := versioned()) is not None:
                return refused
            shares = request.args.get("shares", "")
            urn = unquote(shares.removeprefix("List(").removesuffix(")"))
            if urn not in owner.li_posts:
                return jsonify(elements=[])
            return jsonify(
                elements=[
                    {
                        "organizationalEntity": request.args.get("organizationalEntity"),
                        "share": urn,
                        "totalShareStatistics": {
                            "impressionCount": 540,
                            "uniqueImpressionsCount": 410,
                            "clickCount": 33,
                            "likeCount": 18,
                            "commentCount": 4,
                            "shareCount": 2,
                            "engagement": 0.1,
                        },
                    }
                ]
            )

        @app.route("/rest/socialActions/<path:urn>")
        def social_actions(urn: str) -> Any:
            if (refused := versioned()) is not None:
                return refused
            return jsonify(
                likesSummary={"totalLikes": 9, "likedByCurrentUser": False},
                commentsSummary={"aggregatedTotalComments": 3, "totalFirstLevelComments": 3},
            )
