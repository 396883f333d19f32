"""No import cycles between the top-level packages and modules of transmodal.

The layer order itself is written in ``.importlinter`` (``lint-imports``); this test checks the
weaker property that holds whatever the order: no two top-level parts import each other, directly or
through others. grimp counts imports inside functions too.
"""

from __future__ import annotations

import itertools

import grimp


def test_no_import_cycle_between_top_level_parts():
    graph = grimp.build_graph("transmodal")
    parts = sorted({".".join(m.split(".")[:2]) for m in graph.modules} - {"transmodal"})
    cycles = []
    for a, b in itertools.combinations(parts, 2):
        if graph.chain_exists(importer=a, imported=b, as_packages=True) and \
                graph.chain_exists(importer=b, imported=a, as_packages=True):
            there = graph.find_shortest_chain(importer=a, imported=b, as_packages=True)
            back = graph.find_shortest_chain(importer=b, imported=a, as_packages=True)
            cycles.append(f"{a} <-> {b}: {' -> '.join(there)}; {' -> '.join(back)}")
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_import_cycle_between_modules():
    """Stronger: no module imports itself through others (strongly connected components of size 1)."""
    import sys

    graph = grimp.build_graph("transmodal")
    imports = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in imports[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(imports)))
    try:
        for module in sorted(imports):
            if module not in index:
                visit(module)
    finally:
        sys.setrecursionlimit(limit)
    assert not cycles, f"modules that import each other: {cycles}"
