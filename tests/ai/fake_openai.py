"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, in a thread (real HTTP)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


@dataclass
class Reply:
    content: Any = None  # an object (sent as JSON text), or a str sent as is
    status: int = 200
    delay: float = 0.0
    raw: str | None = None  # a body that is not a chat completion at all


@dataclass
class FakeOpenAI:
    base_url: str = ""
    script: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def reply(self, *replies: Reply) -> None:
        self.script[:] = list(replies)
        self.requests.clear()
        self.headers.clear()

    async def _chat(self, request: Request) -> Response:
        self.requests.append(await request.json())
        self.headers.append(dict(request.headers))
        reply = self.script.pop(0) if self.script else Reply(status=500)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.raw is not None:
            return PlainTextResponse(reply.raw, status_code=reply.status)
        if reply.status != 200:
            return JSONResponse({"error": {"message": "boom"}}, status_code=reply.status)
        text = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
        return JSONResponse(
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
            }
        )


@contextmanager
def serve() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    app = Starlette(routes=[Route("/v1/chat/completions", fake._chat, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="error", lifespan="off", ws="none", http="h11", loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    fake.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
