"""`gateway config check` and `gateway config show`: is this configuration ready to serve,
and what is in effect (docs/configuration.md, docs/deployment.md)."""
from __future__ import annotations

import asyncio
import dataclasses
import re
import sys
from datetime import datetime, timezone
from typing import Callable

from .. import config as configuration
from ..cli import EXIT_INVALID, EXIT_OK
from ..errors import GatewayError


def register(sub) -> None:
    """Add the `config` command with `check` and `show`."""
    cfg = sub.add_parser("config", help="check the configuration, show what is in effect",
                         description="Check a gateway.toml with the start-up self-tests, or print "
                                     "the effective configuration with the origin of each value.")
    actions = cfg.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    p = actions.add_parser("check", help="load, validate and self-test; exit 1 with the reasons",
                           description="Load and validate the configuration, then the self-tests: "
                                       "own authority id, partner directory, own keys sign and verify a "
                                       "canary, partners' certificates valid, TLS files, store "
                                       "reachable and at the code's schema, schemas compile. One line "
                                       "per check; exit 1 when any failed.")
    p.set_defaults(func=check_command)
    p = actions.add_parser("show", help="the effective configuration and where each value came from",
                           description="Print every key with its effective value and its origin: "
                                       "file, environment (the variable) or default.")
    p.add_argument("--section", metavar="NAME", action="append",
                   help="only this section (repeat for several)")
    p.set_defaults(func=show_command)


def check_command(args) -> int:
    """Run every self-test; print one line each."""
    config = configuration.load(args.config)
    print(f"configuration: {config.source}")
    failed = 0
    for name, test in _checks(config):
        try:
            note = test() or "ok"
        except (GatewayError, OSError, ValueError) as exc:
            failed += 1
            print(f"FAIL  {name}: {exc}")
        else:
            print(f"ok    {name}: {note}")
    print(f"{failed} check(s) failed" if failed else "all checks passed", file=sys.stderr)
    return EXIT_INVALID if failed else EXIT_OK


def _checks(config) -> list[tuple[str, Callable[[], str | None]]]:
    now = datetime.now(timezone.utc)

    def identity():
        from ..bootstrap import check_identity

        check_identity(config)
        return f"{config.gateway.authority_id} ({config.gateway.authority_name})"

    def directory():
        import adapters

        from ..backend.routes import check_inbound_routes
        from ..exchange.directory import Directory

        d = Directory.from_config(config)
        problems = d.problems(adapters.ALIASES)
        if problems:
            raise ValueError("; ".join(problems))
        check_inbound_routes(config)
        return f"{len(d)} partner(s)" if len(d) else "no partners yet (gateway partners add CARD)"

    def keys():
        from ..crypto.keys import KeyRing
        from ..crypto.signing import Signer, canary

        ring = KeyRing.from_config(config)
        canary(Signer.from_config(config, ring), now=now)
        key = ring.current(now)
        return f"canary signed and verified with {key.subject}, valid until {key.certificate.not_valid_after_utc:%Y-%m-%d}"

    def partners():
        from ..crypto.expiry import partner_certificates
        from ..crypto.trust import TrustStore

        rows = partner_certificates(TrustStore.from_config(config))
        bad = [f"{r.owner} {r.role} {r.subject}: {r.flag(now, 0)}" for r in rows if r.flag(now, 0)]
        if bad:
            raise ValueError("; ".join(bad))
        soon = [r for r in rows if r.flag(now, config.keys.expiry_warning_days)]
        return f"{len(rows)} certificate(s) valid" + (f", {len(soon)} expiring within "
                                                       f"{config.keys.expiry_warning_days} days" if soon else "")

    def tls():
        from ..bootstrap import client_settings, server_ssl

        client_settings(config)
        return "HTTPS server" if server_ssl(config) else "plain HTTP server (no [server] tls_cert)"

    def store():
        from ..store.engine import sqlite_file

        path = sqlite_file(config.store.url, config.data_dir)
        if path is not None and not path.exists():
            return f"no store yet at {path}: `gateway serve` creates it ([store] auto_upgrade) or `gateway db upgrade`"
        return asyncio.run(_store_revision(config))

    def schemas():
        from ..mapping.registry import shipped_registry
        from ..validation import Validator

        types = shipped_registry().types()
        Validator.from_config(config)
        return f"{len(types)} message types, validator ready"

    return [("authority", identity), ("partner directory", directory), ("own keys", keys),
            ("partner certificates", partners), ("TLS", tls), ("store", store), ("schemas", schemas)]


async def _store_revision(config) -> str:
    from ..store import schema
    from ..store.engine import create_engines, resolve_url

    writer, reader = create_engines(resolve_url(config.store.url, config.data_dir))
    try:
        have = await schema.current(reader)
    finally:
        await writer.dispose()
        if reader is not writer:
            await reader.dispose()
    want = schema.head()
    if have != want and not config.store.auto_upgrade:
        raise ValueError(f"database at revision {have or 'none'}, gateway needs {want}: run `gateway db upgrade`")
    return f"reachable, revision {have or 'none (empty)'}" + (
        "" if have == want else f" (`gateway serve` upgrades to {want})")


def show_command(args) -> int:
    """Print the effective configuration, one key a line, with its origin."""
    from ..config.describe import tables, toml_value

    config = configuration.load(args.config)
    only = set(args.section or ())
    print(f"# configuration: {config.source}\n# data_dir: {config.data_dir}")
    for table in tables():
        if not table.section or (only and table.section not in only):
            continue
        section = config.sections[table.section]
        print(f"\n[{table.section}]")
        for key in table.keys:
            value = getattr(section, key.name)
            line = f"{key.name} = {_mask(toml_value(value))}"
            print(f"{line:<48} # {config.origin(table.section, key.name)}")
    if not only or "partners" in only:
        for pid, spec in config.partners.items():
            print(f'\n[partners."{pid}"]  # {config.origins.get(f"partners.{pid}", "file")}')
            for f in dataclasses.fields(spec):
                if f.name not in ("id", "trust", "options"):
                    print(f"{f.name} = {toml_value(getattr(spec, f.name))}")
            for key, value in spec.options:
                print(f"options.{key} = {toml_value(value)}")
            for f in dataclasses.fields(spec.trust):
                print(f"trust.{f.name} = {toml_value(getattr(spec.trust, f.name))}")
    return EXIT_OK


def _mask(text: str) -> str:
    """A password inside a URL is never printed."""
    return re.sub(r"(://[^:/@\s]+:)[^@/\s]+@", r"\1***@", text)
