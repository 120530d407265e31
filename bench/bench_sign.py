"""Signing and verification throughput: ours vs plain signxml, with the raw key operation as floor.

Same run, alternating rounds (bench.common.interleaved), ECDSA P-256 keys by default:
- sign:   gateway Signer.sign (hardened parse, key ring, strict signxml) vs plain signxml
          (lxml parse + XMLSigner with the same algorithms + the same UTF-8 serialization);
          ours signs the freshly parsed tree in place, so it copies the document once less;
- verify: gateway Verifier.verify (hardened parse, structural checks, trust store, strict
          signxml, signed-content extraction) vs plain signxml XMLVerifier with the certificate
          pinned and location "./";
- floor:  the private-key operation alone (cryptography signs a 32-byte digest), and the
          public-key verification of it: no XML work can be faster than these.
Documents: the golden akte.abgabe.0300 message, grown to ~5 KB and ~500 KB by repeating its
<dokument> entries. Target: ours >= 80 % of plain signxml.

    .venv/bin/python -m bench.bench_sign [--kind ecdsa|rsa] [--rounds 7]
"""
from __future__ import annotations

import argparse
import copy
import os
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from lxml import etree
from signxml import SignatureConfiguration, XMLSigner, XMLVerifier
from signxml.algorithms import CanonicalizationMethod

from bench.common import interleaved, report
from gateway.crypto import devca
from gateway.crypto.keys import KeyRing, own_key
from gateway.crypto.signing import Signer, Verifier
from gateway.crypto.trust import PartnerTrust, TrustStore

VECTOR = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "messages" / "akte.abgabe.0300.xml"
SIZES = {"5 KB": (5 * 1024, 300), "500 KB": (500 * 1024, 6)}   # target bytes, calls per round
PARTNER = "ags:09761000"


def grown(target: int) -> bytes:
    """The golden message with its last <dokument> repeated until it has about `target` bytes."""
    root = etree.fromstring(VECTOR.read_bytes())
    block = root.findall(".//dokument")[-1]
    parent = block.getparent()
    step = len(etree.tostring(block))
    size = len(etree.tostring(root))
    while size + step <= target:
        parent.append(copy.deepcopy(block))
        size += step
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def main(argv: list[str]) -> int:
    """Run the benchmark and print rates and ratios."""
    args = argparse.ArgumentParser(prog="bench_sign")
    args.add_argument("--kind", choices=("ecdsa", "rsa"), default="ecdsa")
    args.add_argument("--rounds", type=int, default=7)
    args.add_argument("--quick", action="store_true", help="a few seconds: --rounds 1, fewer calls")
    opts = args.parse_args(argv)
    scale = 20 if opts.quick else 1      # --quick: a twentieth of the calls, one round
    if opts.quick:
        opts.rounds = 1
    now = datetime.now(timezone.utc)
    ca = devca.make_ca("CN=Bench CA", now=now, kind=opts.kind)
    me = devca.make_identity(ca, "CN=Bench gateway", now=now, kind=opts.kind)
    key = own_key(me.key, me.cert)
    signer = Signer(KeyRing([key]))
    verifier = Verifier(TrustStore({PARTNER: PartnerTrust.build(PARTNER, [me.cert])}))
    plain_signer = XMLSigner(signature_algorithm=key.method, digest_algorithm="sha256",
                             c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)
    plain_config = SignatureConfiguration(location="./", expect_references=1)
    print(f"{opts.kind} keys ({key.method.name}), {os.cpu_count()} cores, best of {opts.rounds} rounds")
    _floor(me.key, opts.rounds, 500 // scale)
    for label, (target, n) in SIZES.items():
        doc = grown(target)
        signed = signer.sign(doc, now=now)
        assert verifier.verify(signed, partner=PARTNER, now=now).xml
        sign_rates = interleaved({
            "plain signxml sign": lambda: etree.tostring(
                plain_signer.sign(etree.fromstring(doc), key=me.key, cert=[me.cert]),
                xml_declaration=True, encoding="UTF-8"),
            "gateway Signer.sign": lambda: signer.sign(doc, now=now),
        }, n=max(1, n // scale), rounds=opts.rounds)
        report(f"sign {label} ({len(doc):,} bytes)", sign_rates, "plain signxml sign", target=0.8)
        verify_rates = interleaved({
            "plain signxml verify (pinned cert)": lambda: XMLVerifier().verify(
                signed, x509_cert=me.cert, expect_config=plain_config),
            "gateway Verifier.verify": lambda: verifier.verify(signed, partner=PARTNER, now=now),
        }, n=max(1, n // scale), rounds=opts.rounds)
        report(f"verify {label} ({len(signed):,} bytes)", verify_rates, "plain signxml verify (pinned cert)",
               target=0.8)
    return 0


def _floor(private_key, rounds: int, n: int) -> None:
    """Rate of the bare private-key and public-key operations on a 32-byte digest."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"floor")
    value = digest.finalize()
    prehashed = utils.Prehashed(hashes.SHA256())
    public = private_key.public_key()
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        signature = private_key.sign(value, ec.ECDSA(prehashed))
        ops = {"raw key sign (32-byte digest)": lambda: private_key.sign(value, ec.ECDSA(prehashed)),
               "raw key verify": lambda: public.verify(signature, value, ec.ECDSA(prehashed))}
    else:
        signature = private_key.sign(value, padding.PKCS1v15(), prehashed)
        ops = {"raw key sign (32-byte digest)": lambda: private_key.sign(value, padding.PKCS1v15(), prehashed),
               "raw key verify": lambda: public.verify(signature, value, padding.PKCS1v15(), prehashed)}
    report("floor: the key operation alone", interleaved(ops, n=n, rounds=rounds),
           "raw key sign (32-byte digest)")


if __name__ == "__main__":
    raise SystemExit(main(__import__("sys").argv[1:]))
