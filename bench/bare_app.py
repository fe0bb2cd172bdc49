"""The floor for bench/load.py: a bare Starlette app, no database, served like ketaclinic.

GET  /ping  a small JSON answer (what a chart read maps to)
POST /echo  reads and decodes a JSON body, answers 201 with a small JSON (what a write maps to)

.venv/bin/python -m uvicorn bare_app:app   (from bench/)
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def ping(_request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def echo(request: Request) -> JSONResponse:
    # Decoding the body is part of the floor: every ketaclinic write decodes one too.
    body = await request.json()
    return JSONResponse({"received": len(body)}, status_code=201)


app = Starlette(routes=[Route("/ping", ping), Route("/echo", echo, methods=["POST"])])
