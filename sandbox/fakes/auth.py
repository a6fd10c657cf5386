"""Fake OAuth token endpoint, IAM Credentials (impersonation) and IAM key listing.

google-auth does the real work against it: a service-account key file whose `token_uri` points
here makes `google.auth.default()` sign a JWT with the key and exchange it for a token, exactly
as with Google. The fake verifies the JWT's signature against the keys it was given, so a wrong
key fails like it would for real, and it only impersonates where a grant says the caller may.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sandbox.fakes.http import ApiError, FakeServer, JsonDict, Request, Response

__all__ = ["IamFake", "UserKey"]


@dataclass
class UserKey:
    """A user-managed key of a service account, as the IAM API lists it."""

    key_id: str
    valid_after: dt.datetime
    valid_before: dt.datetime = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    #: A disabled key authenticates nothing; IAM lists it with "disabled": true.
    disabled: bool = False


@dataclass
class _Account:
    public_key: rsa.RSAPublicKey | None = None
    #: Principals allowed to mint tokens for this account (roles/iam.serviceAccountTokenCreator).
    token_creators: set[str] = field(default_factory=set)
    keys: list[UserKey] = field(default_factory=list)


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class IamFake(FakeServer):
    """Seed with `add_account(email, public_key)`, `allow_impersonation(caller, target)`, `add_key`."""

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, _Account] = {}
        #: access token -> principal it was issued to
        self.tokens: dict[str, str] = {}
        self._token_lock = threading.Lock()
        self.route("POST", r"/token", self._token, "oauth2.token")
        self.route(
            "POST",
            r"/v1/projects/-/serviceAccounts/(?P<email>[^/:]+):generateAccessToken",
            self._generate,
            "iamcredentials.generateAccessToken",
        )
        self.route(
            "GET",
            r"/v1/projects/(?P<project>[^/]+)/serviceAccounts/(?P<email>[^/:]+)/keys",
            self._keys,
            "iam.serviceAccounts.keys.list",
            "iam.serviceAccountKeys.list",
        )

    # -- seeding --------------------------------------------------------------------------------

    def add_account(self, email: str, public_key: rsa.RSAPublicKey | None = None) -> None:
        self.accounts.setdefault(email, _Account()).public_key = public_key

    def allow_impersonation(self, caller: str, target: str) -> None:
        self.accounts.setdefault(target, _Account()).token_creators.add(caller)

    def add_key(self, email: str, key: UserKey) -> None:
        self.accounts.setdefault(email, _Account()).keys.append(key)

    # -- handlers ---------------------------------------------------------------------------------

    def _issue(self, principal: str) -> str:
        token = "ya29.sandbox-" + secrets.token_urlsafe(24)
        with self._token_lock:
            self.tokens[token] = principal
        return token

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _oauth_error("unsupported_grant_type", "Only JWT bearer grants are served here.")
        try:
            header_b64, claims_b64, signature_b64 = form["assertion"].split(".")
            claims = json.loads(_b64decode(claims_b64))
        except (KeyError, ValueError):
            return _oauth_error("invalid_grant", "Malformed JWT assertion.")
        account = self.accounts.get(str(claims.get("iss")))
        if account is None or account.public_key is None:
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        try:
            account.public_key.verify(
                _b64decode(signature_b64),
                f"{header_b64}.{claims_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        token = self._issue(str(claims["iss"]))
        return Response.of_json({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def caller(self, request: Request) -> str:
        """The principal behind the request's bearer token; 401 like Google when there is none."""
        auth = request.header("Authorization") or ""
        token = auth.removeprefix("Bearer ").strip()
        with self._token_lock:
            principal = self.tokens.get(token)
        if principal is None:
            raise ApiError(401, "Request had invalid authentication credentials.")
        return principal

    def principal_of(self, request: Request) -> str | None:
        """The principal behind the request's bearer token, if this fake issued it."""
        token = (request.header("Authorization") or "").removeprefix("Bearer ").strip()
        with self._token_lock:
            return self.tokens.get(token)

    def _generate(self, request: Request) -> Response:
        caller = self.caller(request)
        email = request.params["email"]
        account = self.accounts.get(email)
        if account is None or caller not in account.token_creators:
            raise ApiError(
                403,
                "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
            )
        lifetime = int(str(request.json().get("lifetime", "3600s")).rstrip("s") or 3600)
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lifetime)
        return Response.of_json(
            {"accessToken": self._issue(email), "expireTime": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
        )

    def _keys(self, request: Request) -> Response:
        self.caller(request)
        email = request.params["email"]
        account = self.accounts.get(email)
        if account is None:
            raise ApiError(404, f"Service account {email} does not exist.")
        wanted = request.query.get("keyTypes", [])
        if wanted and "USER_MANAGED" not in wanted:
            return Response.of_json({})
        project = request.params["project"]
        keys: list[JsonDict] = [
            {
                "name": f"projects/{project}/serviceAccounts/{email}/keys/{key.key_id}",
                "validAfterTime": key.valid_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "validBeforeTime": key.valid_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "keyAlgorithm": "KEY_ALG_RSA_2048",
                "keyOrigin": "GOOGLE_PROVIDED",
                "keyType": "USER_MANAGED",
                **({"disabled": True} if key.disabled else {}),
            }
            for key in account.keys
        ]
        return Response.of_json({"keys": keys} if keys else {})


def _oauth_error(error: str, description: str) -> Response:
    return Response.of_json({"error": error, "error_description": description}, status=400)
