"""Snapshot and restore of the local cloud's data, so users, videos and media survive a restart.

moto keeps everything in memory. On stop (and every `interval` seconds while running) we read the data
back through the AWS API and write it under the state directory; on start we write it back before any
trigger is wired. Through the API rather than by pickling moto's internals, so a moto upgrade cannot
corrupt a user's state. Kept: DynamoDB items, S3 objects (with content type, cache control and user
metadata), secret values. Not kept: messages in flight in SQS and running Step Functions executions
(documented in docs/local-cloud.md).

Layout: `state.json` (tables, secrets, object index) and `objects/<bucket id>/<sha256 of key>` files.
An object whose ETag did not change since the last snapshot is not copied again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from infra.local.names import LocalNames
from infra.model import Topology

log = logging.getLogger("skyreel.local.state")
FORMAT = 1


def _object_file(root: Path, bucket_id: str, key: str) -> Path:
    return root / "objects" / bucket_id / hashlib.sha256(key.encode()).hexdigest()


class StateStore:
    def __init__(self, root: Path, topology: Topology, names: LocalNames, aws: Any) -> None:
        self.root = root
        self.topology = topology
        self.names = names
        self.aws = aws

    @property
    def index_file(self) -> Path:
        return self.root / "state.json"

    def _read_index(self) -> dict[str, Any]:
        if not self.index_file.exists():
            return {}
        data: dict[str, Any] = json.loads(self.index_file.read_text())
        if data.get("format") != FORMAT:
            log.warning(
                "ignoring state in %s: written by another version (format %s)", self.root, data.get("format")
            )
            return {}
        return data

    def save(self) -> dict[str, int]:
        """Write a consistent-enough snapshot (each table and bucket is read in full, one after another)."""
        previous = self._read_index()
        index: dict[str, Any] = {"format": FORMAT, "tables": {}, "objects": {}, "secrets": {}}
        counts = {"items": 0, "objects": 0, "copied": 0}
        ddb = self.aws.client("dynamodb")
        for table in self.topology.tables:
            items: list[dict[str, Any]] = []
            for page in ddb.get_paginator("scan").paginate(TableName=self.names.table(table.id)):
                items.extend(page["Items"])
            index["tables"][table.id] = items
            counts["items"] += len(items)
        s3 = self.aws.client("s3")
        for bucket in self.topology.buckets:
            name = self.names.bucket(bucket.id)
            known = previous.get("objects", {}).get(bucket.id, {})
            entries: dict[str, Any] = {}
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
                for summary in page.get("Contents", []):
                    key = summary["Key"]
                    target = _object_file(self.root, bucket.id, key)
                    if known.get(key, {}).get("etag") == summary["ETag"] and target.exists():
                        entries[key] = known[key]
                        continue
                    entries[key] = self._copy_out(s3, name, key, target)
                    counts["copied"] += 1
            index["objects"][bucket.id] = entries
            counts["objects"] += len(entries)
            self._drop_stale(bucket.id, entries)
        sm = self.aws.client("secretsmanager")
        for secret in self.topology.secrets:
            try:
                value = sm.get_secret_value(SecretId=self.names.secret(secret.id))["SecretString"]
            except ClientError:
                continue
            index["secrets"][secret.id] = value
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.index_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(index))
        os.chmod(tmp, 0o600)  # holds signing keys
        tmp.replace(self.index_file)
        return counts

    @staticmethod
    def _copy_out(s3: Any, bucket: str, key: str, target: Path) -> dict[str, Any]:
        target.parent.mkdir(parents=True, exist_ok=True)
        obj = s3.get_object(Bucket=bucket, Key=key)
        tmp = target.with_suffix(".tmp")
        with tmp.open("wb") as out:
            shutil.copyfileobj(obj["Body"], out, 1024 * 1024)
        tmp.replace(target)
        return {
            "etag": obj["ETag"],
            "content_type": obj.get("ContentType"),
            "cache_control": obj.get("CacheControl"),
            "metadata": obj.get("Metadata", {}),
        }

    def _drop_stale(self, bucket_id: str, entries: dict[str, Any]) -> None:
        folder = self.root / "objects" / bucket_id
        if not folder.exists():
            return
        wanted = {_object_file(self.root, bucket_id, key).name for key in entries}
        for file in folder.iterdir():
            if file.name not in wanted:
                file.unlink()

    def restore(self) -> dict[str, int]:
        """Put saved data back. Secrets are restored before provisioning would generate new ones."""
        index = self._read_index()
        counts = {"items": 0, "objects": 0}
        if not index:
            return counts
        ddb = self.aws.client("dynamodb")
        for table_id, items in index.get("tables", {}).items():
            try:
                name = self.names.table(self.topology.table(table_id).id)
            except KeyError:
                log.warning("state has table %s, which the topology no longer declares", table_id)
                continue
            for start in range(0, len(items), 25):
                batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
                pending: dict[str, Any] = {name: batch}
                while pending:
                    pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            counts["items"] += len(items)
        s3 = self.aws.client("s3")
        for bucket_id, entries in index.get("objects", {}).items():
            name = self.names.bucket(bucket_id)
            for key, meta in entries.items():
                source = _object_file(self.root, bucket_id, key)
                if not source.exists():
                    continue
                extra: dict[str, Any] = {"Metadata": meta.get("metadata") or {}}
                if meta.get("content_type"):
                    extra["ContentType"] = meta["content_type"]
                if meta.get("cache_control"):
                    extra["CacheControl"] = meta["cache_control"]
                with source.open("rb") as body:  # one PUT keeps the ETag, so the next save skips it
                    s3.put_object(Bucket=name, Key=key, Body=body, **extra)
                counts["objects"] += 1
        return counts

    def saved_secrets(self) -> dict[str, str]:
        return dict(self._read_index().get("secrets", {}))
