"""Which earlier modules a module builds on, read from its `tinytorch` imports.

A module imports earlier modules' code through the package (docs/module-format.md), so its
dependencies are written in its own import statements; no table has to be kept by hand, and a
new module gets them for free. `from tinytorch.core.tensor import Tensor` names the module that
exports to `core.tensor`; an import from a hand-written namespace (`from tinytorch.nn import
Linear`) is followed through that file's own imports to the generated file that defines the
name. The closure is transitive (05 uses 01, 06 uses 05, so 06 depends on 01 and 05) and holds
only earlier modules: a module never imports a later one.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tito.export import ModuleInfo, find_modules
from tito.notebook import default_exp, parse_cells

Import = tuple[str, tuple[str, ...] | None]  # (dotted module, names imported, None = all of it)


def _imports(tree: ast.AST, package: str = "") -> list[Import]:
    """tinytorch imports in a syntax tree; `package` resolves relative imports in the package."""
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names if alias.name.split(".")[0] == "tinytorch"]
        elif isinstance(node, ast.ImportFrom):
            name = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([name] if name else []))
            if name.split(".")[0] != "tinytorch":
                continue
            names = tuple(alias.name for alias in node.names)
            found.append((name, None if "*" in names else names))
    return found


def module_imports(module: ModuleInfo) -> list[Import]:
    """The tinytorch imports of every code cell of a module file (cells that do not parse are skipped)."""
    found: list[Import] = []
    for cell in parse_cells(module.source.read_text(encoding="utf-8")):
        if cell.kind == "markdown":
            continue
        try:
            found += _imports(ast.parse("\n".join(cell.lines)))
        except SyntaxError:
            continue
    return found


class _Resolver:
    def __init__(self, root: Path, modules: list[ModuleInfo]):
        self.root = root
        self.targets: dict[str, ModuleInfo] = {}
        for module in modules:
            try:
                target = default_exp(parse_cells(module.source.read_text(encoding="utf-8")), module.source)
            except ValueError:
                continue
            self.targets[f"tinytorch.{target}"] = module

    def _file(self, dotted: str) -> tuple[Path, str] | None:
        """The hand-written file of a package path, and the package its relative imports use."""
        base = self.root / Path(*dotted.split("."))
        if (base / "__init__.py").is_file():
            return base / "__init__.py", dotted
        if base.with_suffix(".py").is_file():
            return base.with_suffix(".py"), dotted.rsplit(".", 1)[0]
        return None

    def resolve(self, dotted: str, names: tuple[str, ...] | None, seen: set) -> set[str]:
        """Tags of the modules that provide `names` (all, if None) of the package path `dotted`."""
        key = (dotted, names)
        if key in seen:
            return set()
        seen.add(key)
        if dotted in self.targets:
            return {self.targets[dotted].tag}
        found: set[str] = set()
        for name in names or ():  # `from tinytorch.core import tensor`: a submodule by name
            if f"{dotted}.{name}" in self.targets:
                found.add(self.targets[f"{dotted}.{name}"].tag)
        located = self._file(dotted)
        if located is None:
            return found
        path, package = located
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:
            return found
        for statement in tree.body:
            if not isinstance(statement, (ast.Import, ast.ImportFrom)):
                continue
            bound = {alias.asname or alias.name.split(".")[0] for alias in statement.names}
            if names is not None and "*" not in bound and not bound.intersection(names):
                continue
            for imported, imported_names in _imports(statement, package):
                found |= self.resolve(imported, imported_names, seen)
        return found


def dependencies(root: Path, module: ModuleInfo) -> list[ModuleInfo]:
    """Every earlier module `module` builds on, directly or through others, in course order."""
    modules = find_modules(root)
    resolver = _Resolver(root, modules)
    by_tag = {m.tag: m for m in modules}
    closure: set[str] = set()
    pending = [module]
    while pending:
        current = pending.pop()
        direct: set[str] = set()
        for dotted, names in module_imports(current):
            direct |= resolver.resolve(dotted, names, set())
        for tag in direct:
            if tag in by_tag and by_tag[tag].number < current.number and tag not in closure:
                closure.add(tag)
                pending.append(by_tag[tag])
    return [m for m in modules if m.tag in closure]
