"""The one writer and the capped reader: refusals, atomicity, clean-up, permission bits."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from cnncalc.errors import CnnCalcError
from cnncalc.cli.output import atomic_path, check_writable, write_output
from cnncalc.language import source as source_module
from cnncalc.language.source import MiB, read_capped

ROOT = Path(__file__).resolve().parent.parent
posix = pytest.mark.skipif(os.name != "posix", reason="POSIX signals, pipes and modes")


def refusal(call, *args, **kwargs) -> str:
    with pytest.raises(CnnCalcError) as info:
        call(*args, **kwargs)
    assert info.value.exit_code == 2
    text = info.value.diagnostic.format()
    assert "\n" not in text
    return text


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_new_file_written(tmp_path):
    write_output(tmp_path / "out.md", "héllo\n", force=False)
    assert (tmp_path / "out.md").read_bytes() == "héllo\n".encode()
    write_output(tmp_path / "out.bin", b"\x00\xff", force=False)
    assert (tmp_path / "out.bin").read_bytes() == b"\x00\xff"
    assert leftovers(tmp_path) == []


def test_existing_file_needs_force(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    assert "exists; pass --force to overwrite it" in refusal(write_output, target, "new", force=False)
    assert "exists" in refusal(check_writable, target, False)
    assert target.read_text() == "old"
    write_output(target, "new", force=True)
    assert target.read_text() == "new"
    assert leftovers(tmp_path) == []


def test_input_spec_refused_even_with_force(tmp_path, monkeypatch):
    spec = tmp_path / "net.yaml"
    spec.write_text("layers: []\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.yaml").symlink_to(spec)
    monkeypatch.chdir(tmp_path / "sub")
    for spelling in [spec, "../net.yaml", "./../sub/../net.yaml", tmp_path / "link.yaml"]:
        text = refusal(write_output, spelling, "x", force=True, protect=[spec])
        assert "is the input spec or a file it includes; refusing to overwrite it" in text
    refusal(write_output, spec, "x", force=True, protect=["../link.yaml"])
    refusal(check_writable, "../net.yaml", True, ["../net.yaml"])
    assert spec.read_text() == "layers: []\n"
    write_output(tmp_path / "other.yaml", "x", force=True, protect=[spec])  # a different file is fine


def test_missing_folder_and_folder_target(tmp_path):
    text = refusal(write_output, tmp_path / "nope" / "out.md", "x", force=True)
    assert f"folder {tmp_path / 'nope'} does not exist" in text
    assert "is a folder" in refusal(write_output, tmp_path, "x", force=True)


@pytest.mark.parametrize("exception", [RuntimeError, KeyboardInterrupt, SystemExit])
def test_temp_removed_when_writer_raises(tmp_path, exception):
    target = tmp_path / "out.npy"
    target.write_bytes(b"old")
    with pytest.raises(exception), atomic_path(target, force=True) as temp:
        assert temp.endswith(".npy") and Path(temp).parent == tmp_path
        Path(temp).write_bytes(b"half")
        raise exception()
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_oserror_is_one_line(tmp_path):
    with pytest.raises(CnnCalcError) as info, atomic_path(tmp_path / "out.bin", force=False):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert info.value.diagnostic.message == f"cannot write: {os.strerror(errno.ENOSPC)}"
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.bin").exists()


def test_file_appearing_meanwhile_is_not_clobbered(tmp_path):
    target = tmp_path / "out.md"
    with pytest.raises(CnnCalcError), atomic_path(target, force=False) as temp:
        Path(temp).write_text("mine")
        target.write_text("theirs")
    assert target.read_text() == "theirs"
    assert leftovers(tmp_path) == []


@posix
def test_symlink_target_is_replaced_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep")
    link = tmp_path / "out.txt"
    link.symlink_to(elsewhere)
    assert "exists" in refusal(write_output, link, "x", force=False)
    write_output(link, "new", force=True)
    assert not link.is_symlink() and link.read_text() == "new"
    assert elsewhere.read_text() == "keep"


@posix
def test_permission_bits(tmp_path):
    old = tmp_path / "old.txt"
    old.write_text("a")
    old.chmod(0o640)
    write_output(old, "b", force=True)
    assert old.stat().st_mode & 0o777 == 0o640
    readonly = tmp_path / "ro.txt"
    readonly.write_text("a")
    readonly.chmod(0o444)
    write_output(readonly, "b", force=True)
    assert readonly.stat().st_mode & 0o777 == 0o444 and readonly.read_text() == "b"
    mask = os.umask(0o027)
    try:
        write_output(tmp_path / "new.txt", "c", force=False)
    finally:
        os.umask(mask)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o640


CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from cnncalc.cli.output import atomic_path, install_sigterm_cleanup, write_output
    install_sigterm_cleanup()
    target, mode = sys.argv[1], sys.argv[2]
    if mode == "loop":
        print("ready", flush=True)
        for i in range(10**6):
            write_output(target, bytes([65 + i % 26]) * (4 << 20), force=True)
    with atomic_path(target, force=True) as temp, open(temp, "wb") as handle:
        for _ in range(1000):
            handle.write(b"n" * 65536)
            handle.flush()
            print("writing", flush=True)
            time.sleep(0.01)
""")


def run_and_terminate(target: Path, mode: str, delay: float) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", CHILD, str(target), mode]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
    assert child.stdout.readline().strip() in (b"ready", b"writing")
    time.sleep(delay)
    child.send_signal(signal.SIGTERM)
    child.stdout.read()
    return child.wait(timeout=30)


@posix
@pytest.mark.parametrize("delay", [0.05, 0.2, 0.45])
def test_sigterm_during_write_loop_leaves_whole_file(tmp_path, delay):
    target = tmp_path / "big.bin"
    target.write_bytes(b"old")
    assert run_and_terminate(target, "loop", delay) == 143
    data = target.read_bytes()
    assert data == b"old" or (len(data) == 4 << 20 and data == data[:1] * len(data))
    assert leftovers(tmp_path) == []


@posix
def test_sigterm_during_slow_writer_keeps_old_file(tmp_path):
    target = tmp_path / "arrays.npy"
    target.write_bytes(b"old")
    assert run_and_terminate(target, "slow", 0.1) == 143
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


@posix
def test_read_capped_dev_zero_refused_quickly():
    start = time.monotonic()
    text = refusal(read_capped, "/dev/zero", MiB, "/dev/zero")
    assert text == "/dev/zero: error: is larger than 1 MiB; refused"
    assert time.monotonic() - start < 2


def test_read_capped_files(tmp_path):
    small = tmp_path / "net.yaml"
    small.write_bytes(b"x" * 100)
    assert read_capped(small, 100, "net.yaml") == b"x" * 100
    assert "is larger than 99 bytes" in refusal(read_capped, small, 99, "net.yaml")
    assert "does not exist" in refusal(read_capped, tmp_path / "missing.yaml", MiB, "missing.yaml")
    assert "is a folder" in refusal(read_capped, tmp_path, MiB, "dir")
    assert read_capped(io.BytesIO(b"abc"), 3, "<stream>") == b"abc"


@posix
def test_read_capped_unreadable(tmp_path, monkeypatch):
    secret = tmp_path / "secret.yaml"
    secret.write_text("x")
    secret.chmod(0)
    if os.geteuid() == 0:  # root reads everything: the refusal anyone else gets, simulated
        def refuse(path, *args, **kwargs):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        monkeypatch.setattr(source_module, "open", refuse, raising=False)
    assert "cannot read: Permission denied" in refusal(read_capped, secret, MiB, "secret.yaml")


@posix
@pytest.mark.parametrize(("size", "ok"), [(MiB, True), (MiB + 1, False), (8 * MiB, False)])
def test_read_capped_pipe(size, ok):
    read_end, write_end = os.pipe()

    def feed():
        with contextlib.suppress(BrokenPipeError), os.fdopen(write_end, "wb") as out:
            for start in range(0, size, 10000):
                out.write(b"y" * min(10000, size - start))

    thread = threading.Thread(target=feed)
    thread.start()
    with os.fdopen(read_end, "rb") as stream:
        if ok:
            assert read_capped(stream, MiB, "<pipe>") == b"y" * size
        else:
            assert "larger than 1 MiB" in refusal(read_capped, stream, MiB, "<pipe>")
    thread.join(timeout=10)


@posix
def test_read_capped_stdin_of_a_child():
    code = ("import sys\nfrom cnncalc.cli.output import read_capped\n"
            "print(len(read_capped(sys.stdin, 1000, '<stdin>')))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, input=b"z" * 1000, capture_output=True, env=env, check=False)
    assert done.stdout.strip() == b"1000"
    done = subprocess.run(command, input=b"z" * 5000, capture_output=True, env=env, check=False)
    assert b"<stdin>: error: is larger than 1000 bytes; refused" in done.stderr
