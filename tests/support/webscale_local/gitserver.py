"""A git server on loopback: `git http-backend` (smart HTTP, read-only here) behind a tiny HTTP server.

    with GitServer(tmp_path) as git:
        repo = git.create("fleet")           # a bare repository and a work tree to commit in
        repo.write("apps/shop.yaml", text)
        repo.commit("add shop")              # committed and pushed to the bare repository
        git.url("fleet")                     # http://127.0.0.1:<port>/fleet.git, what Flux clones

Clients (Flux's source-controller, go-git) fetch over HTTP; the test writes with the git CLI on the
work tree and pushes to the bare repository on disk. Only 127.0.0.1; stopped on exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

GIT = shutil.which("git") or "git"
IDENTITY = {
    "GIT_AUTHOR_NAME": "webscale tests",
    "GIT_AUTHOR_EMAIL": "tests@webscale.invalid",
    "GIT_COMMITTER_NAME": "webscale tests",
    "GIT_COMMITTER_EMAIL": "tests@webscale.invalid",
}


def git(*args: str, cwd: Path) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), **IDENTITY}
    proc = subprocess.run([GIT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


@dataclass
class Repo:
    """A work tree whose commits are pushed to a bare repository the server serves."""

    work: Path
    bare: Path

    def write(self, path: str, text: str) -> None:
        target = self.work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def remove(self, path: str) -> None:
        git("rm", "-q", "-r", path, cwd=self.work)

    def commit(self, message: str) -> str:
        """Commit everything and push it; returns the commit's SHA."""
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", message, cwd=self.work)
        git("push", "-q", str(self.bare), "HEAD:main", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._backend()

    def do_POST(self) -> None:
        self._backend()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _backend(self) -> None:
        url = urlsplit(self.path)
        body = self._body() if self.command == "POST" else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        proc = subprocess.run([GIT, "http-backend"], input=body, env=env, capture_output=True, timeout=60)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.server.requests.append(f"{self.command} {url.path}")

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class GitServer:
    """Bare repositories under `workdir/git`, served on 127.0.0.1 while the context is open."""

    def __init__(self, workdir: Path) -> None:
        self.root = Path(workdir) / "git"
        self.root.mkdir(parents=True, exist_ok=True)
        self.server = _Server(self.root)
        self.thread = threading.Thread(target=self.server.serve_forever, name="git-http", daemon=True)

    def __enter__(self) -> GitServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}.git"

    def create(self, name: str) -> Repo:
        bare = self.root / f"{name}.git"
        git("init", "-q", "--bare", "-b", "main", str(bare), cwd=self.root)
        work = self.root.parent / f"{name}-work"
        work.mkdir()
        git("init", "-q", "-b", "main", cwd=work)
        return Repo(work=work, bare=bare)
