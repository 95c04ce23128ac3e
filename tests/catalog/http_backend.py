"""A small real HTTP API for REST-tool and OpenAPI-import tests (run as a subprocess).

GET/POST/... /echo/<rest>  -> JSON of method, path, query, selected headers and JSON body
GET /slow                  -> answers after 3 seconds
GET /big                   -> 2 MB of text
GET /fail                  -> 500
GET /openapi.json          -> an OpenAPI 3 document describing this server
GET /health                -> 200
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "Pets", "version": "1.0"},
    "servers": [{"url": "/"}],
    "paths": {
        "/echo/pets/{petId}": {
            "get": {
                "operationId": "getPet",
                "summary": "Get one pet",
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}},
                    {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
                ],
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}
                },
            }
        },
        "/echo/pets": {
            "post": {
                "operationId": "createPet",
                "description": "Create a pet",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
                },
                "responses": {"201": {"description": "created"}},
            }
        },
    },
    "components": {
        "schemas": {
            "Pet": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "tag": {"type": "string"},
                    "parent": {"$ref": "#/components/schemas/Pet"},
                },
            }
        }
    },
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if parts.path == "/health":
            return self._send(200, b'{"ok": true}')
        if parts.path == "/openapi.json":
            return self._send(200, json.dumps(OPENAPI).encode())
        if parts.path == "/slow":
            time.sleep(3)
            return self._send(200, b'{"slow": true}')
        if parts.path == "/big":
            return self._send(200, b"x" * (2 * 1024 * 1024), "text/plain")
        if parts.path == "/fail":
            return self._send(500, b"boom", "text/plain")
        if parts.path.startswith("/echo"):
            answer = {
                "method": self.command,
                "path": parts.path,
                "query": dict(parse_qsl(parts.query)),
                "headers": {
                    k.lower(): v for k, v in self.headers.items() if k.lower().startswith(("x-", "authorization"))
                },
                "body": json.loads(raw) if raw else None,
            }
            return self._send(200, json.dumps(answer).encode())
        return self._send(404, b'{"detail": "not found"}')

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
