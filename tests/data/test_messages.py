"""The data library's messages name config fields and values, never a CLI flag: the library is
called from Python and from recipes too, and only gansynth/commands/ knows the flags."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import gansynth.data

FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _strings_outside_docstrings(tree: ast.Module) -> list[ast.Constant]:
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_message_of_the_data_library_names_a_cli_flag() -> None:
    package = Path(gansynth.data.__file__).parent
    found = []
    for path in sorted(package.glob("*.py")):
        for node in _strings_outside_docstrings(ast.parse(path.read_text())):
            if FLAG.search(node.value):
                found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert not found, "name the config field instead:\n" + "\n".join(found)
    assert FLAG.search("set --skip-bad") and not FLAG.search("a -- b, x--y")  # the pattern itself works
