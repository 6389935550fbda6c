"""A cap on request bodies, enforced while they stream in.

A declared `Content-Length` over the cap is refused before anything is read. A body that
grows past the cap without one (chunked) is cut off: the middleware stops feeding it to
the app and answers 413 in place of whatever the app would have said.
"""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.schemas.documents import readable_size


class BodyLimitMiddleware:
    """Answers 413 to any request whose body exceeds `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        received = 0
        exceeded = False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        responded = False

        async def replaced(message: Message) -> None:
            nonlocal responded
            if not exceeded:
                await send(message)
            elif not responded:
                responded = True
                await self._refuse(send)

        try:
            await self.app(scope, counted, replaced)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not responded:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        detail = (f"request body larger than the limit of {readable_size(self.limit)} "
                  "(max_request_bytes): send fewer files per request")
        body = json.dumps({"detail": detail, "code": "payload_too_large"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
