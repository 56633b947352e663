"""The import directions ARCHITECTURE.md decides, as import-linter contracts (pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_hold(monkeypatch: object) -> None:
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)  # type: ignore[attr-defined]
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def settings_read_with_getattr(source: str) -> list[int]:
    """Lines of ``source`` that call ``getattr(settings, …)``."""
    import ast

    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
        and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "settings"
    ]


def test_settings_are_read_as_attributes_with_their_default_in_config_settings() -> None:
    # STYLE.md: a local getattr(settings, NAME, default) repeats the default of config/settings.py,
    # and the two drift apart.
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "invocations").rglob("*.py"))
        if (lines := settings_read_with_getattr(path.read_text()))
    }
    assert found == {}


def test_the_settings_check_finds_a_getattr() -> None:
    assert settings_read_with_getattr("x = getattr(settings, 'A', 1)\ny = settings.B\n") == [1]
