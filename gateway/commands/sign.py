"""`gateway sign` and `gateway verify`: sign a file with our key, verify one against a partner's trust."""
from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from .. import config as configuration
from ..cli import EXIT_INVALID, EXIT_OK, UsageError
from ..errors import MessageError
from ..files import write_output


def register(sub) -> None:
    """Add the `sign` and `verify` commands."""
    p = sub.add_parser("sign", help="sign an XML file with the current own key",
                       description="Add one enveloped XML-DSig signature (exclusive C14N, SHA-256+) made "
                                   "with the newest valid own key. Writes to stdout unless -o is given.")
    p.add_argument("file", metavar="FILE.xml", type=Path, help="the unsigned XML document")
    p.add_argument("-o", "--output", metavar="OUT", type=Path, help="write here (atomically) instead of stdout")
    p.add_argument("--partner", metavar="ID", default="", help="recipient; decides XAdES via [keys] xades_partners")
    p.add_argument("--xades", action="store_true", default=None, help="add XAdES-BES properties")
    p.set_defaults(func=sign_command)

    p = sub.add_parser("verify", help="verify a signed XML file",
                       description="Verify the one enveloped signature of FILE against a partner's trust "
                                   "(default: our own certificates). Exit 0 valid, 1 invalid (with the "
                                   "check that failed), 2 usage.")
    p.add_argument("file", metavar="FILE.xml", type=Path, help="the signed XML document")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--partner", metavar="ID", help='trust of [partners."ID"] in the configuration')
    who.add_argument("--cert", metavar="PEM", type=Path, help="trust exactly the certificate(s) in this file")
    p.add_argument("--at", metavar="TIME", help="verify as of this ISO 8601 time (default: now)")
    p.add_argument("-o", "--output", metavar="OUT", type=Path,
                   help="write the signed content (signature removed) here, atomically")
    p.set_defaults(func=verify_command)


def sign_command(args) -> int:
    """Sign FILE and write the result."""
    from ..crypto.signing import Signer

    config = configuration.load(args.config)
    signer = Signer.from_config(config)
    now = datetime.now(timezone.utc)
    signed = signer.sign(args.file.read_bytes(), now=now, partner=args.partner, xades=args.xades)
    key = signer.keyring.current(now)
    _emit(signed, args.output)
    print(f"signed {args.file} with {key.subject} ({key.source})", file=sys.stderr)
    return EXIT_OK


def verify_command(args) -> int:
    """Verify FILE; print who signed it, or which check failed."""
    config = configuration.load(args.config)
    now = _when(args.at) if args.at else datetime.now(timezone.utc)
    verifier, partner = _verifier(args, config)
    try:
        result = verifier.verify(args.file.read_bytes(), partner=partner, now=now)
    except MessageError as exc:
        print(f"gateway verify: {args.file}: invalid: {exc}", file=sys.stderr)
        return EXIT_INVALID
    signer = result.signer
    when = f", signed at {result.signing_time:%Y-%m-%d %H:%M:%S} UTC" if result.signing_time else ""
    print(f"{args.file}: valid: signed by {signer.subject} for {signer.partner} via {signer.via}, "
          f"{result.signature_method}{when}; certificate valid until {signer.not_after:%Y-%m-%d}")
    if args.output:
        _emit(result.xml, args.output)
    return EXIT_OK


def _verifier(args, config):
    """(Verifier, partner id) for --partner, --cert or our own certificates."""
    from ..crypto.keys import KeyRing, read_certificates
    from ..crypto.signing import SELF, Verifier, own_verifier
    from ..crypto.trust import TrustStore

    if args.partner:
        if args.partner not in config.partners:
            known = ", ".join(sorted(config.partners)) or "none configured"
            raise UsageError(f"unknown partner {args.partner} (known: {known})")
        return Verifier.from_config(config), args.partner
    if args.cert:
        return Verifier(TrustStore.pinned(str(args.cert), read_certificates(args.cert))), str(args.cert)
    return own_verifier(KeyRing.from_config(config)), SELF


def _when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--at {text!r} is not an ISO 8601 date or date-time") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _emit(data: bytes, output: Path | None) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_output(output, data)
