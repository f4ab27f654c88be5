"""`steppe syslog listen`: a real process on loopback ports, stopped with SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cli_runner import Steppe
from conftest import KEY


@pytest.fixture
def members(steppe: Steppe) -> Steppe:
    steppe.ok("org", "add", "KZ-CERT", "--country", "KZ")
    steppe.ok("org", "add", "KG-CERT", "--country", "KG")
    return steppe


def lake_rows(data_dir: Path) -> list[dict[str, object]]:
    return [
        row
        for file in sorted((data_dir / "lake").rglob("*.parquet"))
        for row in pq.read_table(
            file, columns=["organisation", "message", "log.source.address"]
        ).to_pylist()
    ]


def test_listen_receives_udp_and_tcp_into_the_lake_and_stops_cleanly(members: Steppe) -> None:
    env = {**os.environ, "STEPPE_SECRET_KEY": KEY, "COLUMNS": "200"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from steppe.cli.main import main; main()",
            "--data-dir",
            str(members.data_dir),
            "syslog",
            "listen",
            "--org",
            "KZ-CERT",
            "--udp",
            "127.0.0.1:0",
            "--tcp",
            "127.0.0.1:0",
            "--map",
            "127.0.0.2/32=KG-CERT",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for _ in range(20):
            line = process.stderr.readline()
            found = re.search(r"udp 127\.0\.0\.1:(\d+), tcp 127\.0\.0\.1:(\d+); Ctrl-C", line)
            if found:
                break
        assert found, line
        udp_port, tcp_port = int(found[1]), int(found[2])

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"<13>Nov 28 09:00:00 fw01 sshd[7]: from udp", ("127.0.0.1", udp_port))
        with socket.create_connection(
            ("127.0.0.1", tcp_port), source_address=("127.0.0.2", 0)
        ) as tcp:
            for frame in (b"<14>1 - rtr1 app - - - kg", b"<14>Nov 28 09:00:01 rtr1 app: kg line"):
                tcp.sendall(b"%d %s" % (len(frame), frame))  # octet counting
        time.sleep(0.5)  # let the datagram be read before the stop
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "received 3" in out and "accepted 3" in out and "dropped 0" in out
    rows = lake_rows(members.data_dir)
    by_org = {(r["organisation"], r["message"], r["log.source.address"]) for r in rows}
    assert by_org == {
        (1, "from udp", "127.0.0.1"),
        (2, "kg", "127.0.0.2"),
        (2, "kg line", "127.0.0.2"),
    }
    assert "syslog.listen" in members.ok("audit", "list")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--org", "NOPE"), "NOPE"),
        (("--org", "KZ-CERT", "--map", "10.0.0.0/8"), "CIDR=ORGANISATION"),
        (("--org", "KZ-CERT", "--map", "10.0.0.1/8=KG-CERT"), "host bits set"),
        (("--org", "KZ-CERT", "--map", "10.0.0.0/8=NOPE"), "NOPE"),
        (
            ("--org", "KZ-CERT", "--map", "10.0.0.0/8=KG-CERT", "--map", "10.0.0.0/8=KZ-CERT"),
            "mapped to both",
        ),
        (("--org", "KZ-CERT", "--udp", "localhost"), "HOST:PORT"),
        (("--org", "KZ-CERT", "--tcp", "127.0.0.1:99999"), "HOST:PORT"),
    ],
)
def test_bad_options_give_one_line_errors(
    members: Steppe, args: tuple[str, ...], message: str
) -> None:
    code, _, err = members("syslog", "listen", *args)
    assert code == 1
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_a_port_in_use_is_a_one_line_error(members: Steppe) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        code, _, err = members("syslog", "listen", "--org", "KZ-CERT", "--udp", f"127.0.0.1:{port}")
    assert code == 1
    assert err.startswith(f"error: cannot listen on udp 127.0.0.1:{port}")
