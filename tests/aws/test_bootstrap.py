"""farflow_bootstrap's reads of S3 against moto: the pinned version of an object and not the
newest upload, the newest without a version, and a version that does not exist named with
its object; the operator's pins of objects that name no version, which the reads insist on."""

from __future__ import annotations

import uuid

import boto3
import pytest

from farflow.aws.bootstrap_objects import pins
from farflow.aws.session import AwsError
from farflow.runtime.farflow_bootstrap import BootstrapError, fetch
from tests.unit.planning import cluster

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


def test_the_operator_pins_what_names_no_version_and_a_newer_upload_is_refused() -> None:
    """A versioned bucket's object by its version, an unversioned one's by its ETag, which
    the pod's fetch then insists on; a pinned field costs no call, a missing object is named
    with its field."""
    s3, suffix = boto3.client("s3"), uuid.uuid4().hex[:12]
    plain, versioned = f"farflow-plain-{suffix}", f"farflow-versioned-{suffix}"
    for bucket in (plain, versioned):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
    etag = s3.put_object(Bucket=plain, Key="startup.sh", Body=b"export A=1\n")["ETag"]
    version = s3.put_object(Bucket=versioned, Key="plugins.zip", Body=b"zip")["VersionId"]
    airflow = {
        "startupScript": {"bucket": plain, "key": "startup.sh"},
        "plugins": {"bucket": versioned, "key": "plugins.zip"},
        "requirements": {"s3": {"bucket": plain, "key": "r.txt", "version": "v1"}},
    }
    found = pins(cluster({"spec": {"airflow": airflow}}), "us-east-1")
    assert found == {
        f"s3://{plain}/startup.sh": {"etag": etag},
        f"s3://{versioned}/plugins.zip": {"version": version},
    }
    pinned = {"bucket": plain, "key": "startup.sh", "etag": etag}
    assert fetch(pinned) == b"export A=1\n"
    s3.put_object(Bucket=plain, Key="startup.sh", Body=b"export A=2\n")
    with pytest.raises(BootstrapError) as raised:
        fetch(pinned)
    assert str(raised.value) == (
        f"s3://{plain}/startup.sh changed since FarFlow pinned it (ETag {etag}): the pods "
        "roll to the new upload on the operator's next pass"
    )
    missing = {"startupScript": {"bucket": plain, "key": "gone.sh"}}
    with pytest.raises(AwsError) as refused:
        pins(cluster({"spec": {"airflow": missing}}), "us-east-1")
    assert (refused.value.reason, str(refused.value)) == (
        "BootstrapObjectMissing",
        f"spec.airflow.startupScript: s3://{plain}/gone.sh does not exist: upload it, or fix "
        "the field",
    )
