"""A cluster on one machine: PostgreSQL + Redis, N web nodes, M workers, nginx with TLS in front.

Used by tests/live/test_scale_out.py and bench/cluster.py. Each node is a ``scripts.stack.Stack``
(web-only or worker-only) with its own DATA_DIR (so its own code directory: code another node stored is fetched from the
database, invocations/services/code.py) and port; they share DATABASE_URL,
CELERY_BROKER_URL, SECRET_KEY and a Celery queue of their own. nginx runs in the foreground with
``deploy/nginx/lambda-workbench.conf`` filled in (``render_proxy_config``), a test CA and a
certificate for localhost, 127.0.0.1, ::1 and ``*.lambda-url.<region>.localhost``.

PostgreSQL and Redis are the environment's when DATABASE_URL / CELERY_BROKER_URL name them (CI's
second run); otherwise they are started here on free ports (CI's first run, a laptop), so the
cluster always runs on the real parts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import ipaddress
import os
import secrets
import shutil
import socket
import ssl
import string
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from scripts.stack import ROOT, Stack, free_port, ipv6_available

REGION = "us-east-1"
FUNCTION_URL_DOMAIN = "localhost"
TEMPLATE = ROOT / "deploy" / "nginx" / "lambda-workbench.conf"
PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


class ClusterError(RuntimeError):
    pass


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ClusterError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.1)


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


# --- PostgreSQL and Redis ------------------------------------------------------------------------


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server on a free port; yields the URL of its ``workbench`` database."""
    import psycopg

    bin_dir = next((Path(d) for d in PG_BIN_DIRS if (Path(d) / "initdb").exists()), None)
    if bin_dir is None:
        raise ClusterError("PostgreSQL is not installed (apt-get install postgresql)")
    work = Path(tempfile.mkdtemp(prefix="lw-pg-"))
    work.chmod(0o755)
    data = work / "data"
    data.mkdir()
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root
        shutil.chown(data, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    try:
        subprocess.run([*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                        "-E", "UTF8"], check=True, capture_output=True)  # fmt: skip
        subprocess.run(
            [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w", "-o",
             f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={data} -c fsync=off "
             "-c synchronous_commit=off -c max_connections=300", "start"],
            check=True, capture_output=True,
        )  # fmt: skip
        with psycopg.connect(f"postgres://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE workbench")
        yield f"postgres://postgres@127.0.0.1:{port}/workbench"
    finally:
        subprocess.run([*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def redis() -> Iterator[str]:
    """A throw-away Redis on a free port (no persistence); yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ClusterError("Redis is not installed (apt-get install redis-server)")
    work = Path(tempfile.mkdtemp(prefix="lw-redis-"))
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(work)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(lambda: _answers("127.0.0.1", port), 10, "Redis")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def shared_services() -> Iterator[tuple[str, str]]:
    """(DATABASE_URL, CELERY_BROKER_URL): the environment's PostgreSQL (a fresh database on it) and
    Redis when it names them, otherwise servers started here."""
    from tests.live.conftest import fresh_database

    with contextlib.ExitStack() as stack:
        database = os.environ.get("DATABASE_URL", "")
        if database.startswith(("postgres://", "postgresql://")):
            database_url = stack.enter_context(fresh_database("lw_cluster"))
        else:
            database_url = stack.enter_context(postgres())
        broker = os.environ.get("CELERY_BROKER_URL", "")
        broker_url = broker if broker.startswith("redis://") else stack.enter_context(redis())
        assert database_url is not None
        yield database_url, broker_url


# --- TLS ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca_file: Path  # the test CA (clients verify against it)
    cert_file: Path  # the server's certificate
    key_file: Path


def make_certificates(directory: Path, *, region: str = REGION, domain: str = FUNCTION_URL_DOMAIN) -> Certificates:
    """A self-signed CA and a server certificate it signed, for localhost, 127.0.0.1, ::1 and the
    function URL wildcard ``*.lambda-url.<region>.<domain>``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lambda Workbench test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.DNSName(f"*.lambda-url.{region}.{domain}"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    result = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    result.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    result.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    result.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))  # fmt: skip
    result.key_file.chmod(0o600)
    return result


# --- nginx --------------------------------------------------------------------------------------


def render_proxy_config(
    *,
    web_nodes: list[str],
    port: int,
    certificates: Certificates,
    ipv6: bool,
    listen_v4: str = "127.0.0.1",
    listen_v6: str = "[::1]",
    server_name: str = "localhost",
    region: str = REGION,
    domain: str = FUNCTION_URL_DOMAIN,
    template: Path = TEMPLATE,
) -> str:
    """deploy/nginx/lambda-workbench.conf with its ``${LW_*}`` placeholders filled in (what envsubst
    does with the list of names); nginx's own ``$variables`` are left alone. Without IPv6 the IPv6
    listen line is dropped."""
    text = template.read_text()
    if not ipv6:
        text = "\n".join(line for line in text.splitlines() if "${LW_LISTEN_V6}" not in line) + "\n"
    values = {
        "LW_WEB_NODES": " ".join(f"server {node} max_fails=1 fail_timeout=2s;" for node in web_nodes),
        "LW_LISTEN_V4": listen_v4,
        "LW_LISTEN_V6": listen_v6,
        "LW_PORT": str(port),
        "LW_SERVER_NAME": server_name,
        "LW_REGION": region,
        "LW_FUNCTION_URL_DOMAIN": domain,
        "LW_TLS_CERT": str(certificates.cert_file),
        "LW_TLS_KEY": str(certificates.key_file),
    }
    rendered = string.Template(text).safe_substitute(values)
    left = [name for name in values if "${" + name + "}" in rendered]
    if left:
        raise ClusterError(f"placeholders left in the proxy config: {left}")
    return rendered


class Proxy:
    """nginx in the foreground (``daemon off``) with the rendered site config, in its own directory.
    Its access log records which web node (``$upstream_addr``) answered each request."""

    def __init__(self, directory: Path, site: str, port: int) -> None:
        self.directory = directory
        self.port = port
        self.binary = shutil.which("nginx") or "/usr/sbin/nginx"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "site.conf").write_text(site)
        d = directory
        user = "user root root;\n" if os.geteuid() == 0 else ""  # workers must reach these 0700 temp dirs
        (directory / "nginx.conf").write_text(
            f"{user}daemon off;\nworker_processes 2;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n"
            "events { worker_connections 4096; }\n"
            "http {\n"
            "    log_format upstream '$request_method $uri $host $status $upstream_addr $lw_function';\n"
            f"    access_log {d}/access.log upstream;\n"
            f"    client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;\n"
            f"    uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n"
            f"    include {d}/site.conf;\n"
            "}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self, *extra: str) -> list[str]:
        return [self.binary, "-p", str(self.directory), "-e", str(self.directory / "error.log"),
                "-c", str(self.directory / "nginx.conf"), *extra]  # fmt: skip

    def start(self) -> Proxy:
        if not Path(self.binary).exists():
            raise ClusterError("nginx is not installed (apt-get install nginx)")
        check = subprocess.run(self.command("-t"), capture_output=True, text=True)
        if check.returncode != 0:
            raise ClusterError(f"nginx -t failed:\n{check.stderr}")
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     process_group=0)  # fmt: skip
        _wait(lambda: _answers("127.0.0.1", self.port) or self.proc is None or self.proc.poll() is not None, 10, "nginx")
        if self.proc.poll() is not None:
            raise ClusterError(f"nginx exited: {(self.directory / 'error.log').read_text()[-2000:]}")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: fast shutdown
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
            self.proc = None

    def access_log(self) -> list[list[str]]:
        """One entry per request: [method, uri, host, status, upstream, function key]."""
        path = self.directory / "access.log"
        return [line.split(" ") for line in path.read_text().splitlines()] if path.exists() else []


def https_request(
    address: str, port: int, *, host: str, method: str = "GET", path: str = "/", body: bytes | None = None,
    headers: dict[str, str] | None = None, ca_file: Path, timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTPS request to ``address`` (IPv4 or IPv6 literal) for ``host`` (SNI, certificate check
    and Host header): how a client reaches a name that only the wildcard DNS would resolve."""
    context = ssl.create_default_context(cafile=str(ca_file))
    raw = socket.create_connection((address, port), timeout=timeout)
    tls = context.wrap_socket(raw, server_hostname=host)
    host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    conn = http.client.HTTPSConnection(host_header, context=context, timeout=timeout)
    conn.sock = tls
    try:
        conn.request(method, path, body=body, headers={"Host": host_header, **(headers or {})})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


# --- the cluster --------------------------------------------------------------------------------


@dataclass
class Cluster:
    webs: list[Stack]
    workers: list[Stack]
    proxy: Proxy
    certificates: Certificates
    database_url: str
    broker_url: str
    access_key_id: str = ""
    secret_access_key: str = ""
    username: str = ""
    password: str = ""
    ipv6: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def proxy_endpoint(self) -> str:
        return f"https://localhost:{self.proxy.port}"

    @property
    def proxy_endpoint_v6(self) -> str:
        return f"https://[::1]:{self.proxy.port}"

    def client(self, endpoint: str | None = None, *, read_timeout: float = 60) -> Any:
        """boto3 Lambda client; through the proxy (verifying the test CA) unless ``endpoint`` names a node."""
        endpoint = endpoint or self.proxy_endpoint
        return boto3.client(
            "lambda", endpoint_url=endpoint, region_name=REGION,
            aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key,
            verify=str(self.certificates.ca_file) if endpoint.startswith("https") else None,
            config=Config(retries={"max_attempts": 1}, read_timeout=read_timeout, connect_timeout=5,
                          max_pool_connections=64),
        )  # fmt: skip

    def worker_names(self) -> dict[str, Stack]:
        """``worker:<host>:<pid>`` (how records name a worker) → its stack."""
        return {f"worker:{socket.gethostname()}:{w.worker.pid}": w for w in self.workers if w.worker is not None}

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            return list(conn.execute(sql, params).fetchall())


@contextlib.contextmanager
def cluster(
    directory: Path, *, webs: int = 2, workers: int = 2, worker_concurrency: int = 8,
    env: dict[str, str] | None = None, start_timeout: float = 120,
) -> Iterator[Cluster]:
    """Start PostgreSQL + Redis (or use the environment's), ``webs`` web nodes, ``workers`` workers
    and nginx; stop them all afterwards."""
    ipv6 = ipv6_available()
    with shared_services() as (database_url, broker_url), contextlib.ExitStack() as stack:
        shared = {
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_DEFAULT_QUEUE": f"cluster-{uuid.uuid4().hex[:12]}",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "LAMBDA_RUNTIMES_DIR": os.environ.get("LAMBDA_RUNTIMES_DIR", str(ROOT / "var" / "runtimes")),
            "TRUST_PROXY_HEADERS": "1",
            "FUNCTION_URL_SCHEME": "https",
            "FUNCTION_URL_DOMAIN": FUNCTION_URL_DOMAIN,
            "LAMBDA_REGION": REGION,
            **(env or {}),
        }
        web_stacks = [
            Stack(directory / f"web{i + 1}", port=free_port(), env=shared, log_dir=directory / f"web{i + 1}" / "logs",
                  worker=False, shutdown_grace=3)
            for i in range(webs)
        ]  # fmt: skip
        worker_stacks = [
            Stack(directory / f"worker{i + 1}", port=free_port(), env=shared, worker_concurrency=worker_concurrency,
                  log_dir=directory / f"worker{i + 1}" / "logs", web=False, shutdown_grace=3)
            for i in range(workers)
        ]  # fmt: skip
        first = web_stacks[0]
        first.prepare()  # migrations once, on the shared database
        errors: list[BaseException] = []

        def start(node: Stack) -> None:
            try:
                if node.with_web:
                    node.data_dir.mkdir(parents=True, exist_ok=True)
                    if node is not first:
                        node.manage("collectstatic", "--noinput")
                node.start(timeout=start_timeout, prepare=False)
            except BaseException as error:  # reported below
                errors.append(error)

        for node in [*web_stacks, *worker_stacks]:
            stack.callback(node.stop)
        threads = [threading.Thread(target=start, args=(node,)) for node in [*web_stacks, *worker_stacks]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

        certificates = make_certificates(directory / "tls")
        port = free_port()
        site = render_proxy_config(web_nodes=[f"127.0.0.1:{w.port}" for w in web_stacks], port=port,
                                   certificates=certificates, ipv6=ipv6)  # fmt: skip
        proxy = Proxy(directory / "nginx", site, port).start()
        stack.callback(proxy.stop)
        created = dict(line.split("=", 1) for line in first.manage("bootstrapadmin", "--username", "ops").splitlines())
        yield Cluster(
            webs=web_stacks, workers=worker_stacks, proxy=proxy, certificates=certificates,
            database_url=database_url, broker_url=broker_url,
            access_key_id=created["AWS_ACCESS_KEY_ID"], secret_access_key=created["AWS_SECRET_ACCESS_KEY"],
            username=created["USERNAME"], password=created["PASSWORD"], ipv6=ipv6,
        )  # fmt: skip
