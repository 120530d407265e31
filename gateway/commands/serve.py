"""`gateway serve`: the inbound server, the backend API and the outbox drain, until SIGTERM/SIGINT."""
from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys

from .. import config as configuration
from ..cli import EXIT_OK
from ..files import write_atomic

log = logging.getLogger("gateway.serve")


def register(sub) -> None:
    """Add the `serve` command."""
    p = sub.add_parser("serve", help="run the gateway server",
                       description="Run the HTTP/SOAP server, the backend API and the outbox delivery. "
                                   "Without --config: embedded defaults (SQLite and dev keys in ./data, "
                                   "127.0.0.1:8480).")
    p.add_argument("--host", help="listen address (overrides [server] host)")
    p.add_argument("--port", type=int, help="port (overrides [server] port; 0 = any free port)")
    p.set_defaults(func=serve_command)


def serve_command(args) -> int:
    """Handler of `gateway serve`."""
    from ..operations import logs

    config = configuration.load(args.config)
    logs.configure(config, config.gateway.node_id or socket.gethostname())
    asyncio.run(serve(config, host=args.host, port=args.port))
    return EXIT_OK


async def serve(config, *, host: str | None = None, port: int | None = None) -> None:
    """Run until a stop signal: start-up checks, listen, run the scheduler's jobs (outbox,
    drop folders, polling, retention...), shut down gracefully."""
    from aiohttp import web

    from .. import bootstrap
    from ..operations import health, observe, scheduler
    from ..operations.cluster import Cluster
    from ..server.metrics import Metrics

    metrics = Metrics()
    gw = await bootstrap.build(config, metrics=metrics)
    cluster = Cluster.from_config(gw.store, gw.node, config, gw.clock)
    observe.instrument(gw, metrics, cluster)
    sched, jobs = scheduler.for_gateway(gw, config, metrics=metrics, cluster=cluster)
    sec = config.server
    ssl_context = bootstrap.server_ssl(config)

    async def ready() -> dict:
        return await health.readiness(gw, scheduler=sched, cluster=cluster)

    runner = web.AppRunner(bootstrap.create_app(gw, metrics, jobs=sched.status, ready=ready), access_log=None,
                           shutdown_timeout=sec.shutdown_timeout)
    stop = asyncio.Event()
    try:
        await runner.setup()
        site = web.TCPSite(runner, host or sec.host, sec.port if port is None else port, ssl_context=ssl_context)
        await site.start()
        bound = site._server.sockets[0].getsockname()
        url = f"{'https' if ssl_context else 'http'}://{bound[0]}:{bound[1]}"
        # atomic: a reader polling for the file never sees it empty
        write_atomic(config.data_dir / "server.url", (url + "\n").encode(), mode=0o644, fsync=False)
        print(f"gateway: {gw.authority.kennung} listening on {url} (node {gw.node})", file=sys.stderr, flush=True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await cluster.start()
        if config.scheduler.enabled:
            await gw.delivery.start()       # continuous delivery; the outbox job is its safety net
            await sched.start()
        await stop.wait()
    finally:
        print("gateway: shutting down", file=sys.stderr, flush=True)
        await sched.aclose()
        await cluster.aclose()
        await runner.cleanup()
        await jobs.aclose()
        await gw.aclose()
        (config.data_dir / "server.url").unlink(missing_ok=True)

