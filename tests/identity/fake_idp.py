"""A fake OpenID Connect provider for end-to-end SSO tests: real HTTP, real redirects, RS256-signed id_tokens.

Run: ``python -m tests.identity.fake_idp --port P --client-id ID --client-secret S``.
The test chooses who signs in next with ``POST /_control`` ({"email", "name", "groups",
"forge"}); ``forge`` signs the id_token with a key the JWKS does not publish.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KID = "test-key-1"


class State:
    """The provider's keys, registered client, pending codes and the next user."""

    def __init__(self, base_url: str, client_id: str, client_secret: str) -> None:
        self.base_url = base_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.user = {"email": "sso.user@example.com", "name": "Sso User", "groups": [], "forge": False}
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.lock = threading.Lock()

    def jwks(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}

    def claims(self, user: dict) -> dict:
        return {
            "sub": "sub-" + user["email"],
            "email": user["email"],
            "email_verified": True,
            "name": user["name"],
            "groups": user["groups"],
        }

    def id_token(self, user: dict, nonce: str | None) -> str:
        now = int(time.time())
        payload = {**self.claims(user), "iss": self.base_url, "aud": self.client_id, "iat": now, "exp": now + 300}
        if nonce:
            payload["nonce"] = nonce
        key = self.forger if user.get("forge") else self.key
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": KID})


def handler_for(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/health":
                self._json(200, {"ok": True})
            elif url.path == "/.well-known/openid-configuration":
                base = state.base_url
                self._json(
                    200,
                    {
                        "issuer": base,
                        "authorization_endpoint": f"{base}/authorize",
                        "token_endpoint": f"{base}/token",
                        "userinfo_endpoint": f"{base}/userinfo",
                        "jwks_uri": f"{base}/jwks",
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                    },
                )
            elif url.path == "/jwks":
                self._json(200, state.jwks())
            elif url.path == "/authorize":
                if query.get("client_id") != state.client_id or query.get("response_type") != "code":
                    self._json(400, {"error": "invalid_request"})
                    return
                code = secrets.token_urlsafe(16)
                with state.lock:
                    state.codes[code] = {
                        "user": dict(state.user),
                        "nonce": query.get("nonce"),
                        "redirect_uri": query["redirect_uri"],
                    }
                target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
                self.send_response(302)
                self.send_header("Location", target)
                self.end_headers()
            elif url.path == "/userinfo":
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                grant = state.tokens.get(token)
                if grant is None:
                    self._json(401, {"error": "invalid_token"})
                else:
                    self._json(200, state.claims(grant["user"]))
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            url = urlparse(self.path)
            raw = self._body()
            if url.path == "/_control":
                with state.lock:
                    state.user = {**state.user, **json.loads(raw or b"{}")}
                self._json(200, state.user)
                return
            if url.path != "/token":
                self._json(404, {"error": "not_found"})
                return
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            client_id, secret = form.get("client_id"), form.get("client_secret")
            auth = self.headers.get("Authorization") or ""
            if auth.startswith("Basic "):
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            if client_id != state.client_id or secret != state.client_secret:
                self._json(401, {"error": "invalid_client"})
                return
            with state.lock:
                grant = state.codes.pop(form.get("code", ""), None)  # single use
            if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                self._json(400, {"error": "invalid_grant"})
                return
            access = secrets.token_urlsafe(24)
            state.tokens[access] = grant
            self._json(
                200,
                {
                    "access_token": access,
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": state.id_token(grant["user"], grant["nonce"]),
                },
            )

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    args = parser.parse_args()
    state = State(f"http://127.0.0.1:{args.port}", args.client_id, args.client_secret)
    ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(state)).serve_forever()


if __name__ == "__main__":
    main()
