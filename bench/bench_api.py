"""What the backend API costs on top of the core: submit over HTTP (auth, JSON, problem
handling) vs `Gateway.submit` in-process, status over HTTP vs the store reads behind it,
and a stored-token lookup vs the operator token. SQLite store in a temp dir.

    .venv/bin/python -m bench.bench_api [--n 30] [--rounds 5]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path

from bench.common import interleaved, report

LETTER = "korrespondenz.schreiben.0200"
PARTNER = "ags:09162000"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print rates and ratios."""
    args = _args(argv)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    def run(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    with tempfile.TemporaryDirectory() as tmp:
        env = run(_setup(Path(tmp)))
        try:
            record = json.loads((Path(__file__).resolve().parents[1] / "examples" / f"{LETTER}.json").read_text())
            record["nachrichtenkopfG2g"].pop("leser", None)
            body = {"type": LETTER, "to": PARTNER, "record": record}
            gw, session, url, token = env["gw"], env["session"], env["url"], env["token"]
            headers = {"Authorization": f"Bearer {token}"}

            async def api_submit():
                async with session.post(url + "/api/messages", json=body, headers=headers) as r:
                    assert r.status == 201, await r.text()

            msg_id = run(gw.submit(LETTER, record, to=PARTNER, client="bench")).id   # the token's own

            async def api_status():
                async with session.get(f"{url}/api/messages/{msg_id}", headers=headers) as r:
                    assert r.status == 200

            async def direct_status():
                await gw.store.get(msg_id)
                await gw.store.history(msg_id)
                await gw.store.receipts(msg_id)

            rates = interleaved({"Gateway.submit (in-process)": lambda: run(gw.submit(LETTER, record, to=PARTNER)),
                                 "POST /api/messages (HTTP, token, JSON)": lambda: run(api_submit())},
                                n=args.n, rounds=args.rounds)
            report("submit: build, validate, sign, store", rates, "Gateway.submit (in-process)")
            rates = interleaved({"store reads (get, history, receipts)": lambda: run(direct_status()),
                                 "GET /api/messages/{id}": lambda: run(api_status())},
                                n=args.n * 5, rounds=args.rounds)
            report("status", rates, "store reads (get, history, receipts)")
            auth = env["auth"]
            rates = interleaved({"operator token (hash + compare)": lambda: run(auth.authenticate("operator-secret")),
                                 "stored token (hash + indexed lookup)": lambda: run(auth.authenticate(token))},
                                n=args.n * 20, rounds=args.rounds)
            report("authentication", rates, "operator token (hash + compare)")
        finally:
            run(_teardown(env))
    loop.call_soon_threadsafe(loop.stop)
    return 0


def _args(argv):
    p = argparse.ArgumentParser(description="backend API overhead")
    p.add_argument("--n", type=int, default=30, help="submits per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="a few seconds: --n 5 --rounds 1")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.rounds = 5, 1
    return args


async def _setup(root: Path) -> dict:
    import aiohttp
    from aiohttp import web

    from adapters.memory import MemoryNetwork, MemorySender
    from gateway import bootstrap
    from gateway import config as cfg
    from gateway.backend.tokens import Authenticator, Tokens
    from gateway.ports import ClientSettings

    now = datetime.now(timezone.utc)
    other = root / "other"
    bootstrap.ensure_dev_keys(cfg.from_dict({"gateway": {"data_dir": "data", "authority_id": PARTNER}},
                                            base_dir=other), now)
    raw = {"gateway": {"data_dir": "data", "authority_id": "ags:09162001", "node_id": "bench"},
           "partners": {PARTNER: {"name": "Portal", "endpoints": ["memory://x"], "transport": "memory",
                                  "accepts": ["*"],
                                  "trust": {"certificates": [str(other / "data/keys/signing.cert.pem")]}}}}
    config = cfg.from_dict(raw, base_dir=root / "gw")
    gw = await bootstrap.build(config, senders={"memory": MemorySender(ClientSettings(timeout=5), MemoryNetwork())})
    runner = web.AppRunner(bootstrap.create_app(gw))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    token = await Tokens(gw.store).create("bench", types=["*"], partners=["*"], actor="bench")
    return {"gw": gw, "runner": runner, "session": aiohttp.ClientSession(), "token": token,
            "url": f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}",
            "auth": Authenticator(Tokens(gw.store), b"operator-secret")}


async def _teardown(env: dict) -> None:
    await env["session"].close()
    await env["runner"].cleanup()
    await env["gw"].aclose()


if __name__ == "__main__":
    raise SystemExit(main())
