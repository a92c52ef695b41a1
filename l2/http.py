"""HTTP serving shared by every node: the JSON-RPC endpoint and Prometheus's /metrics.

The sequencer and the verifier serve the same `l2.rpc.JsonRpc` the same way; only the
gauges they refresh before a scrape differ (`refresh`).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from l2.rpc import JsonRpc

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"


def rpc_app(rpc: Callable[[], JsonRpc], max_body_bytes: int) -> web.Application:
    """POST / answers JSON-RPC requests and batches (an all-notification batch gets an empty 200)."""
    app = web.Application(client_max_size=max_body_bytes)

    async def post(request: web.Request) -> web.Response:
        answer = await rpc().handle(await request.read())
        if answer is None:
            return web.Response(status=200)
        return web.Response(body=answer, content_type="application/json")

    app.router.add_post("/", post)
    return app


def metrics_app(exposition: Callable[[], bytes], refresh: Callable[[], None]) -> web.Application:
    """GET /metrics: refresh the gauges read at scrape time, then the exposition."""
    app = web.Application()

    async def get(request: web.Request) -> web.Response:
        refresh()
        return web.Response(body=exposition(), headers={"Content-Type": METRICS_CONTENT_TYPE})

    app.router.add_get("/metrics", get)
    return app


async def serve(app: web.Application, host: str, port: int, runners: list[web.AppRunner]) -> int:
    """Bind `app` (port 0: a free one) and return the bound port; the runner joins `runners`."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    runners.append(runner)
    return int(runner.addresses[0][1]) if runner.addresses else port
