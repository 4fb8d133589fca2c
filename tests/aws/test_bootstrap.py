"""farflow_bootstrap's reads of S3 against moto: the pinned version of an object and not the
newest upload, the newest without a version, and a version that does not exist named with
its object."""

from __future__ import annotations

import uuid

import boto3
import pytest

from farflow.runtime.farflow_bootstrap import BootstrapError, fetch

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("moto_env")]


def test_a_pinned_version_is_read_as_it_was_and_an_unpinned_one_as_it_is() -> None:
    s3, bucket = boto3.client("s3"), f"farflow-assets-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="startup.sh", Body=b"export A=1\n")["VersionId"]
    s3.put_object(Bucket=bucket, Key="startup.sh", Body=b"export A=2\n")
    assert fetch({"bucket": bucket, "key": "startup.sh", "version": first}) == b"export A=1\n"
    assert fetch({"bucket": bucket, "key": "startup.sh"}) == b"export A=2\n"
    missing = {"bucket": bucket, "key": "startup.sh", "version": "no-such-version"}
    with pytest.raises(BootstrapError) as raised:
        fetch(missing)
    assert str(raised.value).startswith(
        f"cannot read s3://{bucket}/startup.sh (version no-such-version): "
    )
