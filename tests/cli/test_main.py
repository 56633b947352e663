"""The CLI's pure parts: runtime/handler detection, zipping, tables, colour, endpoint choice."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from cli.client import endpoint_url
from cli.main import build_parser, detect_handler, detect_runtime, zip_folder
from cli.output import table, use_colour


@pytest.mark.parametrize(
    ("files", "runtime", "handler"),
    [({"app.py": ""}, "python3.11", "app.handler"),
     ({"lambda_function.py": ""}, "python3.11", "lambda_function.lambda_handler"),
     ({"index.js": ""}, "nodejs20.x", "index.handler"),
     ({"index.mjs": ""}, "nodejs20.x", "index.handler"),
     ({"bootstrap": ""}, "provided.al2023", "bootstrap")],
)
def test_detection(tmp_path: Path, files: dict[str, str], runtime: str, handler: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert detect_runtime(tmp_path) == runtime and detect_handler(tmp_path, runtime) == handler


def test_zip_folder_skips_caches_and_keeps_modes(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("x = 1")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (tmp_path / "bootstrap").write_text("#!/bin/sh\n")
    (tmp_path / "bootstrap").chmod(0o755)
    data, count = zip_folder(tmp_path)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["bootstrap", "pkg/mod.py"] and count == 2
        assert (archive.getinfo("bootstrap").external_attr >> 16) & 0o777 == 0o755
    assert zip_folder(tmp_path)[0] == data  # fixed timestamps: same folder, same zip


def test_table_and_colour() -> None:
    assert table(["A", "BB"], [["x", "y"], ["long", "z"]]) == "A     BB\nx     y\nlong  z"
    assert use_colour(io.StringIO()) is False


def test_endpoint_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORKBENCH_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    assert endpoint_url(None) == "http://127.0.0.1:8000"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://[::1]:9000/")
    assert endpoint_url(None) == "http://[::1]:9000"
    monkeypatch.setenv("WORKBENCH_ENDPOINT_URL", "http://h:1")
    assert endpoint_url(None) == "http://h:1" and endpoint_url("http://x:2") == "http://x:2"


def test_invoke_sources_are_exclusive() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["invoke", "f", "--payload", "{}", "--file", "x"])
