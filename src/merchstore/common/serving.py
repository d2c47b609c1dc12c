"""Serving an HTTP service: uvicorn with our logging and a clean exit status on SIGTERM."""

from __future__ import annotations

import signal
import sys

import uvicorn
from fastapi import FastAPI

from merchstore.common.config import HttpSettings


def serve_http(app: FastAPI, host: str, port: int, http: HttpSettings) -> None:
    """Serve ``app`` until SIGTERM or Ctrl-C, then shut down gracefully and exit 0.

    uvicorn re-raises the signal it caught once it has shut down, so the previous handler
    decides the exit status; a no-op handler makes a graceful stop exit 0, as supervisors and
    container runtimes expect.
    """
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda signum, frame: None)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=host, port=port, log_config=None, timeout_keep_alive=int(http.keep_alive_s)
        )
    )
    server.run()
    if not server.started:
        # uvicorn could not bind or start the application; it has logged why.
        sys.exit(1)
