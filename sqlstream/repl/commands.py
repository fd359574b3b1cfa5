"""Meta commands in the style of psql and DuckDB's shell: ``\\?``, ``\\q``, ``\\dt``,
``\\d name``, ``\\i file``, ``\\timing``, ``\\o file``, ``\\e``, ``.mode``, ``\\web [port]``.

A command sees only the narrow ``CommandContext`` below (run SQL, run a file, print,
change a setting), never the whole shell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, TextIO

from catalog.config import REST_PORT, RESULT_MODE
from catalog.errors import did_you_mean
from planner.ddl import quote
from sqlstream.repl.completer import MODES

RESULT_MODE_KEY = RESULT_MODE.name
WEB_PORT_KEY = REST_PORT.name
DEFAULT_WEB_PORT = "8081"  # Flink's


class Action(StrEnum):
    CONTINUE = "continue"
    QUIT = "quit"


@dataclass
class Settings:
    """What meta commands change and the shell reads."""

    timing: bool = False
    output: TextIO | None = None  # ``\\o FILE``: results go here instead of the terminal
    output_path: str | None = None
    next_input: str = ""  # text put in the next prompt (``\\e``)


class CommandContext(Protocol):
    settings: Settings

    def echo(self, text: str) -> None:
        """Print to the terminal (never to a ``\\o`` file)."""

    def run_sql(self, text: str) -> bool:
        """Run statements as if typed; False when one failed."""

    def run_file(self, path: str) -> bool:
        """Run a file's statements; False when one failed."""

    def set_config(self, key: str, value: str) -> None: ...

    def get_config(self, key: str) -> str: ...

    def last_statement(self) -> str: ...

    def edit(self, text: str) -> str | None:
        """Open ``text`` in ``$EDITOR``; the edited text, or None when it failed."""


Handler = Callable[[CommandContext, str], Action]


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]
    args: str
    help: str
    handler: Handler = field(compare=False)


def _quit(ctx: CommandContext, arg: str) -> Action:
    return Action.QUIT


def _help(ctx: CommandContext, arg: str) -> Action:
    ctx.echo(help_text())
    return Action.CONTINUE


def _runs(sql: str) -> Handler:
    """A command that stands for a statement (``\\dt`` is ``SHOW TABLES``)."""

    def run(ctx: CommandContext, arg: str) -> Action:
        ctx.run_sql(sql)
        return Action.CONTINUE

    return run


def _describe(ctx: CommandContext, arg: str) -> Action:
    if not arg:
        ctx.run_sql("SHOW TABLES; SHOW VIEWS")
    else:
        ctx.run_sql(f"DESCRIBE {_ident(arg)}")
    return Action.CONTINUE


def _state(ctx: CommandContext, arg: str) -> Action:
    job = arg.strip().strip("'\"")
    if not job:
        ctx.echo("Error: \\state needs a job: \\state <job id or pipeline.name> (\\jobs lists them)")
    else:
        ctx.run_sql("SHOW STATE FOR JOB '" + job.replace("'", "''") + "'")
    return Action.CONTINUE


def _functions(ctx: CommandContext, arg: str) -> Action:
    """``\\df`` lists the functions; ``\\df NAME`` shows a function's signature and origin."""
    ctx.run_sql(f"DESCRIBE FUNCTION {_ident(arg.strip())}" if arg.strip() else "SHOW FUNCTIONS")
    return Action.CONTINUE


def _web(ctx: CommandContext, arg: str) -> Action:
    """Serve the dashboard for this session's jobs: ``SET 'rest.port'`` under the hood, so
    SHOW JOBS, RESET and the address message are the same either way."""
    word = arg.strip().lower()
    if word == "off":
        ctx.run_sql(f"RESET '{WEB_PORT_KEY}'")
        return Action.CONTINUE
    port = word or ctx.get_config(WEB_PORT_KEY) or DEFAULT_WEB_PORT
    if not port.isdigit():
        ctx.echo(f"Error: \\web takes a port number or off, not '{arg}'")
        return Action.CONTINUE
    ctx.run_sql(f"SET '{WEB_PORT_KEY}' = '{port}'")
    return Action.CONTINUE


def _include(ctx: CommandContext, arg: str) -> Action:
    if not arg:
        ctx.echo("Error: \\i needs a file name, e.g. \\i setup.sql")
    else:
        ctx.run_file(arg)
    return Action.CONTINUE


def _on_off(arg: str, current: bool) -> bool | None:
    word = arg.strip().lower()
    if not word:
        return not current
    if word in ("on", "true", "1"):
        return True
    if word in ("off", "false", "0"):
        return False
    return None


def _timing(ctx: CommandContext, arg: str) -> Action:
    value = _on_off(arg, ctx.settings.timing)
    if value is None:
        ctx.echo(f"Error: \\timing takes on or off, not '{arg}'")
        return Action.CONTINUE
    ctx.settings.timing = value
    ctx.echo(f"Timing is {'on' if value else 'off'}.")
    return Action.CONTINUE


def _output(ctx: CommandContext, arg: str) -> Action:
    s = ctx.settings
    if s.output is not None:
        s.output.close()
        s.output, s.output_path = None, None
    if not arg:
        ctx.echo("Results go to the terminal.")
        return Action.CONTINUE
    try:
        s.output = open(arg, "a", encoding="utf-8")  # noqa: SIM115 - kept open until \o
    except OSError as e:
        ctx.echo(f"Error: cannot write to {arg}: {e.strerror}")
        return Action.CONTINUE
    s.output_path = arg
    ctx.echo(f"Results go to {arg}; \\o alone sends them back to the terminal.")
    return Action.CONTINUE


def _mode(ctx: CommandContext, arg: str) -> Action:
    word = arg.strip().lower()
    if not word:
        ctx.echo(f"Result mode: {ctx.get_config(RESULT_MODE_KEY)} (one of {', '.join(MODES)})")
        return Action.CONTINUE
    if word not in MODES:
        ctx.echo(f"Error: unknown mode '{word}'; use one of {', '.join(MODES)}")
        return Action.CONTINUE
    ctx.set_config(RESULT_MODE_KEY, word)
    ctx.echo(f"Result mode: {word}")
    return Action.CONTINUE


def _edit(ctx: CommandContext, arg: str) -> Action:
    last = ctx.last_statement()
    edited = ctx.edit(last + ";" if last else "")
    if edited is not None:
        ctx.settings.next_input = edited.rstrip("\n")
    return Action.CONTINUE


def _ident(name: str) -> str:
    name = name.strip().rstrip(";").strip()
    if name.startswith("`") or name.replace("_", "").replace(".", "").isalnum():
        return name
    return quote(name)


COMMANDS: tuple[Command, ...] = (
    Command(("\\?", "help", ".help", "\\h"), "", "show this help", _help),
    Command(("\\q", "quit", "exit", ".quit", ".exit"), "", "leave", _quit),
    Command(("\\dt", ".tables"), "", "list tables", _runs("SHOW TABLES")),
    Command(("\\dv",), "", "list views", _runs("SHOW VIEWS")),
    Command(("\\d", ".schema"), "[NAME]", "describe a table or view", _describe),
    Command(("\\jobs", "\\dj"), "", "list this session's jobs", _runs("SHOW JOBS")),
    Command(("\\state",), "JOB", "a job's state: operators, rows, bytes", _state),
    Command(("\\df", ".functions"), "[NAME]", "list or describe functions", _functions),
    Command(("\\web",), "[PORT|off]", "serve the job dashboard (default port 8081)", _web),
    Command(("\\i", ".read"), "FILE", "run the statements of FILE", _include),
    Command(("\\timing", ".timer"), "[on|off]", "time each statement", _timing),
    Command(("\\o", ".output"), "[FILE]", "results to FILE, or the screen", _output),
    Command((".mode", "\\mode"), "table|changelog|tableau", "how a streaming SELECT is shown", _mode),
    Command(("\\e", ".edit"), "", "edit the last statement", _edit),
)

_BY_NAME: dict[str, Command] = {name: c for c in COMMANDS for name in c.names}


def command_names() -> list[str]:
    """Every spelling, for completion."""
    return [n for c in COMMANDS for n in c.names if n[0] in "\\."]


def help_text() -> str:
    lines = ["Meta commands:"]
    for c in COMMANDS:
        usage = f"{c.names[0]} {c.args}".rstrip()
        also = f" (also {', '.join(c.names[1:])})" if len(c.names) > 1 else ""
        lines.append(f"  {usage:<31} {c.help}{also}")
    lines += [
        "",
        "Statements end with ';' and may span lines; several may share a line.",
        "BEGIN STATEMENT SET; INSERT ...; INSERT ...; END;  runs INSERTs as one job.",
        "INSERT INTO runs a background job: SHOW JOBS lists jobs, STOP JOB 'id' stops it.",
        "\\web serves a live dashboard of the jobs in the browser (and Flink's REST API).",
        "A streaming SELECT shows live results; Ctrl-C (or q) stops it.",
        "SHOW STATE FOR JOB 'id', SELECT ... FROM STATE('id', 'operator'): a job's state",
        "in its newest checkpoint. SET 'metrics.reporter.prom.port': Prometheus metrics.",
        "",
        "Keys: Tab completes, Ctrl-R searches history, \u2192 takes a suggestion,",
        "      Alt-Enter inserts a newline, F4 or Ctrl-X Ctrl-E opens $EDITOR,",
        "      Ctrl-C clears the line, Ctrl-D leaves.",
    ]
    return "\n".join(lines)


def run_command(ctx: CommandContext, text: str) -> Action:
    """Run one meta command line."""
    line = text.strip()
    name, _, arg = line.partition(" ")
    name = name.rstrip(";")
    arg = arg.strip()
    if arg.endswith(";") and not name.startswith(("\\i", ".read", "\\o", ".output")):
        arg = arg.rstrip(";").strip()
    command = _BY_NAME.get(name) or _BY_NAME.get(name.lower())
    if command is None:
        hint = did_you_mean(name, _BY_NAME)
        ctx.echo(f"Error: unknown command '{name}'" + (f"; {hint}" if hint else "") + " (\\? lists them)")
        return Action.CONTINUE
    return command.handler(ctx, arg)
