"""The import directions ARCHITECTURE.md decides, as import-linter contracts (pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_hold(monkeypatch: object) -> None:
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)  # type: ignore[attr-defined]
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0
