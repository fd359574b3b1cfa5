"""Kafka and PostgreSQL of a test's own: ``scripts/services`` with a state dir and ports of
their own, so that a test may restart or kill them without touching the shared ones."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "services"
SHARED_STATE = ROOT / ".cache" / "services"


def free_port_pair() -> int:
    """A port p with p and p + 1 free (Kafka's listener and controller)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port > 65000:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of ports")


class OwnServices:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.kafka_port = free_port_pair()
        self.pg_port = free_port_pair()  # and the next one for postgres-noprep
        self.bootstrap = f"127.0.0.1:{self.kafka_port}"
        self.settings = {
            "SQLSTREAM_SERVICES_DIR": str(state),
            "SQLSTREAM_KAFKA_PORT": str(self.kafka_port),
            "SQLSTREAM_PG_PORT": str(self.pg_port),
        }
        # the shared services' exports would make the script use those instead
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SQLSTREAM_KAFKA", "SQLSTREAM_PG"))}
        env.pop("SQLSTREAM_SERVICES_LEASE", None)
        self.env = {**env, **self.settings}
        self.exports: dict[str, str] = {}

    def up(self, *names: str) -> dict[str, str]:
        """Start them; their exports (SQLSTREAM_KAFKA_BOOTSTRAP, SQLSTREAM_PG_DSN, ...)."""
        self.state.mkdir(parents=True, exist_ok=True)
        for cached in SHARED_STATE.glob("kafka-*.classpath"):  # Maven already resolved the jars
            shutil.copy(cached, self.state / cached.name)
        done = subprocess.run(
            [str(SCRIPT), "up", *names], env=self.env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-3000:]
        for line in done.stdout.splitlines():
            if line.startswith("export "):
                key, _, value = line[len("export ") :].partition("=")
                self.exports[key] = shlex.split(value)[0] if value else ""
        return self.exports

    def restart_command(self, name: str) -> str:
        """The shell command that restarts ``name`` on its data, for ``--restart-service``."""
        settings = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.settings.items())
        return f"env {settings} {shlex.quote(str(SCRIPT))} restart {name}"

    def down(self) -> None:
        subprocess.run([str(SCRIPT), "down"], env=self.env, capture_output=True, timeout=120)
