"""One NumPy pass of a network as `run` and `validate --forward` make it: the machine's memory
checked first, weights and input loaded or made, then the engine.

Nothing big is allocated before it is known to fit: the input's batch and every weight
array's shape and type are read from the .npy headers (an .npz member's header is read from
the archive without decompressing the rest), checked, and only then loaded."""

from __future__ import annotations

from math import prod

from ..errors import EXIT_INCONSISTENT, EXIT_UNREADABLE, CnnCalcError, Diagnostic, Span
from ..language.source import unreadable

WIDTH = 4  # float32: every array of the pass
READ_ERRORS = (OSError, ValueError, EOFError, RuntimeError, NotImplementedError, KeyError)


def available_bytes() -> int:
    """Memory this process can still get: the least of the machine's MemAvailable (its total if
    unknown), what the address-space limit (RLIMIT_AS, `ulimit -v`) leaves beside what the
    process already maps, and what its cgroup's memory limit leaves (v2 memory.max, v1
    memory.limit_in_bytes)."""
    import os
    have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    meminfo = _fields("/proc/meminfo")
    if "MemAvailable" in meminfo:
        have = meminfo["MemAvailable"] * 1024
    return min([have, *address_space_left(), *cgroup_left()])


def _fields(path: str) -> dict:
    """`Key: number ...` lines of a /proc file as {key: number}; {} if unreadable."""
    out = {}
    try:
        with open(path) as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if rest.split() and rest.split()[0].isdigit():
                    out[key] = int(rest.split()[0])
    except OSError:
        pass
    return out


def address_space_left() -> list[int]:
    """[what RLIMIT_AS leaves beside the process's mapped size], or [] when unlimited."""
    import resource
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return []
    mapped = _fields("/proc/self/status").get("VmSize", 0) * 1024
    return [max(soft - mapped, 0)]


def cgroup_left() -> list[int]:
    """[limit - usage] of this process's memory cgroup (v2 or v1), or [] when unlimited or
    unknown."""
    try:
        with open("/proc/self/cgroup") as handle:
            lines = [line.rstrip("\n").split(":", 2) for line in handle]
    except OSError:
        return []
    places = []
    for _, controllers, where in (parts for parts in lines if len(parts) == 3):
        if controllers == "":  # cgroup v2's unified hierarchy
            places.append((f"/sys/fs/cgroup{where}", "memory.max", "memory.current"))
        elif "memory" in controllers.split(","):
            for base in (f"/sys/fs/cgroup/memory{where}", "/sys/fs/cgroup/memory"):
                places.append((base, "memory.limit_in_bytes", "memory.usage_in_bytes"))
    for base, limit_file, usage_file in places:
        try:
            with open(f"{base}/{limit_file}") as limit, open(f"{base}/{usage_file}") as usage:
                limit_text, usage_text = limit.read().strip(), usage.read().strip()
        except OSError:
            continue
        if limit_text.isdigit() and usage_text.isdigit() and int(limit_text) < 2**62:
            return [max(int(limit_text) - int(usage_text), 0)]
    return []


def largest_scratch(network, report, batch: int) -> tuple[int, str | None]:
    """(bytes, layer) of the largest scratch any layer's kernel builds at this batch."""
    best, where = 0, None
    for node, row in zip(network.nodes, report.rows):
        per_sample, fixed = node.layer.scratch(row.input_shapes, row.output_shape)
        need = WIDTH * (batch * per_sample + fixed)
        if need > best:
            best, where = need, node.name
    return best, where


def largest_weight(network, report) -> int:
    """Values of the largest weight tensor (0 without any)."""
    return max((prod(shape) for node, row in zip(network.nodes, report.rows)
                for shape in node.layer.weight_shapes(row.input_shapes[0]).values()
                if node.inputs), default=0)


def refuse_if_too_big(network, report, batch: int, backward: bool, span: Span,
                      have: int | None = None) -> None:
    """Sizes are checked before anything is allocated: the memory model's activation peak (or
    the training figure) plus the largest scratch one layer's kernel builds."""
    from ..analysis.memory import build
    from ..conventions import binary
    model = build(network, report)
    held = model.training_bytes(batch, WIDTH, "sgd") if backward else \
        model.peak_inference_bytes(batch, WIDTH)
    scratch, layer = largest_scratch(network, report, batch)
    drawn = 2 * 8 * largest_weight(network, report)  # He initialisation draws in float64
    if drawn > scratch:
        scratch, layer = drawn, "(initialising the weights)"
    need = held + scratch
    have = available_bytes() if have is None else have
    if need > have:
        detail = f"{binary(held)} held"
        if scratch:
            detail += f" + {binary(scratch)} scratch in " + (
                layer if layer.startswith("(") else f"layer '{layer}'")
        raise CnnCalcError(Diagnostic(span, f"a {'training' if backward else 'forward'} pass "
                                            f"at batch {batch} needs {binary(need)} ({need:,} B: "
                                            f"{detail}); this machine has {binary(have)} available",
                                      exit_code=EXIT_INCONSISTENT))


def _error(where: str, message: str, code: int = EXIT_UNREADABLE, received=None) -> CnnCalcError:
    return CnnCalcError(Diagnostic(Span(where), message, received=received, exit_code=code))


def read_npy_header(handle, where: str, what: str, hint: str):
    """(shape, fortran_order, dtype, header end) of the .npy array starting at the handle's
    position; CnnCalcError (exit 2) if it is not one. Reads only the header."""
    from numpy.lib import format as npy
    start = handle.tell()
    try:
        version = npy.read_magic(handle)
    except READ_ERRORS:
        raise _error(where, f"is not an .npy array; {hint}") from None
    try:
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(handle)
        else:
            raise _error(where, f"{what} uses .npy format version {version[0]}.{version[1]}, "
                                "not 1.0 or 2.0")
    except READ_ERRORS as exc:
        raise _error(where, f"{what} has an unreadable .npy header: {one_line(exc)}") from None
    return shape, fortran, dtype, handle.tell() - start


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def check_dtype(dtype, where: str, what: str) -> None:
    """Real floating-point values only: complex, structured, object, string, integer and
    boolean arrays are refused, never cast."""
    if dtype.kind != "f" or dtype.fields is not None or dtype.subdtype is not None:
        raise _error(where, f"{what} holds {dtype} values, not floating-point numbers; convert "
                            "it with .astype('float32')", received=str(dtype))


INPUT_HINT = ("--input-file takes an .npy array file (numpy.save) of shape [N, C, H, W] "
              "([N, C, L] in 1-D, [N, C, D, H, W] in 3-D)")


class InputHeader:
    """What the --input-file array declares, read without loading it."""

    def __init__(self, path: str, expected: tuple):
        import os
        self.path = path
        if path.lower().endswith(".npz"):
            raise _error(path, f"is an .npz archive; {INPUT_HINT}")
        try:
            with open(path, "rb") as handle:
                shape, self.fortran, self.dtype, self.offset = read_npy_header(
                    handle, path, "the input", INPUT_HINT)
                size = os.fstat(handle.fileno()).st_size
        except OSError as exc:
            raise unreadable(path, exc) from None
        check_dtype(self.dtype, path, "the input")
        self.shape = tuple(shape)
        want = f"[N, {', '.join(map(str, expected))}] (NCHW)"
        if len(self.shape) != 1 + len(expected) or self.shape[1:] != expected:
            raise _error(path, f"the input has shape {list(self.shape)}, expected {want}",
                         EXIT_INCONSISTENT)
        if self.shape[0] == 0:
            raise _error(path, "the input holds no samples (N = 0)", received=str(list(self.shape)))
        declared = prod(self.shape) * self.dtype.itemsize
        if size - self.offset != declared:
            raise _error(path, f"the input declares {declared:,} bytes of data but the file holds "
                               f"{size - self.offset:,}", received=str(list(self.shape)))

    @property
    def batch(self) -> int:
        return self.shape[0]

    def load(self):
        """The array as float32, read through a memory map (only the float32 copy is held)."""
        import numpy as np
        try:
            mapped = np.load(self.path, mmap_mode="r", allow_pickle=False)
            return np.array(mapped, dtype=np.float32)
        except READ_ERRORS as exc:
            raise _error(self.path, f"cannot read the input: {one_line(exc)}") from None


WEIGHTS_HINT = "--weights takes an .npz archive (numpy.savez) of float arrays"


def load_weights(path: str, expected: dict[str, tuple], have: int) -> dict:
    """The arrays of an .npz, each member's header read and checked (type, shape, names, size
    against `have` bytes) before anything is decompressed. Unreadable: exit 2; arrays that do
    not fit the network (missing, unexpected, misshapen): exit 1."""
    import zipfile

    from numpy.lib import format as npy

    from ..conventions import binary
    try:
        with open(path, "rb") as handle:
            start = handle.read(6)
    except OSError as exc:
        raise unreadable(path, exc) from None
    if start == b"\x93NUMPY":
        raise _error(path, f"is a single .npy array; {WEIGHTS_HINT}")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, *READ_ERRORS) as exc:
        raise _error(path, f"is not a readable .npz archive ({one_line(exc)}); {WEIGHTS_HINT}") \
            from None
    with archive:
        headers = {}
        try:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                if key in headers:
                    raise _error(path, f"holds the array '{key}' twice")
                with archive.open(info) as member:
                    shape, _, dtype, offset = read_npy_header(
                        member, path, f"the array '{key}'", WEIGHTS_HINT)
                check_dtype(dtype, path, f"the array '{key}'")
                declared = prod(shape) * dtype.itemsize
                if info.file_size - offset != declared:
                    raise _error(path, f"the array '{key}' declares {declared:,} bytes of data but "
                                       f"the archive holds {info.file_size - offset:,}")
                headers[key] = (info, tuple(shape), dtype)
        except (zipfile.BadZipFile, *READ_ERRORS) as exc:
            raise _error(path, f"cannot read weights: {one_line(exc)}") from None
        for key, shape in expected.items():
            if key not in headers:
                raise _error(path, f"missing array '{key}' (expected shape {list(shape)})",
                             EXIT_INCONSISTENT)
            if headers[key][1] != tuple(shape):
                raise _error(path, f"array '{key}' has shape {list(headers[key][1])}, expected "
                                   f"{list(shape)}", EXIT_INCONSISTENT)
        extra = sorted(set(headers) - set(expected))
        if extra:
            raise _error(path, f"unexpected array '{extra[0]}' ({len(extra)} not used by the "
                               "spec)", EXIT_INCONSISTENT)
        largest = max((prod(s) * d.itemsize for _, s, d in headers.values()), default=0)
        if largest > have:
            raise _error(path, f"an array of {binary(largest)} does not fit in the "
                               f"{binary(have)} this machine has available", EXIT_INCONSISTENT)
        import numpy as np
        arrays = {}
        try:
            for key, (info, _, _) in headers.items():
                with archive.open(info) as member:
                    arrays[key] = np.asarray(npy.read_array(member, allow_pickle=False),
                                             dtype=np.float32)
        except (zipfile.BadZipFile, *READ_ERRORS) as exc:
            raise _error(path, f"cannot read weights: {one_line(exc)}") from None
    return arrays


def execute(network, report, batch: int, seed: int, weights_file: str | None,
            input_file: str | None, backward: bool, progress=None):
    """`_execute`, where running out of memory all the same (another process took it, a limit
    this module cannot see) is one error, exit 1."""
    try:
        return _execute(network, report, batch, seed, weights_file, input_file, backward,
                        progress)
    except MemoryError as exc:
        raise CnnCalcError(Diagnostic(Span(network.file), f"out of memory during the pass at "
                                      f"batch {batch}: {one_line(exc) or 'MemoryError'}",
                                      exit_code=EXIT_INCONSISTENT)) from None


def _execute(network, report, batch: int, seed: int, weights_file: str | None,
             input_file: str | None, backward: bool, progress=None):
    """Weights (loaded or He-initialised), input (loaded or random) and one pass; sizes are
    checked against this machine first. With an input file, the batch is its N. `progress`:
    a context manager giving a per-layer callback (the CLI's bar). NumPy's floating-point
    warnings are silenced; the caller reports non-finite outputs."""
    import numpy as np

    from ..compute import engine
    s = report.input_shape
    named = {node.name: row.output_shape for node, row in zip(network.nodes, report.rows)
             if not node.inputs}  # the other named inputs: random arrays only
    if input_file and named:
        raise _error(input_file, f"--input-file feeds one input, but this network has "
                                 f"{len(named) + 1} ({network.input_name}, {', '.join(named)}); "
                                 "run without it draws random inputs", EXIT_UNREADABLE)
    header = InputHeader(input_file, (s.c, *s.spatial)) if input_file else None
    if header is not None:
        batch = header.batch
    have = available_bytes()
    refuse_if_too_big(network, report, batch, backward, Span(network.file), have)
    if weights_file:
        expected = {f"{n}.{k}": shape for n, shapes in engine.shapes_of(network, report).items()
                    for k, shape in shapes.items()}
        weights = engine.check_weights(network, report, load_weights(weights_file, expected, have))
    else:
        weights = engine.init_weights(network, report, seed)
    import warnings
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if header is not None:
            x = header.load()
        else:
            x = np.random.default_rng(seed).standard_normal((batch, s.c, *s.spatial)).astype(
                np.float32)
        rng = np.random.default_rng([seed, 1])  # the other named inputs, in order
        arrays = {name: rng.standard_normal((batch, shape.c, *shape.spatial)).astype(np.float32)
                  for name, shape in named.items()}
        if progress is None:
            return engine.run(network, report, x, weights, backward, named=arrays), weights
        with progress() as step:
            return engine.run(network, report, x, weights, backward, progress=step,
                              named=arrays), weights
