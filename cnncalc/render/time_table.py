"""`cnncalc time` and `cnncalc devices` as rich tables: the answer first (step time, images
per second, the epoch), then what bounds the time, then every layer."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .escape import terminal

BAR = 10  # characters of the share bar at 100 %


def seconds_text(seconds: float | None) -> str:
    """1.2e-5 -> '12.0 us', 0.0123 -> '12.3 ms', 75 -> '1 min 15 s', 90000 -> '25.0 h'."""
    if seconds is None:
        return "-"
    if seconds == 0:
        return "0"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{seconds / 3600:.1f} h"


def rate_text(value: float, unit: str) -> str:
    for prefix, factor in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6)):
        if value >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def time_tables(result: dict, every: bool = False, slowest: int = 10) -> Group:
    """The answer, the bounds, then the `slowest` layers (every layer with `every`, in order;
    layers that run no kernel left out)."""
    s = result
    training = s["mode"] == "training"
    what = f"{s['mode']}" + (f", {s['optimizer']}" if training else "")
    heading = (f"{s['network']} on {s['device']} ({s['device_title']}): batch {s['batch']}, "
               f"{s['dtype']}{' amp' if s['amp'] else ''}, {what} - {s['status']}")
    lines = [Text(terminal(heading), style="bold"),
             Text(f"Step: {seconds_text(s['total_seconds'])}   "
                  f"{s['images_per_second']:,.1f} images/s")]
    if s["epoch_seconds"] is not None:
        lines.append(Text(f"Epoch of {s['images']:,} images: {seconds_text(s['epoch_seconds'])}"
                          f" ({-(-s['images'] // s['batch']):,} steps)"))
    total = s["total_seconds"] or 1.0
    shares: dict = {}
    for layer in s["layers"]:
        if layer["seconds"]:
            shares[layer["bound"]] = shares.get(layer["bound"], 0.0) + layer["seconds"]
    if training:
        shares["optimizer step"] = s["optimizer_seconds"]
    lines.append(Text("Bound by: " + ", ".join(
        f"{bound} {100 * t / total:.0f}%" for bound, t in
        sorted(shares.items(), key=lambda kv: -kv[1]))))
    lines.append(Text(terminal(f"Figures: {s['source']}"), style="dim"))
    numbered = [(n, layer) for n, layer in enumerate(s["layers"], 1) if layer["seconds"]]
    if not every and len(numbered) > slowest:
        numbered = sorted(numbered, key=lambda item: -item[1]["seconds"])[:slowest]
        title = f"The {slowest} slowest layers (--layers: every layer)"
    else:
        title = "Per layer"
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
    columns = ["#", "name", "kind", "time", "share", "", "bound"]
    if training:
        columns[3:4] = ["forward", "backward", "time"]
    for label in columns:
        table.add_column(label, justify="left" if label in ("name", "kind", "bound", "")
                         else "right", no_wrap=True)
    for number, layer in numbered:
        share = layer["seconds"] / total
        cells = [str(number), Text(terminal(layer["name"])), layer["kind"],
                 seconds_text(layer["seconds"]), f"{100 * share:.1f}%",
                 "█" * round(share * BAR), layer["bound"]]
        if training:
            cells[3:4] = [seconds_text(layer["forward_seconds"]),
                          seconds_text(layer["backward_seconds"]), seconds_text(layer["seconds"])]
        table.add_row(*cells)
    if training:
        optimizer = s["optimizer_seconds"]
        cells = ["", f"{s['optimizer']} step", "optimizer", "", "", seconds_text(optimizer),
                 f"{100 * optimizer / total:.1f}%", "█" * round(optimizer / total * BAR), "memory"]
        table.add_row(*cells)
    return Group(*lines, table)


def device_table(devices: list[dict]) -> Table:
    """One row per device: its dense peaks, bandwidth, memory and source."""
    from ..analysis.devices import PEAK_DTYPES
    table = Table(box=box.SIMPLE_HEAD, title="Devices (dense peaks; sparse figures never used)",
                  title_justify="left")
    for label in ("name", *PEAK_DTYPES, "bandwidth", "memory", "source"):
        table.add_column(label, justify="left" if label in ("name", "source") else "right",
                         no_wrap=label != "source")
    for device in devices:
        peaks = device["peak_flops"]
        memory = device["memory_bytes"]
        table.add_row(device["name"],
                      *(rate_text(peaks[d], "FLOP/s") if d in peaks else "-" for d in PEAK_DTYPES),
                      rate_text(device["bandwidth"], "B/s") if device["bandwidth"] else "-",
                      f"{memory / 2**30:.0f} GiB" if memory else "-",
                      Text(terminal(device["source"])))
    return table
