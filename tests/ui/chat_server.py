"""A local OpenAI-compatible chat endpoint for the tests, on 127.0.0.1, that streams real
server-sent events.

`POST /v1/chat/completions` with `stream: true` answers with the first sentence of the
first passage of the prompt it was sent, cited [1], one word per SSE chunk
(`data: {"choices":[{"delta":{"content":...}}]}`), then `data: [DONE]`. Without `stream`,
it answers with `rewrite` (for follow-up rewriting), or echoes the last question. Every
request is recorded. `hold_after` words into a stream, it waits for `release` (at most
HOLD_SECONDS), so a test can see a half answer on the page before the rest arrives.
"""

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOLD_SECONDS = 60.0


@dataclass
class ChatServer:
    url: str = ""
    requests: list[dict] = field(default_factory=list)
    rewrite: str | None = None
    hold_after: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    """Set when a stream has sent `hold_after` words and waits."""


def answer_of(body: dict) -> str:
    """The first sentence of passage [1] of the prompt, cited."""
    prompt = body["messages"][-1]["content"]
    first = re.search(r"\[1\] \([^)]*\)\n(.+?[.!?])(?:\s|$)", prompt, re.DOTALL)
    sentence = " ".join(first.group(1).split()) if first else "The passages do not say."
    return f"According to the first passage, {sentence} [1]"


def _handler(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            server.requests.append({"path": self.path, "body": body,
                                    "auth": self.headers.get("Authorization")})
            if body.get("stream"):
                self._stream(answer_of(body))
            else:
                question = body["messages"][-1]["content"].rsplit("Last question: ", 1)[-1]
                self._json({"choices": [{"message": {"role": "assistant",
                                                     "content": server.rewrite or question}}]})

        def _json(self, reply: dict) -> None:
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, text: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b": a comment line, as servers send to keep a stream alive\n\n")
            for n, word in enumerate(re.findall(r"\S+\s*", text)):
                if n == server.hold_after:
                    server.held.set()
                    server.release.wait(HOLD_SECONDS)
                chunk = {"choices": [{"index": 0, "delta": {"content": word}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *args) -> None:
            pass

    return Handler


@contextmanager
def chat_server(**options) -> Iterator[ChatServer]:
    """The endpoint on a free port of 127.0.0.1 until the block ends."""
    state = ChatServer(**options)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True, name="chat-server")
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
