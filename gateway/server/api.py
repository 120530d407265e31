"""The backend API lives in gateway.api; this name stays for existing imports."""
from ..api import create_api

__all__ = ["create_api"]
