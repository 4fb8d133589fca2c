"""The S3 objects of spec.airflow's requirements, plugins and startup script that name no
version, pinned as they are when the operator looks: by their version in a versioned bucket,
else by their ETag, which farflow_bootstrap then asks S3 for (If-Match). The pin is in the
pod template, so a new upload rolls the pods in the rollout's order on the operator's next
pass, and a pod that restarts later still reads what its template names, or fails saying
the object changed: never a newer upload, silently."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from farflow.api.resolve import ResolvedCluster
from farflow.api.spec import S3ObjectSpec
from farflow.aws.session import AwsError, client, error_code, failed

Pins = dict[str, dict[str, str]]  # s3://bucket/key -> {"version": ...} or {"etag": ...}


def unpinned(cluster: ResolvedCluster) -> dict[str, S3ObjectSpec]:
    """The objects that name no version, by the field that names them."""
    objects = cluster.spec.airflow.s3_objects().items()
    return {f"spec.airflow.{path}": ref for path, ref in objects if ref.version is None}


def pins(cluster: ResolvedCluster, region: str) -> Pins:
    """Each unpinned object's version or ETag, as S3 has it now; none costs no call."""
    wanted = unpinned(cluster)
    if not wanted:
        return {}
    s3 = client("s3", region)
    return {ref.url: _pin(s3, field, ref) for field, ref in wanted.items()}


def known_pins(cluster: ResolvedCluster, recorded: Pins) -> Pins | None:
    """The pins status recorded, if it has every object the spec names now."""
    wanted = [ref.url for ref in unpinned(cluster).values()]
    if not all(name in recorded for name in wanted):
        return None
    return {name: recorded[name] for name in wanted}


def _pin(s3: Any, field: str, ref: S3ObjectSpec) -> dict[str, str]:
    try:
        head = s3.head_object(Bucket=ref.bucket, Key=ref.key)
    except (ClientError, BotoCoreError) as error:
        if isinstance(error, ClientError) and error_code(error) in {"404", "NoSuchKey"}:
            raise AwsError(
                "BootstrapObjectMissing",
                f"{field}: {ref.url} does not exist: upload it, or fix the field",
            ) from error
        said = failed("s3", error, f"{ref.url} ({field})")
        hint = f"FarFlow pins an object that names no version: let it read it, or set {field}"
        raise AwsError(said.reason, f"{said}; {hint}.version") from error
    version = head.get("VersionId")
    if version and version != "null":  # "null": uploaded before the bucket was versioned
        return {"version": str(version)}
    return {"etag": str(head["ETag"])}
