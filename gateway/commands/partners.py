"""`gateway partners`: list (and check) the partner directory."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from .. import config as configuration
from ..cli import EXIT_INVALID, EXIT_OK, UsageError


def register(sub) -> None:
    """Add the `partners` command with its `card` and `add` actions."""
    p = sub.add_parser("partners", help="the partner directory: list it, export our card, add a partner's card",
                       description="Without an action: list the partners of the directory "
                                   "([partners.\"ID\"] in the config and partners.toml), optionally "
                                   "filtered; --check reports incomplete entries. `card` and `add` "
                                   "exchange partner cards (docs/deployment.md).")
    actions = p.add_subparsers(dest="partners_command", metavar="ACTION")
    c = actions.add_parser("card", help="export this gateway's partner card, signed with our key",
                           description="Write our partner card: authority id and name, endpoints and "
                                       "transports, accepted message types, signing and TLS "
                                       "certificates, signed (XML-DSig) with our current key. Give it "
                                       "to the partner, who adds it with `gateway partners add`.")
    c.add_argument("-o", "--output", metavar="FILE", type=Path, help="write here instead of stdout")
    c.add_argument("--accepts", metavar="TYPES", default="", dest="card_accepts",
                   help="comma-separated message types we accept (default: every type we know)")
    c.set_defaults(func=card_command)
    a = actions.add_parser("add", help="add or update a partner from its card, after confirming fingerprints",
                           description="Check the card's signature, show the certificate fingerprints "
                                       "and ask for confirmation (compare them with the partner by "
                                       "phone: the out-of-band trust step), then write the partner's "
                                       "certificates to partners/ID/ and its entry to [gateway] "
                                       "partners_file (partners.toml beside gateway.toml).")
    a.add_argument("card", metavar="CARD", type=Path, help="the partner's card file")
    a.add_argument("--accept", metavar="TYPES", default="",
                   help="comma-separated message types we send to this partner (default: all the card lists)")
    a.add_argument("--transport", metavar="NAME", default="", dest="card_transport",
                   help="which of the card's endpoints to use (default: the card's first)")
    a.add_argument("--yes", action="store_true", help="do not ask: the fingerprints were compared already (scripts)")
    a.set_defaults(func=add_command)
    p.add_argument("--accepts", metavar="TYPE", help="only partners that accept this message type")
    p.add_argument("--transport", metavar="NAME", help="only partners reached over this transport")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--check", action="store_true", help="exit 1 and name every problem of the directory")
    p.set_defaults(func=partners_command)


def partners_command(args) -> int:
    """Print the (filtered) directory; with --check, its problems."""
    import adapters

    from ..exchange.directory import Directory, describe

    directory = Directory.from_config(configuration.load(args.config))
    hits = directory.query(accepts=args.accepts, transport=args.transport)
    if args.json:
        print(json.dumps([describe(p) for p in hits], indent=2, ensure_ascii=False))
    else:
        for p in hits:
            trust = f"{len(p.trust.certificates)} cert(s), {len(p.trust.cas)} CA(s)"
            print(f"{p.id}\t{p.transport}\t{p.name or '-'}\taccepts: {', '.join(p.accepts) or 'nothing'}"
                  f"\t{' '.join(p.endpoints) or 'no endpoint'}\ttrust: {trust}")
        if not hits:
            print("(no partners)", file=sys.stderr)
    if args.check:
        problems = directory.problems(adapters.ALIASES)
        for problem in problems:
            print(f"gateway partners: {problem}", file=sys.stderr)
        return EXIT_INVALID if problems else EXIT_OK
    return EXIT_OK


def card_command(args) -> int:
    """Write our signed partner card."""
    from cryptography import x509

    from ..bootstrap import ensure_dev_keys
    from ..crypto.keys import KeyRing, read_certificates
    from ..crypto.signing import Signer
    from ..exchange.cards import fingerprint, make_card
    from ..files import write_output

    config = configuration.load(args.config)
    now = datetime.now(timezone.utc)
    ensure_dev_keys(config, now)
    ring = KeyRing.from_config(config)
    signer = Signer.from_config(config, ring)
    base = public_url(config)
    accepts = [t.strip() for t in args.card_accepts.split(",") if t.strip()] or _known_types(config)
    current = ring.current(now).certificate
    certs: list[tuple[str, x509.Certificate]] = [("signing", current)]
    certs += [("signing", c) for c in ring.certificates() if c != current]
    if config.server.tls_cert:
        certs.append(("tls", read_certificates(config.path(config.server.tls_cert))[0]))
    gw = config.gateway
    data = make_card(signer, authority_id=gw.authority_id, name=gw.authority_name,
                     directory_service=gw.directory_service,
                     endpoints=[("http", base), ("soap", f"{base}/soap")], accepts=accepts,
                     certificates=certs, now=now)
    if args.output:
        write_output(args.output, data, mode=0o644)
    else:
        sys.stdout.buffer.write(data)
    print(f"partner card of {gw.authority_id} ({gw.authority_name}) at {base}", file=sys.stderr)
    for use, cert in certs:
        print(f"  {use} certificate SHA-256 {fingerprint(cert)}", file=sys.stderr)
    return EXIT_OK


def public_url(config) -> str:
    """How partners reach us: [server] public_url, else http(s)://host:port."""
    sec = config.server
    if sec.public_url:
        return sec.public_url.rstrip("/")
    if sec.host in ("0.0.0.0", "::", ""):
        raise UsageError("[server] host listens on every address: set [server] public_url "
                         "(how partners reach us) before exporting a card")
    return f"{'https' if sec.tls_cert else 'http'}://{sec.host}:{sec.port}"


def _known_types(config) -> list[str]:
    from ..mapping.registry import shipped_registry

    return [t.id for t in shipped_registry().types()]


def add_command(args) -> int:
    """Check a card, confirm its fingerprints, write the partner's entry."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from ..exchange.cards import fingerprint, read_card
    from ..files import write_atomic

    config = configuration.load(args.config)
    now = datetime.now(timezone.utc)
    card = read_card(args.card.read_bytes(), now=now, source=str(args.card))
    pid = card.authority_id
    if pid == config.gateway.authority_id:
        raise UsageError(f"{args.card} is our own card ({pid}); add the partner's card")
    if config.origins.get(f"partners.{pid}") == "file":
        raise UsageError(f'partner {pid} is in {config.source}; remove [partners."{pid}"] there '
                         "to manage it with partner cards")
    transport = args.card_transport or (card.endpoints[0][0] if card.endpoints else "")
    endpoints = [(t, u) for t, u in card.endpoints if t == transport]
    if not endpoints:
        raise UsageError(f"the card has no {transport} endpoint "
                         f"(it lists: {', '.join(t for t, _ in card.endpoints) or 'none'})")
    accepts = [t.strip() for t in args.accept.split(",") if t.strip()] or list(card.accepts)
    print(f"partner card of {pid} ({card.name}), made {card.created}")
    print(f"  endpoint:  {transport} {endpoints[0][1]}")
    print(f"  accepts:   {', '.join(accepts) or 'nothing'}")
    for use, cert in card.certificates:
        print(f"  {use:<9}  {cert.subject.rfc4514_string()}, valid until {cert.not_valid_after_utc:%Y-%m-%d}")
        print(f"             SHA-256 {fingerprint(cert)}")
    if not args.yes and not _confirmed(pid):
        print("gateway partners: not added (nothing written)", file=sys.stderr)
        return EXIT_INVALID
    folder = _partners_path(config).parent / "partners" / pid.replace(":", "_")
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for use in ("signing", "tls", "encryption"):
        certs = card.certs(use)
        if certs:
            path = folder / f"{use}.cert.pem"
            write_atomic(path, b"".join(c.public_bytes(Encoding.PEM) for c in certs), mode=0o644)
            files[use] = path
    entry = {"name": card.name, "endpoints": [u for _, u in endpoints], "transport": transport,
             "accepts": accepts,
             "trust": {"certificates": [_relative(files["signing"], _partners_path(config).parent)]}}
    path = _partners_path(config)
    write_partners_file(path, pid, entry)
    configuration.load(args.config)      # the result must load; else the error names the file
    print(f"{pid} {'updated' if pid in config.partners else 'added'} in {path}; certificates in {folder}")
    if "tls" in files:
        print(f"its HTTPS server certificate is in {files['tls']}: trust its CA in [delivery] ca_file")
    print("restart `gateway serve` (every node) to use it")
    return EXIT_OK


def _confirmed(pid: str) -> bool:
    print(f"Compare these fingerprints with {pid} (by phone, not by e-mail). Trust this card? [y/N] ",
          end="", flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes", "j", "ja")


def _partners_path(config) -> Path:
    name = config.gateway.partners_file
    if not name:
        raise UsageError("[gateway] partners_file is empty: partner cards need a file to write to")
    return config.path(name)


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def write_partners_file(path: Path, pid: str, entry: dict) -> None:
    """Add or replace one partner's tables in the partners file, keeping the others."""
    import tomllib

    from ..config.describe import toml_value
    from ..files import write_atomic

    partners = tomllib.loads(path.read_text(encoding="utf-8")).get("partners", {}) if path.exists() else {}
    old = partners.get(pid, {})
    if "options" in old:
        entry = {**entry, "options": old["options"]}
    partners[pid] = entry
    lines = ["# Partner directory entries written by `gateway partners add CARD` (merged with the",
             "# [partners] of gateway.toml). Each partner's certificates are in partners/ID/.", ""]
    for key in sorted(partners):
        lines += _table(f'partners."{key}"', partners[key], toml_value)
    write_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"), mode=0o644)


def _table(name: str, table: dict, value) -> list[str]:
    out = [f"[{name}]"]
    subs = []
    for key, v in table.items():
        if isinstance(v, dict):
            subs.append((f"{name}.{key}", v))
        else:
            out.append(f"{key} = {value(v)}")
    out.append("")
    for sub_name, sub in subs:
        out += _table(sub_name, sub, value)
    return out
