"""Which package may import which (README: Layout), checked on the source with `ast`.

Every import counts: top-level, inside functions (lazy), and `importlib.import_module("services.x")`
with a literal or an f-string whose literal start names the package.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("services", "api_gateway", "deploy")
OURS = ("services", "api_gateway", "deploy", "tests", "bench", "migrations")
SERVICES = ("registry", "subsidy", "dropout", "statistics")
KIT, CONTRACTS = "services.kit", "services.contracts"
ANY_SERVICE = "services.*"  # `import services`, or `import_module(f"services.{name}...")`
EVERYTHING = "*"

# package → the packages of ours it may import (itself always; third-party imports are not ruled here).
ALLOWED: dict[str, set[str]] = {
    **{f"services.{s}": {KIT, CONTRACTS} for s in SERVICES},
    KIT: set(),
    CONTRACTS: {KIT},
    "api_gateway": {KIT, CONTRACTS},
    "deploy": {EVERYTHING},
}


def unit_of(module: str) -> str | None:
    """Return the package (a key of ALLOWED, or a top-level name of ours) a module belongs to."""
    parts = module.split(".")
    if parts[0] not in OURS:
        return None
    if parts[0] != "services":
        return parts[0]
    if len(parts) == 1 or parts[1] == "*":
        return ANY_SERVICE
    return f"services.{parts[1]}"


def _literal_module(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        # f"services.{name}.main": the literal start, then a wildcard for whatever is formatted in.
        head = first.value if isinstance(first, ast.Constant) else ""
        if isinstance(head, str) and head:
            return head.rstrip(".") + (".*" if len(node.values) > 1 else "")
    return None


def imports_of(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Yield (line, module) for every import in a module, lazy ones and import_module() strings too."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("import_module", "__import__"):
                module = _literal_module(node.args[0])
                if module:
                    yield node.lineno, module


def importer_of(path: Path) -> str:
    """Return the package a file belongs to (a key of ALLOWED)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    unit = unit_of(module)
    return unit if unit != ANY_SERVICE else "services"  # services/__init__.py: the namespace itself


def violations_in(path: Path, source: str) -> list[str]:
    """Return 'file:line: importer imports target' for each import the rules refuse."""
    importer = importer_of(path)
    allowed = ALLOWED.get(importer, set())
    found = []
    for line, module in imports_of(ast.parse(source, filename=str(path))):
        target = unit_of(module)
        if target is None or target == importer or EVERYTHING in allowed or target in allowed:
            continue
        found.append(
            f"{path.relative_to(ROOT)}:{line}: {importer} imports {module} "
            f"(may import: {', '.join(sorted(allowed)) or 'nothing of ours'})"
        )
    return found


def test_rules_cover_every_package():
    """A new package under services/ must get a rule before it may exist."""
    packages = {f"services.{p.name}" for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists()}
    assert packages <= set(ALLOWED), f"no import rule for {sorted(packages - set(ALLOWED))}"


def test_layers():
    files = [p for top in SCANNED for p in sorted((ROOT / top).rglob("*.py"))]
    assert len(files) > 100
    found = [v for path in files for v in violations_in(path, path.read_text(encoding="utf-8"))]
    for violation in found:
        print(violation)
    assert not found, f"{len(found)} imports break the layering:\n" + "\n".join(found)


def test_checker_sees_every_kind_of_import():
    """The checker itself: lazy imports, from-imports and import_module strings are all caught."""
    source = (
        "import services.registry.main\n"
        "from services import subsidy\n"
        "from services.kit import db\n"
        "def f(name):\n"
        "    from deploy.stack import Stack\n"
        "    importlib.import_module('services.dropout.main')\n"
        "    importlib.import_module(f'services.{name}.main')\n"
        "    return import_module('api_gateway.main')\n"
    )
    found = violations_in(ROOT / "services/kit/fake.py", source)
    assert [v.split(":")[1] for v in found] == ["1", "2", "5", "6", "7", "8"], found
    assert violations_in(ROOT / "deploy/fake.py", source) == []
    gateway = violations_in(ROOT / "api_gateway/fake.py", source)
    assert [v.split(":")[1] for v in gateway] == ["1", "2", "5", "6", "7"], gateway
    contracts = violations_in(ROOT / "services/contracts/fake.py", "from services.kit import db\n")
    assert contracts == []
    registry = violations_in(ROOT / "services/registry/fake.py", "from services.subsidy.x import y\n")
    assert len(registry) == 1 and "services.registry imports services.subsidy.x.y" in registry[0]
