"""Side-by-side diffs: line kinds and the changed characters."""

from __future__ import annotations

from console.diffs import pretty_value, side_by_side


def test_changed_lines_mark_only_the_characters_that_differ() -> None:
    rows = side_by_side("a\nok 3\nz", "a\nok 2\nz\nextra")
    assert [row.kind for row in rows] == ["same", "changed", "same", "right-only"]
    assert rows[1].left_parts == (("ok ", False), ("3", True)) and rows[1].right_parts == (("ok ", False), ("2", True))


def test_json_is_indented_with_sorted_keys_so_that_lines_line_up_and_text_stays_text() -> None:
    assert pretty_value('{"b": 1, "a": [1]}') == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}'
    assert pretty_value('"ok"') == '"ok"' and pretty_value("≤ 100 ms") == "≤ 100 ms"
