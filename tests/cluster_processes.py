"""Two livehelp processes in cluster mode behind nginx, all on free loopback ports:
a real redis-server, nx-27017 (MongoDB wire protocol) and Debian's nginx, configured
as docs/deployment.md says (the session id in a socket's path chooses its process)."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from pathlib import Path

import tornado.httpclient

from bench.common import LiveHelpProcess, free_port, stop_process, wait_for_port

NGINX_CONFIG = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    # Which process served each request, and the home cookie it carried (the tests read it).
    log_format upstream '$request_uri $cookie_lh_home $upstream_addr';
    access_log {dir}/access.log upstream;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
{body}
    server {{
        listen 127.0.0.1:{port};
        include {dir}/livehelp-locations.conf;
    }}
}}
"""


def deployment_snippet(name: str) -> str:
    """The nginx configuration docs/deployment.md gives, between its markers."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "deployment.md").read_text()
    found = re.search(rf"# begin {name}\n(.*?)# end {name}\n", text, re.DOTALL)
    assert found, f"docs/deployment.md has no '# begin {name}' block"
    return found.group(1)


class Nginx:
    def __init__(self, directory: Path, upstreams: list[int]) -> None:
        self.directory, self.port = directory, free_port()
        directory.mkdir(parents=True, exist_ok=True)
        servers = "".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;\n"
                          for port in upstreams)
        body = deployment_snippet("http").replace("    # the servers\n", servers)
        (directory / "livehelp-locations.conf").write_text(deployment_snippet("server"))
        (directory / "nginx.conf").write_text(
            NGINX_CONFIG.format(dir=directory, port=self.port, body=body))
        executable = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen(
            [executable, "-p", str(directory), "-c", str(directory / "nginx.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.process)

    def served(self) -> list[tuple[str, str, str]]:
        """(path, lh_home cookie or "-", upstream port) of every request so far."""
        rows = []
        for line in (self.directory / "access.log").read_text().splitlines():
            path, home, upstream = line.split(" ")
            rows.append((path, home, upstream.rpartition(":")[2]))
        return rows

    def stop(self) -> None:
        stop_process(self.process, signal.SIGQUIT)


def cluster_process(directory: Path, name: str, mongo_uri: str, database: str,
                    redis_url: str, cookie_secret: str,
                    more: dict | None = None) -> LiveHelpProcess:
    """One process of the cluster: every process has the same cookie secret. `more`:
    further top-level config sections (e.g. `twilio`)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cookie_secret").write_text(cookie_secret)
    return LiveHelpProcess(directory, {
        "database": {"type": "mongodb", "mongodb uri": mongo_uri, "name": database},
        "cluster": {"redis url": redis_url, "process name": name,
                    "heartbeat seconds": 0.2, "dead after seconds": 1.0},
        **(more or {}),
    }).start()


async def metrics(port: int) -> dict[str, float]:
    """The figures of one process's /metrics, by name (labels kept in the name)."""
    response = await tornado.httpclient.AsyncHTTPClient().fetch(
        f"http://127.0.0.1:{port}/metrics")
    figures = {}
    for line in response.body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            figures[name] = float(value)
    return figures
