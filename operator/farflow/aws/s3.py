"""The S3 bucket of a cluster's DAGs: versioned, encrypted (SSE-S3), private, tagged ours."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from farflow.aws.session import TAG_KEY, AwsError, client, error_code, failed, held, tagged_owner

_failed = partial(failed, "s3")
_MISSING = {"404", "NoSuchBucket"}
_ENCRYPTED = {"AES256", "aws:kms", "aws:kms:dsse"}
_PRIVATE = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
_SSE_S3 = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
_PAGES_PER_CALL = 10  # object versions deleted per call: at most 10 x 1000, then requeue


@dataclass(frozen=True)
class BucketState:
    """A DAG bucket FarFlow owns, and what this call had to set on it."""

    name: str
    created: bool
    repaired: tuple[str, ...]  # settings found missing or changed, and set again


def ensure_dag_bucket(
    region: str, bucket: str, owner: str, kms_key: str | None = None
) -> BucketState:
    """Creates the bucket if missing; refuses one that is not ours; repairs drifted settings
    (default encryption with ``kms_key``, else any)."""
    s3 = client("s3", region)
    try:
        created = not _exists(s3, bucket) and _create(s3, region, bucket, owner)
        if not created:
            _check_owner(s3, bucket, owner)
        settings = _settings(kms_key)
        repaired = tuple(setting.name for setting in settings if setting.repaired(s3, bucket))
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, bucket) from error
    return BucketState(bucket, created, repaired)


def delete_dag_bucket(region: str, bucket: str, owner: str) -> bool:
    """Deletes every object version, then the bucket, if it is ours.

    True once no bucket of ours remains (a bucket not tagged ours is left alone); False while
    versions remain to delete in a later call."""
    s3 = client("s3", region)
    try:
        if not _exists(s3, bucket) or _owner(s3, bucket) != owner:
            return True
        if not _emptied(s3, bucket):
            return False
        s3.delete_bucket(Bucket=bucket)
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, bucket) from error
    return True


def _not_ours(bucket: str, why: str) -> AwsError:
    return AwsError(
        "BucketNotOwned",
        f"S3 bucket {bucket} {why}, so FarFlow will not manage it; choose another bucket "
        "name, or set create: false to read DAGs from it as it is",
    )


def _exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        if error_code(error) in _MISSING:
            return False
        if error_code(error) == "403":
            why = "belongs to another AWS account (or s3:ListBucket is denied)"
            raise _not_ours(bucket, why) from error
        raise
    return True


def _create(s3: Any, region: str, bucket: str, owner: str) -> bool:
    """True when this call created the bucket; False when it appeared meanwhile."""
    tags = [{"Key": TAG_KEY, "Value": owner}]
    location = {} if region == "us-east-1" else {"LocationConstraint": region}
    try:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={**location, "Tags": tags})
    except ClientError as error:
        if error_code(error) == "BucketAlreadyExists":
            why = "is taken: bucket names are global and another account has it"
            raise _not_ours(bucket, why) from error
        if error_code(error) != "BucketAlreadyOwnedByYou":
            raise
        return False
    # Tags given at creation are atomic on AWS; the explicit write covers where they are ignored.
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    return True


def _read(read: Callable[..., Any], bucket: str, key: str, missing: str) -> Any:
    """One configuration of the bucket; None when it has none (AWS answers ``missing``)."""
    try:
        return read(Bucket=bucket).get(key)
    except ClientError as error:
        if error_code(error) != missing:
            raise
        return None


def _owner(s3: Any, bucket: str) -> str | None:
    tags = _read(s3.get_bucket_tagging, bucket, "TagSet", "NoSuchTagSet") or []
    return tagged_owner(tags)


def _check_owner(s3: Any, bucket: str, owner: str) -> None:
    found = _owner(s3, bucket)
    if found != owner:
        raise _not_ours(bucket, f"exists but {held(found)}, not {owner}")


def _encrypted(found: dict[str, Any] | None) -> bool:
    """Any default encryption is kept (a KMS key the user chose too)."""
    defaults = [
        rule.get("ApplyServerSideEncryptionByDefault", {})
        for rule in (found or {}).get("Rules", [])
    ]
    return bool({default.get("SSEAlgorithm") for default in defaults} & _ENCRYPTED)


@dataclass(frozen=True)
class _Setting:
    """A bucket setting: how to read it, whether it holds, how to set it."""

    name: str
    read: str  # the client method, its response key, the error code when the bucket has none
    key: str
    missing: str
    holds: Callable[[Any], bool]
    write: str  # the client method and its arguments besides Bucket
    wanted: dict[str, Any]

    def repaired(self, s3: Any, bucket: str) -> bool:
        """Sets the setting unless it holds; True when it had to."""
        if self.holds(_read(getattr(s3, self.read), bucket, self.key, self.missing)):
            return False
        getattr(s3, self.write)(Bucket=bucket, **self.wanted)
        return True


def _sse_kms(kms_key: str) -> dict[str, Any]:
    default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key}
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}]}


def _encrypted_with(kms_key: str) -> Callable[[dict[str, Any] | None], bool]:
    def holds(found: dict[str, Any] | None) -> bool:
        defaults = [rule.get("ApplyServerSideEncryptionByDefault", {}) for rule in
                    (found or {}).get("Rules", [])]  # fmt: skip
        return any(d.get("KMSMasterKeyID") == kms_key for d in defaults)

    return holds


def _encryption(kms_key: str | None) -> _Setting:
    holds = _encrypted if kms_key is None else _encrypted_with(kms_key)
    wanted = _SSE_S3 if kms_key is None else _sse_kms(kms_key)
    return _Setting(
        "encryption",
        "get_bucket_encryption",
        "ServerSideEncryptionConfiguration",
        "ServerSideEncryptionConfigurationNotFoundError",
        holds,
        "put_bucket_encryption",
        {"ServerSideEncryptionConfiguration": wanted},
    )


def _settings(kms_key: str | None) -> tuple[_Setting, ...]:
    """Privacy first: a new bucket is never public while the rest is being set."""
    private = _Setting(
        "publicAccessBlock",
        "get_public_access_block",
        "PublicAccessBlockConfiguration",
        "NoSuchPublicAccessBlockConfiguration",
        lambda found: _PRIVATE.items() <= (found or {}).items(),
        "put_public_access_block",
        {"PublicAccessBlockConfiguration": _PRIVATE},
    )
    versioned = _Setting(
        "versioning",
        "get_bucket_versioning",
        "Status",
        "",
        lambda status: status == "Enabled",
        "put_bucket_versioning",
        {"VersioningConfiguration": {"Status": "Enabled"}},
    )
    return (private, _encryption(kms_key), versioned)


def _emptied(s3: Any, bucket: str) -> bool:
    """Deletes up to _PAGES_PER_CALL pages of versions and delete markers; True when none left."""
    for _ in range(_PAGES_PER_CALL):
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=1000)
        versions = page.get("Versions", []) + page.get("DeleteMarkers", [])
        if not versions:
            return True
        objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]
        result = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
        if result.get("Errors"):
            first = result["Errors"][0]
            raise AwsError(
                str(first.get("Code", "DeleteFailed")),
                f"s3:DeleteObjectVersion {bucket}/{first.get('Key')} failed: "
                f"{first.get('Code')}: {first.get('Message', '')}",
            )
    return False
