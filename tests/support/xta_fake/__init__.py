"""Fake XTA 2 transport provider (versions 3 and 5) validating requests against the real XSDs."""
from .provider import FakeProvider, Stored
from .schemas import load_schema, problems, wsdl_path

__all__ = ["FakeProvider", "Stored", "load_schema", "problems", "wsdl_path"]
