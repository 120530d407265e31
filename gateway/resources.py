"""Where the files shipped with the gateway live (schemas, WSDL, code lists, examples)."""
from __future__ import annotations

import importlib.resources
from functools import cache
from pathlib import Path


@cache
def xsd_dir() -> Path:
    """The folder of the `xsd/` data package (schemas, WSDL, code lists, catalog)."""
    return Path(str(importlib.resources.files("gateway.xsd")))


@cache
def examples_dir() -> Path:
    """The folder of the example records (`examples/`, shipped as gateway.examples)."""
    return Path(str(importlib.resources.files("gateway.examples")))
