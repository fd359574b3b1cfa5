"""Connector implementations; their option specs live in ``catalog.connectors``."""
