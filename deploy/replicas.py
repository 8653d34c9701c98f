"""Serve the app as several Streamlit replicas behind one nginx with session affinity (deploy/nginx.conf).

    python -m deploy.replicas --replicas 4 --address 0.0.0.0 --port 8501

starts 4 replicas of ``streamlit run app.py`` on 127.0.0.1 (ports 8601, 8602, ... unless ``--replica-ports``),
waits until each answers ``/_stcore/health``, renders deploy/nginx.conf into a run folder and runs nginx in
the foreground as the current user. Ctrl-C (or SIGTERM) stops nginx and every replica, by PID. Arguments after
``--`` go to every ``streamlit run`` (``-- --server.maxUploadSize 50``); MASKATTN_* variables are passed on.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("nginx.conf")
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def render_config(listen: str, replica_ports: Sequence[int], run_dir: Path) -> str:
    """Return deploy/nginx.conf filled in: nginx on ``listen``, spreading browsers over the replicas."""
    if not replica_ports:
        raise ValueError("render_config needs at least one replica port, got none")
    servers = "\n".join(f"        server 127.0.0.1:{port};" for port in replica_ports)
    text = TEMPLATE.read_text()
    for name, value in {
        "@USER@": getpass.getuser(),
        "@RUN_DIR@": str(run_dir),
        "@UPSTREAM_SERVERS@": servers,
        "@LISTEN@": listen,
    }.items():
        text = text.replace(name, value)
    return text


def replica_command(script: Path, port: int, streamlit_args: Sequence[str] = ()) -> list[str]:
    """Return the command line of one replica: ``streamlit run`` on 127.0.0.1, reachable only via nginx."""
    return [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
        "--browser.gatherUsageStats", "false", *streamlit_args,
    ]  # fmt: skip


def nginx_command(nginx: str, run_dir: Path) -> list[str]:
    """Return the command line running nginx in the foreground on the rendered config in ``run_dir``."""
    return [nginx, "-p", str(run_dir), "-e", str(run_dir / "error.log"), "-c", str(run_dir / "nginx.conf"),
            "-g", "daemon off;"]  # fmt: skip


def wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    """Return once ``url``/_stcore/health answers 200; RuntimeError if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
            raise RuntimeError(f"{process.args[0]} exited with code {process.returncode}; {log}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)  # polling a server that is starting: there is no event to wait on
    raise RuntimeError(f"{url} not healthy after {timeout_s:.0f} s; log: {log}")


def stop(process: subprocess.Popen, timeout_s: float = 10) -> None:
    """Stop a process we started, by its PID: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout_s)


@dataclass
class Deployment:
    """The running replicas and nginx of one ``python -m deploy.replicas``, and the folder with their logs."""

    run_dir: Path
    replicas: dict[int, subprocess.Popen] = field(default_factory=dict)  # port -> process
    nginx: subprocess.Popen | None = None

    def named(self) -> dict[str, subprocess.Popen]:
        """Return every process started so far by a name for messages: nginx first, then each replica."""
        named = {"nginx": self.nginx} if self.nginx is not None else {}
        return named | {f"replica on port {port}": process for port, process in self.replicas.items()}

    def stop(self) -> None:
        """Stop nginx first (no new requests reach a stopping replica), then every replica."""
        for process in self.named().values():
            stop(process)


def start(
    script: Path,
    listen_address: str,
    listen_port: int,
    replica_ports: Sequence[int],
    run_dir: Path,
    streamlit_args: Sequence[str] = (),
    timeout_s: float = 120,
) -> Deployment:
    """Return a Deployment once every replica and then nginx answer ``/_stcore/health`` (else stop all)."""
    nginx = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/sbin/nginx") if Path(path).exists()), None
    )
    if nginx is None:
        raise RuntimeError("nginx not found: install Debian's nginx (apt-get install -y nginx)")
    if len(set(replica_ports)) != len(replica_ports) or listen_port in replica_ports:
        raise ValueError(f"replica ports {list(replica_ports)} and nginx's {listen_port} must all differ")
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in TEMP_DIRS:
        (run_dir / "temp" / name).mkdir(parents=True, exist_ok=True)
    # One cookie secret for all: a browser that fails over to another replica keeps valid signed cookies.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "STREAMLIT_SERVER_COOKIE_SECRET": os.environ.get("STREAMLIT_SERVER_COOKIE_SECRET")
        or secrets.token_hex(32),
    }
    deployment = Deployment(run_dir)
    try:
        for port in replica_ports:
            log_path = run_dir / f"replica-{port}.log"
            with log_path.open("w") as log:
                deployment.replicas[port] = subprocess.Popen(
                    replica_command(script, port, streamlit_args),
                    cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
            (run_dir / f"replica-{port}.pid").write_text(f"{deployment.replicas[port].pid}\n")
        for port, process in deployment.replicas.items():
            wait_healthy(f"http://127.0.0.1:{port}", process, run_dir / f"replica-{port}.log", timeout_s)
        (run_dir / "nginx.conf").write_text(
            render_config(f"{listen_address}:{listen_port}", replica_ports, run_dir)
        )
        with (run_dir / "nginx.out").open("w") as out:
            deployment.nginx = subprocess.Popen(
                nginx_command(nginx, run_dir), stdout=out, stderr=subprocess.STDOUT
            )
        host = "127.0.0.1" if listen_address in ("0.0.0.0", "") else listen_address
        wait_healthy(f"http://{host}:{listen_port}", deployment.nginx, run_dir / "error.log", timeout_s)
    except BaseException:
        deployment.stop()
        raise
    return deployment


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Return the command line's options, ``ports`` (the replicas') resolved; exit with a message if bad."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.replicas", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--replicas", type=int, default=2, help="how many Streamlit processes (default 2)")
    parser.add_argument("--address", default="127.0.0.1", help="where nginx listens (0.0.0.0: every address)")
    parser.add_argument("--port", type=int, default=8501, help="nginx's port (default 8501)")
    parser.add_argument(
        "--replica-ports",
        help="comma-separated ports of the replicas on 127.0.0.1 (default port+100, +101, ...)",
    )
    parser.add_argument(
        "--run-dir", type=Path, help="folder for config, logs and pid files (default: a new temp dir)"
    )
    parser.add_argument("--script", type=Path, default=REPO_ROOT / "app.py", help="the app (default app.py)")
    parser.add_argument("streamlit_args", nargs="*", help="after --: more arguments of every `streamlit run`")
    args = parser.parse_args(argv)
    if args.replica_ports:
        try:
            args.ports = [int(port) for port in args.replica_ports.split(",")]
        except ValueError:
            parser.error(f"--replica-ports wants comma-separated port numbers, got {args.replica_ports!r}")
    elif args.replicas < 1:
        parser.error(f"--replicas must be at least 1, got {args.replicas}")
    else:
        args.ports = [args.port + 100 + i for i in range(args.replicas)]
    if len(set(args.ports)) != len(args.ports) or args.port in args.ports:
        parser.error(f"the replicas' ports {args.ports} and nginx's {args.port} must all differ")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run_dir = (args.run_dir or Path(tempfile.mkdtemp(prefix="maskattn-replicas-"))).resolve()
    # SIGTERM ends the program like Ctrl-C, so the finally below stops everything we started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        deployment = start(
            args.script.resolve(), args.address, args.port, args.ports, run_dir, args.streamlit_args
        )
    except RuntimeError as error:  # start stopped what it had started
        print(f"not started: {error}", file=sys.stderr)
        return 1
    try:
        print(
            f"serving at http://{args.address}:{args.port} from {len(args.ports)} replicas on 127.0.0.1:"
            f"{','.join(map(str, args.ports))}; logs in {run_dir}",
            flush=True,
        )
        while all(process.poll() is None for process in deployment.named().values()):
            time.sleep(1)  # a supervisor's poll: a child that dies ends the deployment
        dead = [name for name, process in deployment.named().items() if process.poll() is not None]
        print(f"stopping: {', '.join(dead)} exited; logs in {run_dir}", file=sys.stderr, flush=True)
        return 1
    finally:
        deployment.stop()


if __name__ == "__main__":
    sys.exit(main())
