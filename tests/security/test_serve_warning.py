"""Finding 4 (issue 14): ``theo serve`` on a non-loopback address without keys warns loudly, and a keys file
that holds no key is an error (serving would silently turn authentication off)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bench.harness import THEO, free_port
from theo_rtc.auth.exposure import exposure_warnings
from theo_rtc.auth.hosts import HostAllowlist, default_allowed_hosts, is_loopback_host, origin_allowed
from theo_rtc.auth.state import SecurityState
from theo_rtc.config import TheoSettings


def first_lines(args: list[str], env: dict[str, str], until: str) -> str:
    """Run ``theo serve`` until it prints ``until`` (before it loads anything), then stop it."""
    process = subprocess.Popen(
        [THEO, *args], env=os.environ | env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if until in line:
                break
    finally:
        process.terminate()
        process.wait(30)
    return "".join(seen)


def test_a_public_host_without_keys_warns(theo_home: Path) -> None:
    port = str(free_port())
    out = first_lines(
        ["serve", "--host", "0.0.0.0", "--port", port],
        {"THEO_HOME": str(theo_home), "COLUMNS": "300"},
        until="THEO_ALLOWED_HOSTS",
    )
    assert "WARNING" in out and "NO API KEY IS SET" in out, out


def test_warnings_for_each_setting() -> None:
    def warnings(**fields: object) -> list[str]:
        settings = TheoSettings(**fields)  # type: ignore[arg-type]
        return exposure_warnings(settings, SecurityState.from_settings(settings))

    assert (
        warnings(host="127.0.0.1") == [] and warnings(host="::1") == [] and warnings(host="localhost") == []
    )
    assert any("NO API KEY" in w for w in warnings(host="192.168.1.20"))
    assert warnings(host="192.168.1.20", api_keys=["sk-x"]) == []
    assert len(warnings(host="0.0.0.0", api_keys=["sk-x"])) == 1  # names clients use: THEO_ALLOWED_HOSTS
    assert warnings(host="0.0.0.0", api_keys=["sk-x"], allowed_hosts=["theo.lan"]) == []


def test_an_empty_keys_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "keys"
    empty.write_text("# nobody yet\n\n")
    settings = TheoSettings(api_keys_file=empty)
    try:
        SecurityState.from_settings(settings)
    except ValueError as exc:
        assert "holds no key" in str(exc)
    else:
        raise AssertionError("an empty keys file was accepted")


def test_settings_from_the_environment(monkeypatch: object) -> None:
    env = {
        "THEO_API_KEYS": " sk-a , sk-b,",
        "THEO_CORS_ORIGINS": "https://app.example,http://localhost:5173",
        "THEO_ALLOWED_HOSTS": '["theo.example", "*.theo.example"]',
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = TheoSettings()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert settings.api_keys == ["sk-a", "sk-b"] and "sk-a" not in repr(settings)
    assert settings.cors_origins == ["https://app.example", "http://localhost:5173"]
    hosts = HostAllowlist(settings.allowed_hosts)
    assert (
        hosts.allows("theo.example") and hosts.allows("eu.theo.example:443") and not hosts.allows("x.example")
    )


def test_host_and_origin_rules() -> None:
    loopback = HostAllowlist(default_allowed_hosts("127.0.0.1"))
    for good in ("localhost", "LOCALHOST:8000", "127.0.0.1:1", "[::1]:8000", "[::1]"):
        assert loopback.allows(good), good
    for bad in ("", "evil.example", "127.0.0.1.evil.example", "localhost:abc", "user@localhost", "[::1"):
        assert not loopback.allows(bad), bad
    assert HostAllowlist(default_allowed_hosts("10.0.0.5")).allows("10.0.0.5:8000")
    default = SecurityState.from_settings(TheoSettings(host="0.0.0.0")).hosts  # LAN browsers use the IP
    assert (
        default.allows("192.168.1.5:8000")
        and default.allows("[fe80::1]:8000")
        and default.allows("localhost")
    )
    assert not default.allows("theo.lan") and not default.allows("1.2.3.4.evil.example")
    named = SecurityState.from_settings(TheoSettings(host="0.0.0.0", allowed_hosts=["theo.lan"])).hosts
    assert named.allows("theo.lan:8000") and not named.allows("127.0.0.1")  # the list replaces the default
    assert is_loopback_host("127.0.0.2") and not is_loopback_host("0.0.0.0")
    assert origin_allowed("http://localhost:8000", "localhost:8000", [])
    assert origin_allowed("https://theo.example", "theo.example", [])  # behind TLS, Host without port
    assert not origin_allowed("http://localhost:8001", "localhost:8000", [])
    assert not origin_allowed("null", "localhost:8000", ["http://a.example"])
    assert origin_allowed("http://a.example", "localhost:8000", ["http://a.example"])
    assert origin_allowed("http://b.example", "localhost:8000", ["*"])
