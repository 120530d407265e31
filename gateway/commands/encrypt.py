"""`gateway encrypt` and `gateway decrypt`: XML Encryption 1.1 for operators and interop checks."""
from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from .. import config as configuration
from .. import xml as hardened
from ..cli import EXIT_INVALID, EXIT_OK, UsageError
from ..crypto.encryption import encrypt, newest_valid
from ..crypto.keys import read_certificates
from ..crypto.recipients import Encryption
from ..errors import DecryptionError, MessageError
from ..exchange.header import read_header, routing_facts
from .sign import _emit


def register(sub) -> None:
    """Add the `encrypt` and `decrypt` commands."""
    p = sub.add_parser("encrypt", help="encrypt an XML file for a partner (XML Encryption 1.1)",
                       description="Encrypt the whole document (usually signed first) as one EncryptedData: "
                                   "AES-256-GCM content, key transport RSA-OAEP (SHA-256) or key agreement "
                                   "ECDH-ES (P-256), chosen by the certificate's key. A gateway message keeps its "
                                   "routing facts (authorities, UUID, type) readable. Writes to stdout unless "
                                   "-o is given.")
    p.add_argument("file", metavar="FILE.xml", type=Path, help="the XML document to encrypt")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--partner", metavar="ID",
                     help='for the newest valid certificate of [partners."ID"] encryption_certificates')
    who.add_argument("--cert", metavar="PEM", type=Path,
                     help="for the newest valid certificate in this file")
    p.add_argument("-o", "--output", metavar="OUT", type=Path, help="write here (atomically) instead of stdout")
    p.set_defaults(func=encrypt_command)

    p = sub.add_parser("decrypt", help="decrypt an XML file with our own decryption key(s)",
                       description="Decrypt an EncryptedData document with the own decryption keys "
                                   "([[keys.decryption]] or data_dir/keys/encryption.key.pem), accepting only "
                                   "[keys] decryption_algorithms. Exit 0 decrypted, 1 cannot decrypt "
                                   "(with the reason), 2 usage.")
    p.add_argument("file", metavar="FILE.xml", type=Path, help="the encrypted document")
    p.add_argument("-o", "--output", metavar="OUT", type=Path, help="write here (atomically) instead of stdout")
    p.set_defaults(func=decrypt_command)


def encrypt_command(args) -> int:
    """Encrypt FILE for a partner or a certificate file and write the result."""
    config = configuration.load(args.config)
    now = datetime.now(timezone.utc)
    if args.partner:
        if args.partner not in config.partners:
            known = ", ".join(sorted(config.partners)) or "none configured"
            raise UsageError(f"unknown partner {args.partner} (known: {known})")
        encryption = Encryption.from_config(config)
        if args.partner not in encryption.recipients:
            raise UsageError(f'[partners."{args.partner}"] has no encryption_certificates')
        certs, who = encryption.recipients[args.partner], args.partner
    else:
        certs, who = read_certificates(args.cert), str(args.cert)
    try:
        cert = newest_valid(certs, now, who)
    except MessageError as exc:
        print(f"gateway encrypt: {exc}", file=sys.stderr)
        return EXIT_INVALID
    data = args.file.read_bytes()
    try:
        routing = routing_facts(read_header(hardened.parse(data).getroot()))
    except MessageError:  # not a gateway message (or not XML): encrypted without routing facts
        routing = None
    _emit(encrypt(data, cert, routing=routing), args.output)
    print(f"encrypted {args.file} for {cert.subject.rfc4514_string()} (valid until "
          f"{cert.not_valid_after_utc:%Y-%m-%d}){' with its routing facts' if routing else ''}", file=sys.stderr)
    return EXIT_OK


def decrypt_command(args) -> int:
    """Decrypt FILE with our own keys; the reason when that fails (this is the operator)."""
    config = configuration.load(args.config)
    encryption = Encryption.from_config(config)
    try:
        plain = encryption.decrypt(args.file.read_bytes())
    except DecryptionError as exc:
        print(f"gateway decrypt: {args.file}: cannot decrypt: {exc.reason}", file=sys.stderr)
        return EXIT_INVALID
    _emit(plain, args.output)
    print(f"decrypted {args.file}", file=sys.stderr)
    return EXIT_OK
