"""The house rules, read from the code's imports: only `defs/` imports Dagster, no layer
imports one above it, and the product never imports the test package."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hubspot_assets"
# What each plain layer may import from the product (besides itself).
ALLOWED = {
    "timestamps": set(),
    "runtime": set(),
    "cadence": {"timestamps"},
    "stream": {"timestamps"},
    "hubspot": {"timestamps"},
    "mongo": {"stream", "timestamps"},
    "registry": {"cadence", "hubspot", "stream"},
    "sync": {"mongo", "stream", "timestamps"},
    "extract": {"hubspot", "registry", "stream", "sync", "timestamps"},
    "consolidate": {"mongo", "stream", "sync", "timestamps"},
}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE), ast.parse(path.read_text(), str(path))


def imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def layer(relative: Path) -> str:
    return relative.parts[0].removesuffix(".py")


def test_only_the_dagster_folder_imports_dagster():
    outside = [str(rel) for rel, tree in modules()
               if layer(rel) != "defs" and any(n.split(".")[0] == "dagster" for n in imported(tree))]
    assert outside == []


@pytest.mark.parametrize("plain", sorted(ALLOWED))
def test_plain_layers_import_only_the_layers_below_them(plain):
    reached = set()
    for rel, tree in modules():
        if layer(rel) == plain:
            reached |= {n.split(".")[1] for n in imported(tree)
                        if n.startswith("hubspot_assets.") and n.split(".")[1] != plain}
    assert reached <= ALLOWED[plain], f"{plain} imports {sorted(reached - ALLOWED[plain])}"


def test_the_product_never_imports_the_test_package_and_has_no_lazy_imports():
    for rel, tree in modules():
        assert not any(n.split(".")[0] == "hubspot_assets_tests" for n in imported(tree)), rel
        functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert "__getattr__" not in functions, rel


def test_the_http_and_storage_layers_stay_apart():
    for rel, tree in modules():
        roots = {n.split(".")[0] for n in imported(tree)}
        if layer(rel) in ("hubspot", "stream", "timestamps", "runtime"):
            assert "pymongo" not in roots, rel
        if layer(rel) in ("mongo", "stream", "consolidate", "sync"):
            assert "requests" not in roots, rel
