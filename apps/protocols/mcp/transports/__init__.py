"""Thin transports around the pure dispatcher: streamable HTTP, legacy SSE, WebSocket, /rpc, stdio."""
