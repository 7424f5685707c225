"""Two reports side by side: totals, their differences, and the layers that differ."""

from __future__ import annotations

from .report import COUNT_KEYS, Report


def compare_reports(a: Report, b: Report, time: tuple | None = None) -> dict:
    """`time`: (its key, seconds of a, seconds of b), the predicted step (cnncalc time)."""
    ta, tb = a.totals.as_dict(), b.totals.as_dict()
    totals = [{"key": k, "a": ta[k], "b": tb[k], "difference": tb[k] - ta[k]}
              for k in COUNT_KEYS]
    if time is not None:
        key, seconds_a, seconds_b = time
        totals.append({"key": key, "a": seconds_a, "b": seconds_b,
                       "difference": seconds_b - seconds_a})
    rows_a = {r.name: r for r in a.rows}
    rows_b = {r.name: r for r in b.rows}
    changed = []
    for name in [*rows_a, *(n for n in rows_b if n not in rows_a)]:
        ra, rb = rows_a.get(name), rows_b.get(name)
        if ra is None or rb is None:  # in one network only: its own figures
            only = ra or rb
            changed.append({"name": name, "only_in": "a" if rb is None else "b",
                            "type": only.type,
                            "output_a": ra.output_shape.as_list() if ra else None,
                            "output_b": rb.output_shape.as_list() if rb else None,
                            "params": only.totals.params, "macs": only.totals.macs,
                            "params_difference": rb.totals.params if rb else -ra.totals.params,
                            "macs_difference": rb.totals.macs if rb else -ra.totals.macs})
            continue
        if (ra.type, ra.output_shape, ra.totals) != (rb.type, rb.output_shape, rb.totals):
            changed.append({"name": name, "type_a": ra.type, "type_b": rb.type,
                            "output_a": ra.output_shape.as_list(),
                            "output_b": rb.output_shape.as_list(),
                            "params_difference": rb.totals.params - ra.totals.params,
                            "macs_difference": rb.totals.macs - ra.totals.macs})
    return {"a": {"name": a.name, "file": a.file, "input": a.input_shape.as_list(),
                  "output": a.output_shape.as_list()},
            "b": {"name": b.name, "file": b.file, "input": b.input_shape.as_list(),
                  "output": b.output_shape.as_list()},
            "totals": totals, "layers": changed}
