"""The serve configuration: defaults, every mistake refused at load with the key named, no secrets in it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from yamori.config import ConfigError, config_from_mapping, load_config
from yamori.paths import serve_dir


def test_defaults_are_loopback_only_with_xdg_data() -> None:
    config = load_config(None)
    assert config.api.listen.startswith("127.0.0.1:")
    assert all(entry["listen"].startswith("127.0.0.1:") for entry in config.syslog)
    assert config.data_dir == serve_dir()
    assert {token.token_env for token in config.api.tokens} >= {"YAMORI_ADMIN_TOKEN", "YAMORI_HEC_TOKEN"}


@pytest.mark.parametrize(("document", "message"), [
    ({"colour": 1}, "unknown key(s): colour"),
    ({"api": {"token": "s3cret"}}, "secrets never go in the configuration"),
    ({"api": {"tokens": [{"name": "x", "role": "root", "token_env": "X"}]}}, "role must be one of"),
    ({"api": {"tokens": [{"name": "x", "role": "reader"}]}}, "needs token_env"),
    ({"rules": {"min_level": "severe"}}, "rules.min_level must be one of"),
    ({"filters": [{"action": "delete"}]}, "action must be drop, keep or sample"),
    ({"inputs": {"tail": [{"name": "a", "paths": ["x"]}, {"name": "a", "paths": ["y"]}]}}, "must be unique"),
    ({"pipeline": {"threads": 4}}, "unknown key(s): pipeline.threads"),
])
def test_mistakes_are_refused_with_the_key_named(document: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config_from_mapping(document)


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "yamori.toml"
    path.write_text('data_dir = "state"\n[rules]\npaths = ["my-rules"]\n'
                    '[[inputs.tail]]\nname = "t"\npaths = ["logs/*.log", "/var/log/auth.log"]\n'
                    '[[inputs.syslog]]\nname = "s"\nprotocol = "tls"\ncert = "pki/server.pem"\nkey_env = "K"\n')
    config = load_config(path)
    assert config.data_dir == tmp_path / "state"
    assert config.rule_paths == [tmp_path / "my-rules"]
    assert config.tail[0]["paths"] == [str(tmp_path / "logs/*.log"), "/var/log/auth.log"]
    assert config.syslog[0]["cert"] == str(tmp_path / "pki/server.pem")


@pytest.mark.parametrize("inputs", [
    '[[inputs.syslog]]\nname = "s"\nprotocol = "quic"\n',
    '[[inputs.tail]]\nname = "t"\npaths = ["/tmp/x"]\ncolour = "red"\n',
    '[[inputs.syslog]]\nname = "s"\nprotocol = "tls"\nlisten = "127.0.0.1:0"\ncert = "c.pem"\nkey_env = "NOPE_KEY"\n',
    '[pipeline]\nbatch_events = "many"\n',
])
def test_serve_refuses_a_bad_configuration_in_one_line_before_starting(tmp_path: Path, inputs: str) -> None:
    path = tmp_path / "yamori.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[api]\nlisten = "127.0.0.1:0"\n{inputs}')
    result = subprocess.run([sys.executable, "-m", "yamori.cli.main", "serve", "--config", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("yamori serve: ") and "Traceback" not in result.stderr


def test_tls_settings_on_a_plain_tcp_input_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "yamori.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[api]\nlisten = "127.0.0.1:0"\n'
                    '[[inputs.syslog]]\nname = "s"\nprotocol = "tcp"\nlisten = "127.0.0.1:0"\ncert = "c.pem"\n')
    result = subprocess.run([sys.executable, "-m", "yamori.cli.main", "serve", "--config", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and 'need protocol = "tls"' in result.stderr
