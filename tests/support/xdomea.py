"""The real xdomea 2.4.0 set in ../shared/reference/xdomea-2.4.0, configured by files only:
a standard.toml written into a test folder that names the reference files where they are
(never copied into the repository)."""
from __future__ import annotations

from pathlib import Path

XDOMEA = "xdomea-2.4.0"
SCHEMA = "xdomea-Nachrichten-AussonderungDurchfuehren.xsd"


def xdomea_dir(reference_dir: Path) -> Path:
    """The xdomea reference folder (the caller has checked reference_dir with need())."""
    return reference_dir / XDOMEA


def write_xdomea_standard(folder: Path, reference_dir: Path, extra: str = "") -> Path:
    """A standard folder for xdomea 2.4.0 (header profile xdomea, policy known); returns it."""
    src = xdomea_dir(reference_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "standard.toml").write_text(
        'name = "xdomea"\n'
        'header = "xdomea"\n'
        'codelist_policy = "known"\n'
        f'codelists = ["{src / "schemas" / "code_lists"}"]\n'
        f"{extra}"
        "[[schemas]]\n"
        f'file = "{src / "schemas" / SCHEMA}"\n', encoding="utf-8")
    return folder


def messages(reference_dir: Path) -> list[Path]:
    """The four real Aussonderung messages 0501-0504."""
    return sorted((xdomea_dir(reference_dir) / "messages").glob("*.xml"))


def addressed(xml: bytes, author: str, reader: str, process_id: str) -> bytes:
    """A real xdomea message with our authority ids in Absender/Empfaenger (prefix + code, the
    xdomea header profile's rule) and a fresh ProzessID."""
    text = xml.decode("utf-8")
    for party, authority in (("Abs", author), ("Emp", reader)):
        prefix, _, code = authority.rpartition(":")
        text = text.replace(f"<code>{party}BehoerdenkennungPraefixCode</code>", f"<code>{prefix}:</code>", 1)
        text = text.replace("<code>LATh</code>", f"<code>{code}</code>", 1)   # Absender first
    start = text.index("<xdomea:ProzessID>") + len("<xdomea:ProzessID>")
    text = text[:start] + process_id + text[text.index("</xdomea:ProzessID>"):]
    return text.encode("utf-8")
