"""Doctests run from the packages too (``--doctest-modules``); these modules run code on import."""

collect_ignore = ["sqlstream/__main__.py"]
