"""The front door: the Session API, the CLI and the REPL."""
