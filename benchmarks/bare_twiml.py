"""The reference for benchmarks/server.py: a bare Starlette endpoint returning fixed TwiML.

Served by uvicorn with the same settings as `main.py serve` (bot.server.build_server), so
the ratio between the two measures the bot's own work: signature check, matching, logging.

    .venv/bin/python benchmarks/bare_twiml.py --port PORT
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bot.server import build_server  # noqa: E402

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Fixed reply.</Message></Response>'


async def messages(request: Request) -> Response:
    await request.body()  # read the form, as any webhook must
    return Response(TWIML, media_type="application/xml")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def create_app() -> Starlette:
    return Starlette(routes=[Route("/twilio/messages", messages, methods=["POST"]), Route("/healthz", healthz)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(build_server(create_app(), "127.0.0.1", args.port).serve())
