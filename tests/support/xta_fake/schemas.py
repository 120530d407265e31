"""The real XTA contracts, compiled with lxml from ../shared/reference at fixture time.

One XMLSchema per version covers every element that may appear in a request or response:
the WSDL's own <types> schema (which includes/imports the XTA, OSCI and metadata schemas)
plus WS-Addressing for the wsa:* headers zeep adds. Nothing is fetched over the network.
"""
from __future__ import annotations

from pathlib import Path

from lxml import etree

XSD = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"

# version -> (WSDL path, ws-addr.xsd path relative to the WSDL's folder)
CONTRACTS = {
    "3": ("xta2-v3/XTA.wsdl", "ws-addr.xsd"),
    "5": ("xta2-v5/wsdl/xta-core.wsdl", "../externe_Schemata/ws-addr.xsd"),
}


def wsdl_path(reference_dir: Path, version: str) -> Path:
    """The real WSDL of a version inside the reference folder."""
    return reference_dir / CONTRACTS[version][0]


def load_schema(reference_dir: Path, version: str) -> etree.XMLSchema:
    """Compile the version's contract into one schema (offline)."""
    wsdl, wsa = CONTRACTS[version]
    path = reference_dir / wsdl
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    definitions = etree.parse(str(path), parser)
    types = definitions.getroot().find(f"{{{WSDL}}}types/{{{XSD}}}schema")
    schema = etree.fromstring(etree.tostring(types), parser, base_url=path.as_uri())
    imported = {i.get("namespace") for i in schema.iterfind(f"{{{XSD}}}import")}
    if "http://www.w3.org/2005/08/addressing" not in imported:
        imp = etree.Element(f"{{{XSD}}}import", namespace="http://www.w3.org/2005/08/addressing",
                            schemaLocation=wsa)
        schema.insert(0, imp)
    return etree.XMLSchema(etree.ElementTree(schema))


def problems(schema: etree.XMLSchema, element: etree._Element) -> list[str]:
    """Schema errors of one element validated as a document root ([] when valid)."""
    doc = etree.fromstring(etree.tostring(element))
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]
