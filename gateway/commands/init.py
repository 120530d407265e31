"""`gateway init`: a new gateway's folder: commented gateway.toml, keys, and what to do next
(docs/deployment.md)."""
from __future__ import annotations

import errno
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from ..cli import EXIT_OK, UsageError


def register(sub) -> None:
    """Add the `init` command."""
    p = sub.add_parser("init", help="start a gateway's folder: commented gateway.toml, keys, next steps",
                       description="Write DIR/gateway.toml (every section with its defaults and a "
                                   "one-line explanation, our identity filled in) and development keys "
                                   "in DIR/data/keys, then print the next steps. Refuses to overwrite.")
    p.add_argument("--dir", metavar="DIR", type=Path, default=Path("."),
                   help="the gateway's folder (default: the current folder; made if missing)")
    p.add_argument("--authority", metavar="ID", required=True,
                   help="our own authority id (kennung), e.g. ags:09162000 or psw:09162000")
    p.add_argument("--name", metavar="NAME", required=True, help="our name as partners see it")
    p.add_argument("--url", metavar="URL", default="",
                   help="how partners reach us, e.g. https://gateway.example.org (sets [server] "
                        "public_url, and port when the URL names one)")
    p.set_defaults(func=init_command, no_config=True)


def init_command(args) -> int:
    """Write the folder; print what was made and the next steps."""
    from ..config.template import render
    from ..crypto.devca import write_dev_keys
    from ..files import create_new
    from ..validation import authority_id_problem

    problem = authority_id_problem(args.authority)
    if problem:
        raise UsageError(f"--authority: {problem}")
    values: dict[str, dict] = {"gateway": {"data_dir": "data", "authority_id": args.authority,
                                           "authority_name": args.name}}
    if args.url:
        url = urlsplit(args.url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise UsageError(f"--url {args.url!r}: write http(s)://HOST[:PORT]")
        values["server"] = {"public_url": args.url.rstrip("/")}
        if url.port:
            values["server"]["port"] = url.port
    folder = args.dir
    toml = folder / "gateway.toml"
    keys = folder / "data" / "keys"
    for existing in (toml, keys / "signing.key.pem"):
        if existing.exists():
            raise FileExistsError(errno.EEXIST, "exists; refusing to overwrite", str(existing))
    folder.mkdir(parents=True, exist_ok=True)
    text = render(values)
    create_new(toml, text.encode("utf-8"), mode=0o644)
    made = write_dev_keys(keys, kind="ecdsa", authority_id=args.authority, authority_name=args.name,
                          now=datetime.now(timezone.utc))
    print(f"{toml}: configuration of {args.name} ({args.authority})")
    for item in made:
        print(f"{item.path}: {item.what}")
    cfg = f"--config {toml}"
    print(f"""
next steps (docs/deployment.md):
  1. gateway {cfg} partners card -o {_slug(args.authority)}.card
     send the card to your partner; it carries our address and certificates, signed with our key
  2. gateway {cfg} partners add PARTNER.card
     the partner's card; compare the fingerprints it shows with the partner (by phone)
  3. gateway {cfg} config check
  4. gateway {cfg} serve
  5. gateway {cfg} tokens create BACKEND
     an API token for your backend (POST /api/messages)
development keys only: for production configure [[keys.own]] with your authority's key""")
    return EXIT_OK


def _slug(authority: str) -> str:
    return authority.replace(":", "_")
