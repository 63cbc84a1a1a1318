"""Pulse CRM: ingest customers and orders, build audiences, run campaigns."""

__version__ = "0.1.0"
