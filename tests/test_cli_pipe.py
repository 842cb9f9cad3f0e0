"""`qujat … | head`: when its standard output is closed early the command stops quietly (status
141, as a process SIGPIPE ended; the signal module's "Note on SIGPIPE"), never with a
BrokenPipeError traceback. Real processes on real pipes."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

QUJAT = Path(sys.executable).with_name("qujat")          # the console script, as installed
COMMAND = [str(QUJAT)] if QUJAT.is_file() else [sys.executable, "-m", "qujat"]


def test_the_console_script_is_the_one_run():
    assert QUJAT.is_file(), "the `qujat` console script is not installed next to this Python"


@pytest.mark.parametrize("args", [["schema", "land_right_act"], ["example", "cadastral_value_act"],
                                  ["--help"], ["gc-blobs", "--help"]])
def test_a_closed_pipe_ends_the_command_quietly(args):
    read_end, write_end = os.pipe()
    os.close(read_end)                                   # nobody will ever read: every write fails
    try:
        done = subprocess.run([*COMMAND, *args], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    finally:
        os.close(write_end)
    assert done.stderr == ""                             # no traceback, no "Exception ignored"
    assert done.returncode == 141


def test_piped_into_head_the_first_line_comes_and_nothing_else():
    # a pipe of one page (the output is about 12 KB): head's exit closes it while qujat still writes
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    with subprocess.Popen([*COMMAND, "schema", "land_right_act"], stdout=write_end,
                          stderr=subprocess.PIPE, text=True) as qujat:
        os.close(write_end)
        head = subprocess.run(["head", "-1"], stdin=read_end, capture_output=True, text=True,
                              timeout=120)
        os.close(read_end)
        stderr = qujat.stderr.read()
        qujat.wait(timeout=120)
    assert head.returncode == 0 and head.stdout == "{\n"
    assert stderr == "" and "Traceback" not in stderr
    assert qujat.returncode == 141


def test_a_reader_that_reads_everything_changes_nothing():
    done = subprocess.run([*COMMAND, "schema", "land_right_act"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("{") and done.stdout.rstrip().endswith("}")


def test_an_unreachable_database_is_one_line_without_the_url(tmp_path):
    """A store command whose database cannot be reached says so in one line with the driver's
    reason (no traceback) and never prints DATABASE_URL, which may hold a password."""
    env = {**os.environ, "DATABASE_URL": "postgresql+psycopg://qujat:s3cret-pw@127.0.0.1:1/nodb",
           "QUJAT_DATA_DIR": str(tmp_path)}
    done = subprocess.run([*COMMAND, "gc-blobs", "--dry-run"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("qujat gc-blobs: the database cannot be reached: ")
    assert "Connection refused" in done.stderr or "connection" in done.stderr.lower()
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout
