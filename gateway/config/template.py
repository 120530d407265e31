"""The commented gateway.toml `gateway init` writes: every section with its keys at their
defaults (commented out) and a one-line explanation each, our identity filled in."""
from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from .describe import NO_DEFAULT, NOTES, about, tables, toml_value

HEADER = """\
# gateway.toml of {name} ({authority}), written by `gateway init` on {today}.
# Every section is listed with its keys at their defaults, commented out: uncomment and change
# what you need. Reference: docs/configuration.md. Check with `gateway config check`; see the
# effective values and where each came from with `gateway config show`. The environment wins
# over this file (GATEWAY_DATA_DIR, GATEWAY_STORE_URL, ...); secrets are references (env:NAME
# or file:PATH), never values. Relative paths are taken from this file's folder.
"""

EXAMPLES = {
    'partners."ID"': '# Partners are added with `gateway partners add CARD` (written to partners.toml beside\n'
                     '# this file), or by hand here:\n'
                     '# [partners."psw:09162000"]\n'
                     '# name = "Standesamt Musterstadt"\n'
                     '# endpoints = ["https://gateway.standesamt.example"]\n'
                     '# accepts = ["personenstand.urkundenantrag.0100"]\n'
                     '# [partners."psw:09162000".trust]\n'
                     '# certificates = ["partners/psw_09162000/signing.cert.pem"]\n'
                     '# The keys of a partner entry:\n',
}
REPEATED = {'partners."ID"', 'partners."ID".trust', "[keys.own]", "[keys.decryption]", 'folders.outbound."NAME"', 'folders.inbound."NAME"',
            'folders.source."NAME"', 'console.units."NAME"'}


def render(values: Mapping[str, Mapping[str, Any]], *, today: date | None = None) -> str:
    """gateway.toml text; `values` are the keys written uncommented, {section: {key: value}}."""
    gateway = values.get("gateway", {})
    out = [HEADER.format(name=gateway.get("authority_name", ""), authority=gateway.get("authority_id", ""),
                         today=(today or date.today()).isoformat())]
    for table in tables():
        head = f"[{table.heading}]"
        out.append(f"\n# {head}: {about(table)}\n")
        out.append(EXAMPLES.get(table.heading, ""))
        if table.heading in REPEATED:
            out.append(f"# {head}\n")
            prefix = "# "
        else:
            out.append(f"{head}\n")
            prefix = ""
        given = values.get(table.section, {}) if table.section else {}
        for key in table.keys:
            if key.name in given:
                line = f"{prefix}{key.name} = {toml_value(given[key.name])}"
            elif key.default is NO_DEFAULT:
                line = f"# {key.name} = ...  (required)"
            else:
                line = f"# {key.name} = {toml_value(key.default)}"
            out.append(f"{line:<44}  # {key.meaning}\n" if key.meaning else f"{line}\n")
        if table.heading in NOTES:
            out.append(f"# {NOTES[table.heading]}\n")
    return "".join(out)
