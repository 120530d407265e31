"""`gateway keys init` and `gateway keys list`: development keys, and what expires when."""
from __future__ import annotations

import errno
import sys
from datetime import datetime, timezone
from pathlib import Path

from .. import config as configuration
from ..cli import EXIT_INVALID, EXIT_OK
from ..errors import ConfigError

KEY_KINDS = ("ecdsa", "rsa")    # gateway.crypto.devca.KEY_KINDS (imported when a command runs)
ENCRYPTION_KINDS = ("rsa", "ec")  # gateway.crypto.devca.ENCRYPTION_KINDS


def register(sub) -> None:
    """Add the `keys` command with its `init` and `list` subcommands."""
    keys = sub.add_parser("keys", help="own signing keys and partner certificates",
                          description="Make development keys, list own and partner certificates.")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    p = actions.add_parser("init", help="make a development CA, a signing and an encryption key/certificate",
                           description="Make a development CA, a signing key + certificate and an encryption "
                                       "key + certificate (encryption.key.pem, encryption.cert.pem) issued by it "
                                       "(for the embedded default and the demo). Refuses to overwrite.")
    p.add_argument("--dir", metavar="DIR", type=Path, help="where to write (default: <data_dir>/keys)")
    p.add_argument("--algorithm", choices=KEY_KINDS, default="ecdsa", help="ecdsa (P-256, default) or rsa (3072)")
    p.add_argument("--encryption", choices=ENCRYPTION_KINDS, default="rsa",
                   help="kind of the encryption key: rsa (3072, RSA-OAEP, default) or ec (P-256, ECDH-ES)")
    p.add_argument("--days", type=int, default=365,
                   help="validity of the signing and encryption certificates (default 365)")
    p.set_defaults(func=init_command)
    p = actions.add_parser("list", help="own and partner certificates with their expiry",
                           description="List own keys and partners' trusted certificates, CAs and CRLs with "
                                       "their expiry; flag those expiring within the window.")
    p.add_argument("--within", metavar="DAYS", type=int,
                   help="flag what expires within DAYS (default: [keys] expiry_warning_days)")
    p.add_argument("--check", action="store_true", help="exit 1 when anything is flagged (for monitoring)")
    p.set_defaults(func=list_command)


def init_command(args) -> int:
    """Write the development CA and signing key; print what was made."""
    from ..crypto.devca import write_dev_keys

    config = configuration.load(args.config)
    folder = args.dir or config.data_dir / "keys"
    gw = config.gateway
    try:
        made = write_dev_keys(folder, kind=args.algorithm, authority_id=gw.authority_id,
                              authority_name=gw.authority_name, now=datetime.now(timezone.utc), days=args.days,
                              encryption=args.encryption)
    except ConfigError as exc:
        raise FileExistsError(errno.EEXIST, str(exc), str(folder)) from None
    for item in made:
        print(f"{item.path}: {item.what}")
    print("development keys only: keep ca.key.pem away from the gateway in any real deployment")
    return EXIT_OK


def list_command(args) -> int:
    """Print own and partner certificates with expiry; flag those in the warning window."""
    from ..crypto.expiry import encryption_certificates, own_certificates, partner_certificates
    from ..crypto.trust import TrustStore

    config = configuration.load(args.config)
    now = datetime.now(timezone.utc)
    within = config.keys.expiry_warning_days if args.within is None else args.within
    rows, problems = own_certificates(config, now), []
    if not rows:
        problems.append("no own signing key (configure [[keys.own]] or run `gateway keys init`)")
    rows += partner_certificates(TrustStore.from_config(config)) + encryption_certificates(config, now)
    print(f"{'ROLE':<21} {'OWNER':<16} {'EXPIRES':<10} {'DAYS':>5}  {'FLAG':<12} SUBJECT")
    flagged = 0
    for row in rows:
        flag = row.flag(now, within)
        flagged += bool(flag)
        expires = f"{row.expires:%Y-%m-%d}" if row.expires else "-"
        days = f"{(row.expires - now).days:>5}" if row.expires else "    -"
        print(f"{row.role:<21} {row.owner:<16} {expires:<10} {days}  {flag:<12} {row.subject}")
    for problem in problems:
        print(f"note: {problem}", file=sys.stderr)
    print(f"{len(rows)} entries, {flagged} expired or expiring within {within} days", file=sys.stderr)
    return EXIT_INVALID if args.check and (flagged or problems) else EXIT_OK

