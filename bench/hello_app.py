"""The ceiling reference: a bare FastAPI endpoint served the same way as the services."""

from __future__ import annotations

import sys

from fastapi import FastAPI

from merchstore.common.config.sections import HttpSettings, ServiceSettings
from merchstore.common.serving.http import run_uvicorn

# A bare endpoint: none of FastAPI's OpenTelemetry hooks (a service's run for sampled requests).
app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})


@app.post("/hello", status_code=201)
async def hello(body: dict[str, object] | None = None) -> dict[str, str]:
    """Answer at once: no validation beyond JSON, no I/O."""
    return {"message": "hello"}


@app.get("/hello")
async def hello_get() -> dict[str, str]:
    """Answer at once, no I/O."""
    return {"message": "hello"}


@app.get("/health")
async def health() -> dict[str, str]:
    """Ready as soon as it listens."""
    return {"status": "ok"}


if __name__ == "__main__":
    run_uvicorn(app, ServiceSettings(port=int(sys.argv[1])), HttpSettings())
