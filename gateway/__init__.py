"""xoev-gateway: standardized XÖV-style messaging between public authorities."""

__version__ = "0.1.0"
