"""`theo livekit dev --sip` (Redis + livekit-server + livekit-sip, stopped by SIGINT) and `theo livekit
sip-setup` against it: created, then unchanged, updated, listed, and deleted (only what it created)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil

from tests.conftest import THEO
from theo_rtc.transports.livekit.devserver import free_tcp_port, free_udp_range
from theo_rtc.transports.livekit.sipserver import free_udp_port


def theo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([THEO, *args], capture_output=True, text=True, timeout=120, env=env)


def test_dev_sip_runs_the_telephony_stack_and_sip_setup_manages_its_trunk(tmp_path: Path) -> None:
    port, redis_port, sip_port = free_tcp_port(), free_tcp_port(), free_udp_port()
    low, high = free_udp_range(8)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    env["LIVEKIT_URL"] = f"ws://127.0.0.1:{port}"  # the dev keys are the defaults
    log = (tmp_path / "dev.log").open("w+")
    args = ["livekit", "dev", "--sip", "--port", str(port), "--udp-ports", f"{low}-{high}"]
    args += ["--sip-port", str(sip_port), "--redis-port", str(redis_port)]
    proc = subprocess.Popen([THEO, *args], stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 90
        while "Ctrl-C stops it." not in Path(log.name).read_text():  # the banner, once all three are up
            assert proc.poll() is None, Path(log.name).read_text()
            assert time.monotonic() < deadline, Path(log.name).read_text()
            time.sleep(0.2)
        text = Path(log.name).read_text()
        assert f"redis       127.0.0.1:{redis_port}" in text and f"127.0.0.1:{sip_port}" in text
        with socket.create_connection(("127.0.0.1", sip_port), timeout=5):  # SIP over TCP answers
            pass
        children = {p.name() for p in psutil.Process(proc.pid).children(recursive=True)}
        assert {"redis-server", "livekit-server", "livekit-sip"} <= children, children

        created = theo("livekit", "sip-setup", "--number", "+15550100", "--json", env=env)
        assert created.returncode == 0, created.stderr
        first = json.loads(created.stdout)
        assert first["trunk_action"] == "created" and first["dispatch_rule_action"] == "created"
        assert first["trunk"]["numbers"] == ["+15550100"]
        assert first["trunk"]["allowed_addresses"] == ["127.0.0.1/32"]
        rule = first["dispatch_rule"]
        assert rule["rule"]["dispatch_rule_individual"]["room_prefix"] == "call-"
        assert rule["trunk_ids"] == [first["trunk"]["sip_trunk_id"]]
        (agent,) = rule["room_config"]["agents"]
        assert agent["agent_name"] == "theo" and json.loads(agent["metadata"])["phone"]["greeting"]

        again = json.loads(theo("livekit", "sip-setup", "--number", "+15550100", "--json", env=env).stdout)
        assert again["trunk_action"] == "unchanged" and again["dispatch_rule_action"] == "unchanged"
        assert again["trunk"]["sip_trunk_id"] == first["trunk"]["sip_trunk_id"]

        changed = theo(
            "livekit", "sip-setup", "--number", "+15550100", "--auth-user", "pbx",
            "--auth-password", "s3cret", "--greeting", "Hi.", "--json", env=env,
        )  # fmt: skip
        updated = json.loads(changed.stdout)
        assert updated["trunk_action"] == "updated" and updated["dispatch_rule_action"] == "updated"
        assert updated["trunk"]["sip_trunk_id"] == first["trunk"]["sip_trunk_id"]
        assert updated["trunk"]["auth_username"] == "pbx"

        listed = json.loads(theo("livekit", "sip-setup", "--list", "--json", env=env).stdout)
        assert len(listed["inbound_trunks"]) == 1 and len(listed["dispatch_rules"]) == 1
        table = theo("livekit", "sip-setup", "--list", env=env).stdout
        assert "theo-inbound" in table and "theo-calls" in table

        half = theo("livekit", "sip-setup", "--auth-user", "only-a-user", env=env)
        assert half.returncode == 1 and "both a username and a password" in half.stderr

        deleted = theo("livekit", "sip-setup", "--delete", env=env)
        assert deleted.returncode == 0 and "deleted 1 trunk(s)" in deleted.stdout, deleted.stdout
        empty = json.loads(theo("livekit", "sip-setup", "--list", "--json", env=env).stdout)
        assert empty == {"inbound_trunks": [], "dispatch_rules": []}

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, Path(log.name).read_text()
        assert "livekit-server stopped (exit code 0)" in Path(log.name).read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
