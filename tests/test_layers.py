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
