#!/usr/bin/env python3
"""Multi-replica proof for Ferry on PostgreSQL: the scenarios behind scripts/replicas/run.sh (Python stdlib only).

  scenario.py --binary FERRY --work DIR [--scenarios ABCD] [--shared-data-dir]

It starts a throwaway PostgreSQL (or a fresh database in FERRY_TEST_DATABASE_URL), three `ferry serve` replicas on
it (each with its own --data-dir) and nginx in front of them, then runs:

  A  propagation: an alias move, an endpoint change and a key revocation made through one replica are in force on
     the other two (asked directly, not through nginx), polled every 50 ms: the time is reported against the 1 s
     target, and the scenario fails only if a change never arrives;
  B  canary on summed traffic: a canary to a bad candidate (same artifact, runtime option iterations=1, so its
     outputs shift) under load through nginx rolls back exactly once, on the output PSI gate, and the gate's
     candidate request count is larger than what any single replica had served at the time of the decision (the
     leader judged the sum of every replica's observations) and no larger than all replicas served together;
  C  leader SIGKILL mid-canary: a canary to a good candidate (10 -> 50 -> 100 %, bake 3 s); the leader (from
     GET /api/v1/cluster) is SIGKILLed after the first step advanced; another replica reports leader (the time is
     reported against the 5 s target),
     the rollout ends promoted, and its events walk 10 -> 50 -> 100 once each;
  D  SIGKILL under load: clients register versions, move aliases, predict and send feedback through nginx and
     directly; a non-leader replica is SIGKILLed mid-load; every acknowledged write is then read back through every
     surviving replica, and the audit chain verifies (API and `ferry audit verify`). The load and the checks are
     crash.py's (scripts/robustness/crash.py, single-server SIGKILL), shared through scripts/robustness/ledger.py.

The module is also imported by benchmarks/replicas/bench.py for its PostgreSQL, nginx and replica helpers.
"""
import argparse
import base64
import glob
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
# Scenario D's load and checks are crash.py's, shared through scripts/robustness/ledger.py.
sys.path.insert(0, os.path.join(ROOT, "scripts", "robustness"))
from ledger import (NO_ANSWER, TIMEOUT, Client as LedgerClient, LedgerCheck, LedgerLoad,  # noqa: E402
                    artifact_bytes, new_ledger)

EXAMPLE = os.path.join(ROOT, "examples", "fraud")
PORT_RANGE = (18000, 18999)
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
IS_ROOT = os.geteuid() == 0
# The issue's bounds (1 s propagation, 5 s takeover) are measured and reported; a scenario fails only when what it
# waits for never happens within this long (CI proofs do not assert on timing).
NEVER_SECONDS = 30.0


def log(message):
    print(f"[replicas] {message}", flush=True)


class SetupError(Exception):
    """The environment cannot run the scenarios (missing PostgreSQL or nginx, a server that does not start)."""


class Failure(Exception):
    """A scenario's assertion failed."""


# ------------------------------------------------------------------------------------------------ ports, processes

_ports_taken = set()
_ports_lock = threading.Lock()


def free_port():
    """A free TCP port on 127.0.0.1 in PORT_RANGE, never the same twice in one run."""
    candidates = list(range(PORT_RANGE[0], PORT_RANGE[1] + 1))
    random.shuffle(candidates)
    with _ports_lock:
        for port in candidates:
            if port in _ports_taken:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _ports_taken.add(port)
            return port
    raise SetupError(f"no free port in {PORT_RANGE[0]}-{PORT_RANGE[1]}")


def record_pid(work, kind, pid):
    """Appends 'kind pid' to WORK/pids so run.sh can kill what is left if this process dies without cleaning up."""
    with open(os.path.join(work, "pids"), "a") as f:
        f.write(f"{kind} {pid}\n")


def tail(path, lines=30, since=0):
    """The last `lines` lines of a file, from byte offset `since` on."""
    try:
        with open(path, "rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
    except OSError as error:
        return f"(cannot read {path}: {error})"
    return "\n".join(text.splitlines()[-lines:])


def wait_for(predicate, timeout, interval=0.05):
    """Calls predicate until it returns something truthy (returned) or `timeout` seconds pass (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


# ------------------------------------------------------------------------------------------------ HTTP

class Client(LedgerClient):
    """One server (a replica or nginx) with the admin key; every call opens a new connection (urllib)."""

    def ok(self, method, path, body=None, content_type="application/json", expect=(200, 201)):
        """The parsed answer of a call that must succeed; Failure naming the call otherwise."""
        try:
            status, answer, _ = self.call(method, path, body, content_type)
        except NO_ANSWER as error:
            raise Failure(f"{method} {path} on {self.name}: no answer ({error!r})")
        if status not in expect:
            raise Failure(f"{method} {path} on {self.name} answered {status}: {str(answer)[:400]}")
        return answer

    def get(self, path):
        return self.ok("GET", path)


class Connection:
    """A persistent HTTP/1.1 connection for load threads; reconnects after an error."""

    def __init__(self, base, key):
        parsed = urllib.parse.urlsplit(base)
        self.host, self.port = parsed.hostname, parsed.port
        self.key = key
        self.conn = None

    def request(self, method, path, body=None, timeout=TIMEOUT, content_type="application/json"):
        """(status, raw body bytes, headers dict lower-cased). Raises NO_ANSWER errors."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        headers = {"Authorization": "Bearer " + self.key}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
            if answer_headers.get("connection", "").lower() == "close":
                self.close()
            return response.status, raw, answer_headers
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None


# ------------------------------------------------------------------------------------------------ PostgreSQL

def pg_bin_dir():
    """The bin folder of the highest PostgreSQL version under /usr/lib/postgresql; SetupError naming the package."""
    found = []
    for path in glob.glob("/usr/lib/postgresql/*/bin"):
        version = os.path.basename(os.path.dirname(path))
        if all(os.access(os.path.join(path, tool), os.X_OK) for tool in ("initdb", "postgres", "pg_ctl", "psql")):
            try:
                found.append((tuple(int(part) for part in version.split(".")), path))
            except ValueError:
                continue
    if not found:
        raise SetupError("PostgreSQL server binaries (initdb, postgres, pg_ctl, psql) were not found in "
                         "/usr/lib/postgresql/*/bin: install them (Debian: apt-get install -y postgresql), or set "
                         "FERRY_TEST_DATABASE_URL to a PostgreSQL the scenario may create a database in")
    return max(found)[1]


def psql_binary():
    try:
        return os.path.join(pg_bin_dir(), "psql")
    except SetupError:
        found = shutil.which("psql")
        if not found:
            raise SetupError("psql was not found (needed with FERRY_TEST_DATABASE_URL): install postgresql-client")
        return found


class Postgres:
    """A throwaway PostgreSQL in WORK/pg (pg_ctl; as root the folder belongs to postgres and runuser runs the
    tools), or, with FERRY_TEST_DATABASE_URL, a fresh database created in that server and dropped at the end."""

    def __init__(self, work, settings=None):
        self.work = work
        self.dir = os.path.join(work, "pg")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.settings = {"max_connections": "300", "fsync": "off", "synchronous_commit": "on"}
        self.settings.update(settings or {})
        self.external = os.environ.get("FERRY_TEST_DATABASE_URL") or None
        self.database = None
        self.url = None
        self.started = False
        self.bin = None

    def _as_postgres(self, command):
        return (["runuser", "-u", "postgres", "--"] + command) if IS_ROOT else command

    def start(self):
        if self.external:
            return self._create_database()
        self.bin = pg_bin_dir()
        version = os.path.basename(os.path.dirname(self.bin))
        os.makedirs(self.dir, exist_ok=True)
        if IS_ROOT:
            if not shutil.which("runuser"):
                raise SetupError("running as root needs runuser (util-linux) to start PostgreSQL as user postgres")
            try:
                import pwd
                pwd.getpwnam("postgres")
            except KeyError:
                raise SetupError("running as root needs a 'postgres' user (created by the Debian postgresql package)")
            # postgres must reach its folder: the work folder is made traversable, the pg folder its own.
            os.chmod(self.work, 0o755)
            subprocess.run(["chown", "postgres:postgres", self.dir], check=True)
        self.port = free_port()
        initdb = subprocess.run(
            self._as_postgres([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres", "-A", "trust",
                               "-E", "UTF8", "--no-locale", "--no-sync"]),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if initdb.returncode != 0:
            raise SetupError(f"initdb (PostgreSQL {version}) failed:\n{initdb.stdout[-2000:]}")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 " + " ".join(
            f"-c {k}={v}" for k, v in self.settings.items())
        started = subprocess.run(
            self._as_postgres([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log_path, "-o", options,
                               "-w", "-t", "60", "start"]),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.started = True
        if started.returncode != 0:
            raise SetupError(f"pg_ctl start failed:\n{started.stdout[-2000:]}\n--- {self.log_path}\n{tail(self.log_path)}")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres?sslmode=disable"
        log(f"PostgreSQL {version} on 127.0.0.1:{self.port} ({self.data})")
        return self.url

    def _create_database(self):
        self.bin = os.path.dirname(psql_binary())
        self.database = f"ferry_replicas_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.psql(f'CREATE DATABASE "{self.database}"', url=self.external)
        parts = urllib.parse.urlsplit(self.external)
        self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + self.database, parts.query, ""))
        log(f"using FERRY_TEST_DATABASE_URL: created database {self.database}")
        return self.url

    def psql(self, sql, url=None):
        """Runs one statement with psql and returns its unaligned, tuples-only output."""
        target = url or self.url
        # psql does not take sslmode from a postgres:// URL it does not know; libpq does, so the URL goes as is.
        run = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                              "-d", target, "-c", sql], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if run.returncode != 0:
            raise Failure(f"psql failed on {sql[:80]!r}: {run.stderr.strip()[:500]}")
        return run.stdout

    def stop(self, keep=False):
        if self.external:
            if self.database and not keep:
                try:
                    self.psql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)', url=self.external)
                except Failure as error:
                    log(f"could not drop database {self.database}: {error}")
            return
        if self.started and os.path.exists(os.path.join(self.data, "postmaster.pid")):
            subprocess.run(self._as_postgres([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate",
                                              "-w", "stop"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.started = False


# ------------------------------------------------------------------------------------------------ nginx

class Nginx:
    """nginx in the foreground (daemon off, master process on) with a generated config in WORK/nginx: one upstream
    over the replicas with keepalive, failing over on error, timeout, 502 and 503; every path inside the folder so
    it runs as root or not. Answers carry X-Ferry-Upstream (the replica that answered)."""

    def __init__(self, work, upstream_ports, workers="auto", name="nginx"):
        if not os.access(NGINX, os.X_OK):
            raise SetupError(f"nginx was not found at {NGINX}: install the Debian package nginx "
                             "(apt-get install -y nginx), or set NGINX to its path")
        self.prefix = os.path.join(work, name)
        self.upstream_ports = list(upstream_ports)
        self.workers = workers
        self.port = free_port()
        self.process = None
        self.work = work
        self.error_log = os.path.join(self.prefix, "error.log")
        self.url = f"http://127.0.0.1:{self.port}"

    def config(self):
        p = self.prefix
        servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=1s;" for port in self.upstream_ports)
        return f"""# generated by scripts/replicas/scenario.py
daemon off;
master_process on;
{"user root root;" if IS_ROOT else "# not root: no user directive"}
worker_processes {self.workers};
worker_rlimit_nofile 16384;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {p}/tmp/client_body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    client_max_body_size 600m;
    client_body_buffer_size 1m;
    upstream ferry {{
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        location / {{
            proxy_pass http://ferry;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 3;
            proxy_next_upstream_timeout 10s;
            proxy_connect_timeout 1s;
            proxy_send_timeout 60s;
            proxy_read_timeout 60s;
            add_header X-Ferry-Upstream $upstream_addr always;
        }}
    }}
}}
"""

    def start(self, ready_path="/v2/health/ready", timeout=15):
        os.makedirs(os.path.join(self.prefix, "tmp"), exist_ok=True)
        conf = os.path.join(self.prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(self.config())
        check = subprocess.run([NGINX, "-t", "-q", "-p", self.prefix + "/", "-c", conf, "-e", self.error_log],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if check.returncode != 0:
            raise SetupError(f"nginx -t rejects {conf}:\n{check.stdout}")
        out = open(os.path.join(self.prefix, "stdout.log"), "ab")
        self.process = subprocess.Popen([NGINX, "-p", self.prefix + "/", "-c", conf, "-e", self.error_log],
                                        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        record_pid(self.work, "nginx", self.process.pid)

        def ready():
            if self.process.poll() is not None:
                raise SetupError(f"nginx exited with status {self.process.returncode}:\n{tail(self.error_log)}")
            try:
                with urllib.request.urlopen(self.url + ready_path, timeout=2) as r:
                    return r.status == 200
            except (urllib.error.URLError, OSError, http.client.HTTPException):
                return False

        if not wait_for(ready, timeout, 0.1):
            raise SetupError(f"nginx on {self.url} did not answer {ready_path} within {timeout} s:\n{tail(self.error_log)}")
        log(f"nginx on {self.url} -> {', '.join(str(p) for p in self.upstream_ports)}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)   # fast shutdown of the master and its workers
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ------------------------------------------------------------------------------------------------ replicas

_help_cache = {}


def serve_supports(binary, flag):
    """Whether `ferry serve --help` lists `flag` (--replica-id is optional in the contract)."""
    if binary not in _help_cache:
        run = subprocess.run([binary, "serve", "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        _help_cache[binary] = run.stdout
    return flag in _help_cache[binary]


class Replica:
    """One `ferry serve` process in its own session, logging to WORK/NAME.log."""

    def __init__(self, name, binary, work, data_dir, database_url, admin_key, port=None, extra=()):
        self.name = name
        self.binary = binary
        self.work = work
        self.data_dir = data_dir
        self.database_url = database_url
        self.admin_key = admin_key
        self.port = port or free_port()
        self.extra = list(extra)
        self.log_path = os.path.join(work, f"{name}.log")
        self.process = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = Client(self.url, admin_key, name)
        self.killed = False

    def command(self):
        command = [self.binary, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--grpc-port", "0", "--data-dir", self.data_dir]
        if self.database_url:
            command += ["--database-url", self.database_url]
        if self.database_url and serve_supports(self.binary, "--replica-id"):
            command += ["--replica-id", self.name]
        return command + self.extra

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        env = dict(os.environ, FERRY_ADMIN_KEY=self.admin_key)
        env.pop("FERRY_DATABASE_URL", None)
        out = open(self.log_path, "ab")
        out.write(f"\n=== {time.strftime('%H:%M:%S')} start: {' '.join(self.command())}\n".encode())
        out.flush()
        self.process = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=env, cwd=ROOT, start_new_session=True)
        self.killed = False
        record_pid(self.work, self.name, self.process.pid)
        self.started_at = time.monotonic()

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout=60):
        def ready():
            if not self.alive():
                raise SetupError(f"{self.name} exited with status {self.process.returncode} before it was ready:\n"
                                 f"{tail(self.log_path, 40)}")
            try:
                with urllib.request.urlopen(self.url + "/v2/health/ready", timeout=2) as r:
                    return r.status == 200
            except (urllib.error.URLError, OSError, http.client.HTTPException):
                return False

        if not wait_for(ready, timeout, 0.1):
            raise SetupError(f"{self.name} not ready on {self.url} after {timeout} s:\n{tail(self.log_path, 40)}")
        log(f"{self.name} ready on {self.url} in {time.monotonic() - self.started_at:.1f} s (data {self.data_dir})")

    def sigkill(self):
        os.kill(self.process.pid, signal.SIGKILL)
        self.killed = True
        self.process.wait()

    def stop(self, timeout=10):
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log(f"{self.name} did not stop on SIGTERM within {timeout} s; SIGKILL")
            self.process.kill()
            self.process.wait()

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def get(self, path):
        return self.client.get(path)

    # --- what the contract adds

    def cluster(self):
        """GET /api/v1/cluster: the parsed answer, None when the route does not exist (404/405), Failure otherwise."""
        try:
            status, answer, _ = self.client.call("GET", "/api/v1/cluster", timeout=3)
        except NO_ANSWER:
            return None
        if status in (404, 405):
            return None
        if status != 200 or not isinstance(answer, dict):
            raise Failure(f"GET /api/v1/cluster on {self.name} answered {status}: {str(answer)[:300]}")
        return answer

    def metrics(self):
        """{(name, frozenset(labels)): value} from /metrics."""
        status, text, _ = self.client.call("GET", "/metrics", timeout=5)
        if status != 200:
            raise Failure(f"GET /metrics on {self.name} answered {status}")
        return parse_metrics(text if isinstance(text, str) else json.dumps(text))


METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = METRIC_LINE.match(line.strip())
        if not m:
            continue
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        try:
            out[(m.group(1), labels)] = float(m.group(3))
        except ValueError:
            pass
    return out


def metric(metrics, name, **labels):
    want = set(labels.items())
    return sum(v for (n, l), v in metrics.items() if n == name and want <= set(l))


# ------------------------------------------------------------------------------------------------ payloads

def random_row(rng):
    """One transaction drawn like examples/fraud/train.py draws them (so outputs vary like real traffic)."""
    avg = rng.lognormvariate(3.6, 0.6)
    amount = avg * rng.lognormvariate(0.0, 0.8)
    hour = float(rng.randrange(24))
    tx24 = float(poisson(rng, 3.0))
    return [amount, (amount - avg) / (avg * 0.9 + 1.0), hour, 1.0 if hour >= 23 or hour < 6 else 0.0,
            rng.betavariate(1.5, 8.0), 1.0 if rng.random() < 0.06 else 0.0, float(int(rng.expovariate(1 / 500.0))),
            min(float(poisson(rng, 0.4)), tx24), tx24, avg, rng.lognormvariate(2.0, 1.4),
            1.0 if rng.random() < 0.08 else 0.0]


def poisson(rng, lam):
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def infer_bodies(count=2000, seed=7):
    rng = random.Random(seed)
    return [json.dumps({"inputs": [{"name": "input", "shape": [1, 12], "datatype": "FP32",
                                    "data": [round(x, 5) for x in random_row(rng)]}]}).encode() for _ in range(count)]


# ------------------------------------------------------------------------------------------------ load

class InferenceLoad:
    """Paced inference through one base URL (nginx) from a few threads, each on its own keep-alive connection.
    Every answer is recorded: wall time, status, the version that served it and the replica nginx sent it to."""

    def __init__(self, base, key, path, threads=4, rps=200.0, bodies=None):
        self.base, self.key, self.path = base, key, path
        self.threads_n, self.rps = threads, rps
        self.bodies = bodies or infer_bodies()
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.records = []   # (wall time at the answer, status or None, served_by or None, upstream port or None)
        self.threads = []

    def _run(self, index):
        conn = Connection(self.base, self.key)
        rng = random.Random(index)
        interval = self.threads_n / self.rps
        next_at = time.monotonic() + rng.random() * interval
        while not self.stop_event.is_set():
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at = max(next_at + interval, time.monotonic() - 0.1)
            body = self.bodies[rng.randrange(len(self.bodies))]
            try:
                status, raw, headers = conn.request("POST", self.path, body)
            except NO_ANSWER:
                with self.lock:
                    self.records.append((time.time(), None, None, None))
                time.sleep(0.05)
                continue
            served = headers.get("ferry-served-by")
            if served is None and status == 200:
                try:
                    served = json.loads(raw).get("parameters", {}).get("served_by")
                except ValueError:
                    pass
            upstream = headers.get("x-ferry-upstream", "").split(",")[-1].strip()
            port = int(upstream.rsplit(":", 1)[1]) if ":" in upstream else None
            with self.lock:
                self.records.append((time.time(), status, served, port))
        conn.close()

    def start(self):
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.threads_n)]
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(TIMEOUT + 5)

    def snapshot(self):
        with self.lock:
            return list(self.records)

    def summary(self):
        records = self.snapshot()
        by_version, errors = {}, 0
        for _, status, served, _ in records:
            if status == 200:
                by_version[served] = by_version.get(served, 0) + 1
            else:
                errors += 1
        return len(records), by_version, errors


# ------------------------------------------------------------------------------------------------ the run

class Run:
    def __init__(self, args):
        self.args = args
        self.work = os.path.abspath(args.work)
        self.binary = os.path.abspath(args.binary)
        self.admin_key = os.environ.get("FERRY_ADMIN_KEY") or ("fry_replicas_" + base64.urlsafe_b64encode(os.urandom(24)).decode().rstrip("="))
        self.pg = None
        self.nginx = None
        self.replicas = []
        self.results = []   # (letter, title, status, detail)
        self.nonce = int(time.time() * 1000) % (1 << 30)
        self.nonce_lock = threading.Lock()

    def next_nonce(self):
        with self.nonce_lock:
            self.nonce += 1
            return self.nonce

    # --- setup

    def setup(self):
        # Both prerequisites are checked before anything starts, so a missing one is named at once.
        if not os.access(NGINX, os.X_OK):
            raise SetupError(f"nginx was not found at {NGINX}: install the Debian package nginx (apt-get install -y nginx)")
        if not os.environ.get("FERRY_TEST_DATABASE_URL"):
            pg_bin_dir()
        if not os.access(self.binary, os.X_OK):
            raise SetupError(f"ferry binary not executable: {self.binary}")
        self.pg = Postgres(self.work)
        url = self.pg.start()
        common = ["--rollout-interval", "0.5", "--log-level", "info"]
        shared = os.path.join(self.work, "data-shared")
        for i in range(3):
            name = f"replica{i + 1}"
            data_dir = shared if self.args.shared_data_dir else os.path.join(self.work, f"data-{name}")
            extra = common + (["--example", EXAMPLE] if i == 0 else [])
            self.replicas.append(Replica(name, self.binary, self.work, data_dir, url, self.admin_key, extra=extra))
        if self.args.shared_data_dir:
            log("SHARED_DATA_DIR=1: the replicas share one --data-dir (artifacts on disk, not from PostgreSQL)")
        # The first replica migrates the schema and registers the example; the others start together after it.
        self.replicas[0].start()
        self.replicas[0].wait_ready()
        for r in self.replicas[1:]:
            r.start()
        for r in self.replicas[1:]:
            r.wait_ready()
        self.nginx = Nginx(self.work, [r.port for r in self.replicas])
        self.nginx.start()
        self.lb = Client(self.nginx.url, self.admin_key, "nginx")
        for r in self.replicas:
            info = r.cluster()
            log(f"{r.name}: GET /api/v1/cluster -> {json.dumps(info) if info is not None else '404 (not served by this binary)'}")

    def teardown(self):
        keep = bool(os.environ.get("KEEP_WORK"))
        if self.nginx:
            self.nginx.stop()
        for r in self.replicas:
            r.stop()
        if self.pg:
            self.pg.stop(keep=keep)

    def heal(self):
        """Restarts any replica a previous scenario killed (same port, same data folder) and waits for it."""
        for r in self.replicas:
            if not r.alive():
                log(f"restarting {r.name} on port {r.port}")
                r.start()
                r.wait_ready()

    def by_port(self, port):
        return next((r for r in self.replicas if r.port == port), None)

    # --- scenario plumbing

    def run_scenario(self, letter, title, function):
        offsets = {r.name: r.log_size() for r in self.replicas}
        started = time.monotonic()
        log(f"=== scenario {letter}: {title}")
        try:
            self.heal()
            detail = function()
            self.results.append((letter, title, "PASS", detail))
            log(f"scenario {letter} PASSED in {time.monotonic() - started:.1f} s: {detail}")
        except Failure as error:
            self.results.append((letter, title, "FAIL", str(error).splitlines()[0][:300]))
            print(f"\nSCENARIO {letter} FAILED ({title}) after {time.monotonic() - started:.1f} s:\n{error}", flush=True)
            for r in self.replicas:
                print(f"--- {r.name} log since the scenario began ({r.log_path}), last 25 lines:", flush=True)
                print(tail(r.log_path, 25, since=offsets.get(r.name, 0)), flush=True)
            if self.nginx:
                print(f"--- nginx error log ({self.nginx.error_log}), last 10 lines:\n{tail(self.nginx.error_log, 10)}", flush=True)
        except SetupError as error:
            self.results.append((letter, title, "FAIL", f"setup: {str(error).splitlines()[0][:300]}"))
            print(f"\nSCENARIO {letter} FAILED ({title}): {error}", flush=True)

    def register(self, client, model, description, data=None, runtime_options=None, raw=False):
        """Registers a version; (version number, sha256)."""
        data = data if data is not None else artifact_bytes(self.next_nonce())
        if raw:
            answer = client.ok("POST", f"/api/v1/models/{model}/versions?description={urllib.parse.quote(description)}",
                               data, "application/octet-stream")
        else:
            body = {"artifact": base64.b64encode(data).decode(), "description": description}
            if runtime_options:
                body["runtime_options"] = runtime_options
            answer = client.ok("POST", f"/api/v1/models/{model}/versions", body)
        return answer["version"], answer["artifact"]["sha256"]

    def alive_replicas(self):
        return [r for r in self.replicas if r.alive()]

    def leaders(self, replicas=None):
        """{replica name: cluster answer} of the replicas that say leader: true; None when no replica serves the route."""
        answers = {r.name: r.cluster() for r in (replicas or self.alive_replicas())}
        if all(a is None for a in answers.values()):
            return None
        return {name: a for name, a in answers.items() if a and a.get("leader") is True}

    def require_cluster_api(self):
        answers = {r.name: r.cluster() for r in self.alive_replicas()}
        missing = [n for n, a in answers.items() if a is None]
        if missing:
            raise Failure(f"GET /api/v1/cluster is not served by {', '.join(missing)} (404): the leadership API "
                          "({\"replica\", \"leader\", \"store\"}) is missing in this binary")
        for name, a in answers.items():
            for field in ("replica", "leader", "store"):
                if field not in a:
                    raise Failure(f"GET /api/v1/cluster on {name} lacks '{field}': {json.dumps(a)}")
            if a["store"] != "postgres":
                raise Failure(f"GET /api/v1/cluster on {name} says store {a['store']!r}, expected 'postgres'")
        return answers

    def rollout_status(self, client, endpoint):
        status, answer, _ = client.call("GET", f"/api/v1/endpoints/{endpoint}/rollout", timeout=5)
        return answer if status == 200 else None

    def events(self, client, endpoint):
        items = client.get(f"/api/v1/endpoints/{endpoint}/rollout/events?limit=10000")["items"]
        starts = [i for i, e in enumerate(items) if e["action"] == "started"]
        return items[starts[-1]:] if starts else items

    # ============================================================================================ A

    def scenario_a(self):
        failures, report = [], []
        try:
            self._scenario_a(failures, report)
        except Failure as error:   # a call that had to work did not: report it with what was measured before
            failures.append(str(error))
        if failures:
            raise Failure("propagation failed:\n  " + "\n  ".join(failures))
        return "; ".join(report)

    def _scenario_a(self, failures, report):
        r1, r2, r3 = self.replicas
        request = open(os.path.join(EXAMPLE, "request.json"), "rb").read()
        old = next(a["version"] for a in r1.get("/api/v1/models/fraud/aliases")["items"] if a["name"] == "production")
        new, _ = self.register(r1.client, "fraud", "scenario A: production candidate")
        log(f"registered fraud/{new} through {r1.name}; production is at {old}")

        def serving(replica, path="/v2/models/fraud/infer", key=None):
            status, answer, headers = replica.client.call("POST", path, request, key=key, timeout=5)
            return status, answer, headers

        def poll(replicas, check, bound, what):
            """Polls every replica in its own thread every 50 ms until check(replica) is true; {name: seconds}."""
            t0 = time.monotonic()
            seen = {}

            def one(r):
                deadline = t0 + NEVER_SECONDS
                while time.monotonic() < deadline:
                    try:
                        if check(r):
                            seen[r.name] = time.monotonic() - t0
                            return
                    except NO_ANSWER:
                        pass
                    time.sleep(0.05)

            threads = [threading.Thread(target=one, args=(r,)) for r in replicas]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            figures = ", ".join(f"{r.name} {seen[r.name] * 1000:.0f} ms" if r.name in seen else f"{r.name} never ({NEVER_SECONDS:.0f} s)"
                                for r in replicas)
            log(f"  {what}: {figures}")
            return seen, figures

        def judge(seen, figures, replicas, what):
            # The 1 s bound is the issue's target, measured and reported; the test fails only when a change never
            # arrives (CI proofs do not assert on timing).
            missing = [r.name for r in replicas if r.name not in seen]
            if missing:
                failures.append(f"{what}: never in force on {', '.join(missing)} ({figures})")
            worst = max(seen.values(), default=0)
            target = "within the 1 s target" if worst <= 1.0 else "OVER the 1 s target"
            report.append(f"{what} max {worst * 1000:.0f} ms ({target})" if seen else f"{what} never")

        # 1. Alias moves, through each replica in turn; the others are asked directly, by inference.
        def version_is(target):
            def check(r):
                status, answer, _ = serving(r)
                return status == 200 and str(answer.get("model_version")) == str(target)
            return check

        for via, target in [(r1, new), (r2, old), (r3, new)]:
            others = [r for r in self.replicas if r is not via]
            via.client.ok("PUT", "/api/v1/models/fraud/aliases/production", {"version": target, "reason": "scenario A"})
            status, answer, _ = serving(via)
            if status != 200 or str(answer.get("model_version")) != str(target):
                failures.append(f"{via.name} moved production to {target} but itself answers {status} "
                                f"model_version {answer.get('model_version') if isinstance(answer, dict) else answer}")
            seen, figures = poll(others, version_is(target), 1.0, f"alias production -> {target} via {via.name}")
            judge(seen, figures, others, f"alias move via {via.name}")
        # The metadata says the same version on every replica.
        for r in self.replicas:
            meta = r.get("/v2/models/fraud")
            if str(meta.get("parameters", {}).get("version")) != str(new):
                failures.append(f"{r.name}: GET /v2/models/fraud parameters.version is {meta.get('parameters', {}).get('version')}, expected {new}")

        # 2. An endpoint made through replica 2, changed through replica 3.
        ep = "prop-ep"
        r2.client.ok("PUT", f"/api/v1/endpoints/{ep}", {"variants": [{"model": "fraud", "version": old, "weight": 100}]})

        def served_by(target):
            def check(r):
                status, _, headers = serving(r, f"/v2/models/{ep}/infer")
                return status == 200 and headers.get("Ferry-Served-By") == f"fraud/{target}"
            return check

        seen, figures = poll([r1, r3], served_by(old), 1.0, f"endpoint {ep} created via {r2.name}")
        judge(seen, figures, [r1, r3], "endpoint creation")
        r3.client.ok("PUT", f"/api/v1/endpoints/{ep}", {"variants": [{"model": "fraud", "version": new, "weight": 100}]})
        seen, figures = poll([r1, r2], served_by(new), 1.0, f"endpoint {ep} -> fraud/{new} via {r3.name}")
        judge(seen, figures, [r1, r2], "endpoint change")

        # 3. A key created through replica 1 works everywhere; revoked through replica 1, it stops everywhere.
        created = r1.client.ok("POST", "/api/v1/keys", {"name": f"scenario-a-{uuid.uuid4().hex[:6]}", "role": "predictor",
                                                       "models": ["fraud"]})
        secret, key_id = created["secret"], created["key"]["id"]

        def key_status(expected):
            def check(r):
                status, _, _ = serving(r, key=secret)
                return status == expected
            return check

        seen, figures = poll([r2, r3], key_status(200), 1.0, "new predictor key accepted")
        judge(seen, figures, [r2, r3], "key creation")
        r1.client.ok("DELETE", f"/api/v1/keys/{key_id}")
        status, _, _ = serving(r1, key=secret)
        if status != 401:
            failures.append(f"{r1.name} revoked the key but still answers {status} to it")
        seen, figures = poll([r2, r3], key_status(401), 1.0, "revoked key refused (401)")
        judge(seen, figures, [r2, r3], "key revocation")


    # ============================================================================================ B

    def scenario_b(self):
        r1, r2, r3 = self.replicas
        stable, _ = self.register(r2.client, "fraud", "scenario B: stable")
        data = artifact_bytes(self.next_nonce())
        # The same artifact run with one tree out of 100: valid, but its outputs are shifted (the PSI gate fails).
        bad, _ = self.register(r2.client, "fraud", "scenario B: bad candidate (iterations=1)", data=data,
                               runtime_options={"iterations": "1"})
        ep = "canary-bad"
        r2.client.ok("PUT", f"/api/v1/endpoints/{ep}", {"variants": [{"model": "fraud", "version": stable, "weight": 100}]})
        log(f"endpoint {ep} -> fraud/{stable} made through {r2.name}; bad candidate fraud/{bad}")
        missing = [r.name for r in (r1, r3) if not wait_for(
            lambda r=r: r.client.call("GET", f"/api/v1/endpoints/{ep}")[0] == 200, 2.0)]
        if missing:
            raise Failure(f"endpoint {ep} made through {r2.name} is unknown to {', '.join(missing)} after 2 s")
        min_requests = 300
        gates = {"min_requests": min_requests, "min_outputs": 100, "max_output_psi": 0.2,
                 "max_error_rate_increase": 0.5, "max_latency_ratio": 50, "latency_slack_seconds": 2}
        load = InferenceLoad(self.nginx.url, self.admin_key, f"/v2/models/{ep}/infer", threads=4,
                             rps=self.args.load_rps).start()
        try:
            time.sleep(0.5)
            t_start = time.time()
            r2.client.ok("POST", f"/api/v1/endpoints/{ep}/rollout",
                         {"version": bad, "steps": [50, 100], "bake_seconds": 60, "gates": gates})
            log(f"canary started through {r2.name}: 50% -> 100%, bake 60 s, gates {json.dumps(gates)}")

            def finished():
                s = self.rollout_status(r3.client, ep)
                return s if s and s["rollout"]["status"] in ("rolled_back", "promoted") else None

            done = wait_for(finished, 45, 0.1)
            total, by_version, errors = load.summary()
            if not done:
                s = self.rollout_status(r3.client, ep)
                raise Failure(f"the canary did not end within 45 s (status on {r3.name}: "
                              f"{json.dumps(s)[:600] if s else 'none'}); load so far: {total} requests, {by_version}, "
                              f"{errors} errors")
            t_done = time.time()
            time.sleep(1.5)   # more load: a rolled back canary must get no traffic, and must not be rolled back again
        finally:
            load.stop()
        total, by_version, errors = load.summary()
        records = load.snapshot()
        status = done["rollout"]["status"]
        log(f"rollout {status} after {t_done - t_start:.1f} s ({done['rollout'].get('reason')}); load: {total} requests "
            f"{by_version}, {errors} errors")
        failures = []
        if status != "rolled_back":
            failures.append(f"the rollout ended {status}, expected rolled_back (reason: {done['rollout'].get('reason')})")
        events = self.events(r1.client, ep)
        actions = [e["action"] for e in events]
        log(f"events (via {r1.name}): " + ", ".join(f"#{e['sequence']} {e['action']} {e['from_percent']:g}->{e['to_percent']:g} by {e['by']}" for e in events))
        rolled = [e for e in events if e["action"] == "rolled_back"]
        if len(rolled) != 1:
            failures.append(f"expected exactly one rolled_back event, got {len(rolled)} (actions {actions})")
        if any(a in ("advanced", "promoted") for a in actions):
            failures.append(f"the bad candidate advanced or was promoted: {actions}")
        metrics = {r.name: metric(r.metrics(), "ferry_inference_requests_total", model="fraud", version=str(bad))
                   for r in self.replicas}
        if rolled:
            event = rolled[0]
            obs = event.get("observation") or {}
            cand = obs.get("candidate") or {}
            gates_seen = {g["gate"]: g for g in event.get("gates", [])}
            log(f"rolled_back event: reason {event.get('reason')!r}")
            log(f"  observation: candidate {json.dumps(cand)}, stable {json.dumps(obs.get('stable'))}, "
                f"output_psi {obs.get('output_psi')}")
            log(f"  gates: {json.dumps(event.get('gates'))}")
            # What each replica had served of the candidate when the decision was taken (nginx names the replica).
            decided = iso_seconds(event["at"])
            per_replica = {}
            for at, st, served, port in records:
                if st == 200 and served == f"fraud/{bad}" and at <= decided:
                    name = self.by_port(port).name if self.by_port(port) else str(port)
                    per_replica[name] = per_replica.get(name, 0) + 1
            requests = cand.get("requests", 0)
            log(f"  candidate requests: gate saw {requests}; served per replica up to the decision (client side, "
                f"X-Ferry-Upstream) {per_replica}; per replica in the end (/metrics "
                f"ferry_inference_requests_total{{version=\"{bad}\"}}) {metrics}, sum {sum(metrics.values()):.0f}")
            if requests < min_requests:
                failures.append(f"the gate judged {requests} candidate requests, below min_requests {min_requests}")
            most = max(list(per_replica.values()) + [0])
            if requests <= most:
                failures.append(f"the gate's candidate requests ({requests}) are not more than one replica alone had served "
                                f"by then ({per_replica}): the leader did not judge the sum of all replicas' traffic")
            if requests <= max(metrics.values()):
                failures.append(f"the gate's candidate requests ({requests}) are not more than one replica served in all "
                                f"({metrics})")
            if requests > sum(metrics.values()):
                failures.append(f"the gate counted {requests} candidate requests, more than all replicas served "
                                f"({sum(metrics.values()):.0f}): observations are counted twice")
            if "output_psi" not in (event.get("reason") or "") or gates_seen.get("output_psi", {}).get("passed") is not False:
                failures.append(f"expected the output_psi gate to fail, reason {event.get('reason')!r}, gates {event.get('gates')}")
        late = [r for r in records if r[0] > t_done + 10.0 and r[2] == f"fraud/{bad}"]
        if late:
            failures.append(f"{len(late)} requests were still served by the rolled back fraud/{bad} more than 10 s after it ended")
        for r in self.replicas:
            s = self.rollout_status(r.client, ep)
            if not s or s["rollout"]["status"] != status:
                failures.append(f"{r.name} reports the rollout as {s['rollout']['status'] if s else 'missing'}, not {status}")
        if errors:
            failures.append(f"{errors} inference requests through nginx failed (a failing canary must never fail a caller)")
        if failures:
            raise Failure("\n  ".join(["canary on summed traffic:"] + failures))
        return (f"rolled back once on output_psi with {cand.get('requests')} candidate requests judged "
                f"(most one replica had served: {most}; all replicas in the end: {sum(metrics.values()):.0f})")

    # ============================================================================================ C

    def scenario_c(self):
        self.require_cluster_api()
        r1, r2, r3 = self.replicas
        stable, _ = self.register(r1.client, "fraud", "scenario C: stable")
        good, _ = self.register(r1.client, "fraud", "scenario C: good candidate")
        ep = "canary-good"
        r1.client.ok("PUT", f"/api/v1/endpoints/{ep}", {"variants": [{"model": "fraud", "version": stable, "weight": 100}]})
        if not all(wait_for(lambda r=r: r.client.call("GET", f"/api/v1/endpoints/{ep}")[0] == 200, 2.0) for r in self.replicas):
            raise Failure(f"endpoint {ep} made through {r1.name} is not known to every replica after 2 s")
        leaders = self.leaders()
        if len(leaders) != 1:
            raise Failure(f"expected exactly one leader among 3 replicas, got {sorted(leaders)}")
        leader_name = next(iter(leaders))
        leader = next(r for r in self.replicas if r.name == leader_name)
        leader_id = leaders[leader_name]["replica"]
        self.check_leader_metric(self.replicas, leader)
        log(f"leader: {leader.name} (replica id {leader_id})")
        plan = [10, 50, 100]
        gates = {"min_requests": 20, "min_outputs": 20, "max_output_psi": 5, "max_error_rate_increase": 0.5,
                 "max_latency_ratio": 50, "latency_slack_seconds": 2}
        load = InferenceLoad(self.nginx.url, self.admin_key, f"/v2/models/{ep}/infer", threads=4,
                             rps=self.args.load_rps).start()
        failures = []
        try:
            time.sleep(0.5)
            starter = next(r for r in self.replicas if r is not leader)   # a follower takes the command
            starter.client.ok("POST", f"/api/v1/endpoints/{ep}/rollout",
                              {"version": good, "steps": plan, "bake_seconds": 3, "gates": gates})
            log(f"canary to fraud/{good} started through {starter.name}: {plan}, bake 3 s")

            def advanced():
                s = self.rollout_status(starter.client, ep)
                return s if s and (s["rollout"]["step"] >= 1 or s["rollout"]["status"] != "running") else None

            s = wait_for(advanced, 30, 0.1)
            if not s:
                s = self.rollout_status(starter.client, ep)
                raise Failure(f"the canary did not leave its first step within 30 s: {json.dumps(s)[:800] if s else 'none'}")
            if s["rollout"]["status"] != "running" or s["rollout"]["step"] != 1:
                raise Failure(f"expected the canary running at step 1 (50%) before the kill, got "
                              f"{s['rollout']['status']} at step {s['rollout']['step']}")
            leader.sigkill()
            t_kill = time.monotonic()
            log(f"SIGKILLed the leader {leader.name} (pid {leader.process.pid}) with the canary at 50%")
            survivors = [r for r in self.replicas if r is not leader]

            def new_leader():
                found = self.leaders(survivors)
                return found if found else None

            found = wait_for(new_leader, NEVER_SECONDS, 0.1)
            takeover = time.monotonic() - t_kill
            if not found:
                raise Failure(f"no surviving replica reports leader: true within {NEVER_SECONDS:.0f} s of the kill "
                              f"({ {r.name: r.cluster() for r in survivors} })")
            # The 5 s bound is the issue's target, measured and reported, not asserted.
            log(f"new leader {sorted(found)} after {takeover:.2f} s "
                f"({'within' if takeover <= 5 else 'OVER'} the 5 s target)")
            if len(found) != 1:
                failures.append(f"more than one survivor says leader: {sorted(found)}")
            new_name = next(iter(found))
            if found[new_name].get("replica") == leader_id:
                failures.append(f"the new leader reports the dead leader's replica id {leader_id}")
            time.sleep(0.3)
            again = self.leaders(survivors)
            if sorted(again) != sorted(found):
                failures.append(f"leadership flapped: {sorted(found)} then {sorted(again)}")
            self.check_leader_metric(survivors, next(r for r in survivors if r.name == new_name), failures)

            def finished():
                st = self.rollout_status(survivors[0].client, ep)
                return st if st and st["rollout"]["status"] in ("promoted", "rolled_back") else None

            done = wait_for(finished, 40, 0.1)
            if not done:
                st = self.rollout_status(survivors[0].client, ep)
                raise Failure(f"the canary did not finish within 40 s of the takeover: {json.dumps(st)[:800] if st else 'none'}")
            t_kill_wall = time.time() - (time.monotonic() - t_kill)
            time.sleep(0.5)
        finally:
            load.stop()
        total, by_version, errors = load.summary()
        log(f"rollout {done['rollout']['status']} ({done['rollout'].get('reason')}); load: {total} requests {by_version}, "
            f"{errors} failed")
        if done["rollout"]["status"] != "promoted":
            failures.append(f"the rollout ended {done['rollout']['status']} ({done['rollout'].get('reason')}), expected promoted")
        events = self.events(survivors[0].client, ep)
        log("events: " + ", ".join(f"#{e['sequence']} {e['action']} {e['from_percent']:g}->{e['to_percent']:g} by {e['by']}" for e in events))
        steps = [e["to_percent"] for e in events if e["action"] in ("started", "advanced")]
        if steps != plan:
            failures.append(f"step events walk {steps}, expected {plan} once each (no step repeated or skipped)")
        moves = [(e["from_percent"], e["to_percent"]) for e in events if e["from_percent"] != e["to_percent"]]
        if [m[1] for m in moves] != plan:
            failures.append(f"traffic moves {moves} do not walk {plan} once each")
        promoted = [e for e in events if e["action"] == "promoted"]
        if len(promoted) != 1:
            failures.append(f"expected exactly one promoted event, got {len(promoted)}")
        if any(e["action"] == "rolled_back" for e in events):
            failures.append("a rolled_back event is in the trail")
        sequences = [e["sequence"] for e in events]
        if sequences != sorted(set(sequences)):
            failures.append(f"event sequence numbers are not strictly increasing: {sequences}")
        late_errors = [r for r in load.snapshot() if r[1] != 200 and r[0] > t_kill_wall + 10.0]
        if late_errors:
            failures.append(f"{len(late_errors)} requests through nginx failed more than 10 s after the kill "
                            f"(statuses {sorted({str(r[1]) for r in late_errors})})")
        if failures:
            raise Failure("\n  ".join(["leader SIGKILL mid-canary:"] + failures))
        return (f"leader {leader.name} killed at 50%, {new_name} leader after {takeover:.2f} s, promoted; steps {steps}; "
                f"{errors} requests cut off by the kill")

    def check_leader_metric(self, replicas, leader, failures=None):
        """ferry_leader in /metrics: 1 on the leader, 0 elsewhere."""
        problems = []
        for r in replicas:
            values = [v for (n, _), v in r.metrics().items() if n == "ferry_leader"]
            want = 1.0 if r is leader else 0.0
            if values != [want]:
                problems.append(f"{r.name} /metrics ferry_leader is {values or 'missing'}, expected {want:g}")
        if problems:
            if failures is None:
                raise Failure("; ".join(problems))
            failures.extend(problems)

    # ============================================================================================ D

    def scenario_d(self):
        leaders = self.leaders()
        if leaders is None:
            victim = self.replicas[2]
            log(f"GET /api/v1/cluster is not served: SIGKILL {victim.name} (leadership unknown)")
        else:
            if len(leaders) != 1:
                raise Failure(f"expected exactly one leader before the load, got {sorted(leaders)}")
            victim = next(r for r in reversed(self.replicas) if r.name not in leaders)
            log(f"leader {next(iter(leaders))}; SIGKILL the follower {victim.name}")
        self.victim_url = victim.url
        load = WriteLoad(self, victim)
        load.run(kill_after=random.uniform(2.0, 3.0), after_kill=2.0)
        with open(os.path.join(self.work, "ledger-D.json"), "w") as f:
            json.dump(load.ledger, f, indent=1)
        if load.errors:
            raise Failure(f"{len(load.errors)} unexpected answers during the load:\n  " + "\n  ".join(load.errors[:20]))
        survivors = [r for r in self.replicas if r is not victim]
        # Every survivor has applied every change committed before the checks (its applied_change reaches the head of
        # the audit trail, read from the store).
        def caught_up():
            status, answer, _ = survivors[0].client.call("GET", "/api/v1/audit/verify", timeout=10)
            head = answer.get("entries", 0) if status == 200 and isinstance(answer, dict) else None
            applied = [(r.cluster() or {}).get("applied_change") for r in survivors]
            return head is not None and all(a is not None and a >= head for a in applied)
        if not wait_for(caught_up, NEVER_SECONDS, 0.1):
            raise Failure(f"the survivors never applied every committed change ({[r.cluster() for r in survivors]})")
        failures = []
        for r in survivors:
            failures += [f"{r.name}: {f}" for f in DurabilityCheck(self, r, load.ledger).run()]
        if failures:
            raise Failure(f"{len(failures)} problems after SIGKILL of {victim.name}:\n  " + "\n  ".join(failures[:40]))
        c = load.counts
        return (f"SIGKILL {victim.name} mid-load; {c['register']} registrations, {c['alias']} alias moves, "
                f"{c['confirmed']} committed predictions, {c['feedback']} feedback items acknowledged, all read back "
                f"through {', '.join(r.name for r in survivors)}; {c['uncertain']} cut off; audit chain intact")

    # --- the whole run

    def main(self):
        scenarios = [("A", "alias / endpoint / key propagation (1 s target)", self.scenario_a),
                     ("B", "canary judged on summed traffic rolls back once", self.scenario_b),
                     ("C", "leader SIGKILL mid-canary: takeover (5 s target), promoted, no step repeated", self.scenario_c),
                     ("D", "SIGKILL of a replica under load loses no acknowledged write", self.scenario_d)]
        wanted = set(self.args.scenarios.upper())
        begin = time.monotonic()
        try:
            self.setup()
            for letter, title, function in scenarios:
                if letter in wanted:
                    self.run_scenario(letter, title, function)
        finally:
            self.teardown()
        print("\n=== multi-replica scenarios" + (" (SHARED_DATA_DIR=1)" if self.args.shared_data_dir else ""), flush=True)
        for letter, title, status, detail in self.results:
            print(f"{status}  {letter}  {title}\n         {detail}", flush=True)
        for letter, title, _ in scenarios:
            if letter not in wanted:
                print(f"--    {letter}  {title} (not selected)", flush=True)
        failed = [r for r in self.results if r[2] != "PASS"]
        print(f"{len(self.results) - len(failed)} passed, {len(failed)} failed in {time.monotonic() - begin:.0f} s", flush=True)
        return 1 if failed else 0


def iso_seconds(text):
    """Seconds since the epoch of an ISO 8601 UTC time as the API writes it (2026-11-22T10:00:00.123Z)."""
    import datetime
    value = text.replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(value).timestamp()


# ------------------------------------------------------------------------------------------------ D: load and checks

MODELS_D = ["rep-a", "rep-b", "rep-c"]
UNCERTAIN_STATUSES = (502, 504)   # nginx: the replica died with the request in flight (it may have been applied)


class WriteLoad(LedgerLoad):
    """crash.py's load (ledger.py) across replicas: writer threads (half through nginx, half straight to one replica
    each) register versions, move their own alias, predict, wait until the prediction is readable through nginx and
    send feedback; a predictor thread keeps the prediction log busy. Every acknowledged write goes into the ledger; a
    request whose answer the kill cut off (no answer, or 502/504 from nginx) is uncertain, and its writer goes on."""

    keep_going = True            # the other replicas are still up
    read_seconds = 3
    retry_statuses = (404,) + UNCERTAIN_STATUSES

    def __init__(self, run, victim, writers=6):
        super().__init__(new_ledger(), MODELS_D, "scenario D", writers, 1)
        self.run_ = run
        self.victim = victim
        self.front = run.lb          # predictions are read back through nginx (any replica): then they are committed

    def client_for(self, index, current):
        """Even writers go through nginx, odd ones straight to a replica (one is the victim: after the kill, through
        nginx)."""
        if current is None:
            if index % 2 == 0:
                return self.run_.lb
            return self.run_.replicas[(index // 2) % len(self.run_.replicas)].client
        if current.base == self.victim.url and self.killed_at is not None:
            return self.run_.lb   # its replica is dead: go on through nginx
        return current

    def next_nonce(self):
        return self.run_.next_nonce()

    def tags(self, client):
        return {"via": client.name, "url": client.base}

    def watched(self, client):
        return client.base == self.victim.url

    def cut_off(self, client, status):
        return status in UNCERTAIN_STATUSES and client is self.run_.lb and self.killed_at is not None

    def via(self, client):
        return f" via {client.name}"

    def kill(self):
        self.victim.sigkill()
        writes = self.inflight["register"] + self.inflight["alias"] + self.inflight["feedback"]
        log(f"SIGKILLed {self.victim.name} after {self.killed_at - self.started:.1f} s of load, {writes} writes in "
            f"flight on it")

    def run(self, kill_after, after_kill):
        super().run(kill_after, after_kill)
        c = self.counts
        log(f"acknowledged: {c['register']} registrations, {c['alias']} alias moves, {c['infer']} predictions "
            f"({c['confirmed']} read back), {c['feedback']} feedback items; {c['uncertain']} requests cut off by the kill")


class DurabilityCheck(LedgerCheck):
    """crash.py's checks (ledger.py), against one surviving replica; the stored feedback is read from PostgreSQL."""

    def __init__(self, run, replica, ledger):
        super().__init__(ledger, replica.client, MODELS_D)
        self.run_ = run
        self.replica = replica

    def get(self, path):
        return self.client.get(path)

    def run(self):
        ledger, client = self.ledger, self.client
        registered = self.versions()
        aliases = self.aliases()

        for p in ledger["confirmed_predictions"]:
            status, body, _ = client.call("GET", f"/api/v1/predictions/{p}")
            if status != 200 or body.get("id") != p:
                self.fail(f"LOST: prediction {p} was readable before the kill; GET answers {status}")

        # Feedback: every acknowledged item stored with its label (PostgreSQL's feedback table, read with psql).
        try:
            stored = {}
            for line in self.run_.pg.psql("SELECT prediction_id, row, label FROM feedback").splitlines():
                pid, row, label = line.split("|")
                stored[(pid, int(row))] = float(label)
        except Failure as error:
            self.fail(f"cannot read the feedback table: {error}")
            stored = None
        self.feedback(stored)

        entries, _, _ = self.audit()
        cli = subprocess.run([self.run_.binary, "audit", "verify", "--server", self.replica.url],
                             env=dict(os.environ, FERRY_API_KEY=self.run_.admin_key),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if cli.returncode != 0 or "audit trail intact" not in cli.stdout:
            self.fail(f"ferry audit verify --server {self.replica.url} (exit {cli.returncode}): {cli.stdout.strip()[:300]}")
        if self.run_.pg.url and self.replica is self.run_.alive_replicas()[0] and \
                "--database-url" in subprocess.run([self.run_.binary, "audit", "verify", "--help"],
                                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout:
            offline = subprocess.run([self.run_.binary, "audit", "verify", "--database-url", self.run_.pg.url],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if offline.returncode != 0 or "audit trail intact" not in offline.stdout:
                self.fail(f"ferry audit verify --database-url (exit {offline.returncode}): {offline.stdout.strip()[:300]}")

        # Inference on every client alias (its artifact comes from PostgreSQL when this replica did not register it).
        for key in sorted(aliases):
            model, alias = key.split("@")
            self.inference(f"/v2/models/{model}/versions/{alias}/infer")
        # Versions registered straight through the killed replica: this replica never had their bytes on its disk
        # (unless the replicas share a data folder), so serving them proves the artifact is in PostgreSQL.
        victim_url = self.run_.victim_url
        from_victim = [v for v in ledger["versions"] if v["via"] != "nginx" and v.get("url") == victim_url][-8:]
        for v in from_victim:
            self.inference(f"/v2/models/{v['model']}/versions/{v['version']}/infer",
                           " (registered through the killed replica)")
        log(f"{self.replica.name}: checked {len(ledger['versions'])} acknowledged versions ({len(registered)} registered), "
            f"{sum(len(m) for m in ledger['alias_moves'].values())} alias moves, {len(ledger['confirmed_predictions'])} "
            f"predictions, {len(ledger['feedback'])} feedback items, {len(entries)} audit entries, inference on "
            f"{len(aliases)} aliases and {len(from_victim)} versions registered through the killed replica")
        return self.failures


# ------------------------------------------------------------------------------------------------ main

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True, help="the ferry binary (a copy: the build tree may be relinked)")
    parser.add_argument("--work", required=True, help="folder for PostgreSQL, data folders, logs (kept by run.sh with KEEP_WORK=1)")
    parser.add_argument("--scenarios", default=os.environ.get("SCENARIOS", "ABCD"), help="which scenarios, e.g. AD")
    parser.add_argument("--shared-data-dir", action="store_true", default=os.environ.get("SHARED_DATA_DIR") == "1",
                        help="one --data-dir for all replicas (for binaries that keep artifacts on disk only)")
    parser.add_argument("--load-rps", type=float, default=float(os.environ.get("LOAD_RPS", "200")),
                        help="inference requests per second through nginx in scenarios B and C")
    args = parser.parse_args()
    os.chdir(ROOT)

    def terminate(signum, _frame):
        log(f"signal {signum}: stopping the servers")
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    run = Run(args)
    try:
        sys.exit(run.main())
    except SetupError as error:
        print(f"\nREPLICA SCENARIOS FAILED (setup): {error}", flush=True)
        for r in run.replicas:
            print(f"--- {r.name} ({r.log_path}), last 30 lines:\n{tail(r.log_path, 30)}", flush=True)
        sys.exit(1)
    except Failure as error:
        print(f"\nREPLICA SCENARIOS FAILED: {error}", flush=True)
        sys.exit(1)
    except KeyboardInterrupt:
        print("\ninterrupted", flush=True)
        sys.exit(130)
    except Exception:
        traceback.print_exc()
        sys.exit(1)


if __name__ == "__main__":
    main()
