"""The webhook bench's baseline: a bare aiohttp server that reads the same JSON and answers.

Why a separate process: the figure is our service's requests/s as a ratio to the least any
aiohttp service must do per webhook (read the body, decode the JSON, answer 200), measured the
same way — another process on 127.0.0.1, loaded by the same external generator.

Run: ``python -m bench.bare_server`` prints ``{"port": N}`` on stdout, serves until SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from aiohttp import web

PATH = "/webhook/alertmanager"  # the service's path (autoscaler.signals.webhook.WEBHOOK_PATH)


async def _hook(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response({"status": "ok", "alerts": len(body.get("alerts", []))})


async def _serve() -> None:
    app = web.Application(client_max_size=1 << 20)
    app.router.add_post(PATH, _hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(json.dumps({"port": runner.addresses[0][1]}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> int:
    asyncio.run(_serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
