"""The shipped nginx config and the replicas launcher's command line (deploy/), without starting servers."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy.replicas import TEMP_DIRS, nginx_command, parse_args, render_config

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def test_the_rendered_config_lists_every_replica_and_nginx_accepts_it(tmp_path: Path):
    text = render_config("127.0.0.1:18501", [18601, 18602, 18603], tmp_path)
    assert not re.findall(r"@[A-Z_]+@", text.split("worker_processes")[1]), (
        "a template name was left unfilled"
    )
    for port in (18601, 18602, 18603):
        assert f"server 127.0.0.1:{port};" in text
    assert "listen 127.0.0.1:18501;" in text
    assert "hash $replica_key consistent;" in text and "ip_hash" not in text.split("http {")[1]
    if not Path(NGINX).exists():
        pytest.fail("nginx not found: apt-get install -y nginx (.ci/run installs it)", pytrace=False)
    for name in TEMP_DIRS:
        (tmp_path / "temp" / name).mkdir(parents=True)
    (tmp_path / "nginx.conf").write_text(text)
    command = nginx_command(NGINX, tmp_path)
    checked = subprocess.run([*command[:-2], "-t"], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr


def test_render_config_wants_a_replica():
    with pytest.raises(ValueError, match="at least one replica"):
        render_config("127.0.0.1:8501", [], Path("/tmp"))


def test_the_command_line_numbers_replicas_after_the_proxy_and_passes_streamlit_arguments_on():
    args = parse_args(["--replicas", "3", "--port", "9000", "--", "--server.maxUploadSize", "50"])
    assert args.ports == [9100, 9101, 9102]
    assert args.streamlit_args == ["--server.maxUploadSize", "50"]
    assert parse_args(["--replica-ports", "7001,7002"]).ports == [7001, 7002]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--replica-ports", "7001,x"], "comma-separated port numbers"),
        (["--replicas", "0"], "at least 1"),
        (["--replica-ports", "8501,8502"], "must all differ"),
        (["--replica-ports", "7001,7001"], "must all differ"),
    ],
)
def test_a_bad_command_line_says_what_is_wrong(argv, message, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert message in capsys.readouterr().err
