"""Arbitrary JSON for property tests, and the paths into a document, shared by the agent's
tests and the server's (no Django here)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Any JSON value, with integers beyond 64 bits and deep-enough nesting to reach edge cases.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into `value` (keys and list indexes), the empty path for the whole first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found
