"""A bare Starlette app on vaultjobs' server stack: the floor under ``GET /_vaultjobs/health``.

One route, ``GET /health``, answering health's very body as a JSONResponse, served by uvicorn exactly
as ``vaultjobs serve`` configures it (the same HTTP parser and event loop, no access log, no server
header) on an ephemeral port of 127.0.0.1. ``bench/status_api.py`` starts it as a subprocess and
drives it with the same load generator, to check that the trivial endpoint costs at most 1.5× what
the bare app costs (DESIGN.md, issue 16).

    .venv/bin/python bench/bare_app.py    # prints "listening on http://127.0.0.1:<port>"
"""

from __future__ import annotations

import socket

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from vaultjobs.node import server_stack


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"responseStatus": "SUCCESS", "status": "ok"})


def main() -> None:
    app = Starlette(routes=[Route("/health", health)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)  # before "listening" is printed: connections wait in the backlog until uvicorn runs
    http, loop = server_stack()
    config = uvicorn.Config(app, log_config=None, access_log=False, server_header=False, http=http, loop=loop,
                            lifespan="off")
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
