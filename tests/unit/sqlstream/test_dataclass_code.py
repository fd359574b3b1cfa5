"""The command keeps the compiled code of dataclass methods between runs
(``sqlstream/dataclass_code.py``): a class defined from that code must behave exactly as one
Python compiles itself, a file that is missing, damaged or of another Python must only cost
the compilation, and once the file is built, loading the engine compiles no method at all."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlstream import dataclass_code

ROOT = Path(__file__).parents[3]


@pytest.fixture
def cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "__pycache__" / "methods.marshal"
    monkeypatch.setattr(dataclass_code, "cache_path", lambda: path)
    yield path
    vars(dataclasses).pop("exec", None)  # this process's dataclasses as they were


def define() -> type:
    @dataclasses.dataclass(frozen=True)
    class Spec:
        name: str
        columns: tuple[str, ...] = ()
        options: dict[str, str] = dataclasses.field(default_factory=dict, compare=False, hash=False)

    return Spec


def test_a_class_defined_from_kept_code_behaves_as_one_compiled_now(cache_file: Path) -> None:
    plain = define()
    codes = dataclass_code.install()
    assert codes is not None and codes.compiled == 0
    first = define()
    assert codes.compiled > 0
    dataclass_code.save(codes)
    vars(dataclasses).pop("exec")
    again = dataclass_code.install()
    assert again is not None
    kept = define()
    assert again.compiled == 0  # every method from the file
    for cls in (first, kept):
        a, b = cls("t", ("x",), {"k": "v"}), plain("t", ("x",), {"k": "v"})
        assert repr(a) == repr(b).replace(plain.__qualname__, cls.__qualname__)
        assert a == cls("t", ("x",)) and hash(a) == hash(cls("t", ("x",)))
        assert a != cls("u", ("x",))
        assert cls("t").options == {} and cls("t").options is not cls("t").options
        with pytest.raises(dataclasses.FrozenInstanceError):
            a.name = "u"
        with pytest.raises(TypeError, match="missing 1 required positional argument"):
            cls()


@pytest.mark.parametrize("content", [b"", b"not marshal at all", b"\x00\x00\x0d\x0a" + b"x" * 20])
def test_a_damaged_or_foreign_file_costs_only_the_compilation(cache_file: Path, content: bytes) -> None:
    cache_file.parent.mkdir()
    cache_file.write_bytes(content)
    codes = dataclass_code.install()
    assert codes is not None and codes.known == {}
    assert define()("t").name == "t"
    assert codes.compiled > 0


PROBE = """
import json, sys
from pathlib import Path
from sqlstream import dataclass_code
dataclass_code.cache_path = lambda: Path(sys.argv[1])
if sys.argv[2] == "build":
    print(json.dumps(dataclass_code.build()))
else:
    codes = dataclass_code.install()
    import sqlstream.cli, planner.api, planner.physical_planner, runtime.job, runtime.task
    print(json.dumps(codes.compiled))
"""


def run(path: Path, what: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), what], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return int(json.loads(out.stdout.splitlines()[-1]))


def test_once_built_loading_the_engine_compiles_no_dataclass_method(tmp_path: Path) -> None:
    path = tmp_path / "methods.marshal"
    assert run(path, "load") > 500  # no file: the engine's ~175 classes, each method compiled
    assert run(path, "build") > 500
    assert run(path, "load") == 0
