"""The customer-managed KMS key a cluster's AWS resources are encrypted with (spec.aws.
kmsKeyArn): checked once per reconcile before anything is made with it, so a key FarFlow may
not use is one clear condition rather than an error from every service."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from farflow.aws.session import AwsError, client, error_code, explain

# What FarFlow's own role needs on the key, besides kms:DescribeKey: RDS grants itself the
# key through the caller (kms:CreateGrant), Secrets Manager encrypts the passwords with the
# caller's rights (kms:GenerateDataKey, kms:Decrypt). SQS, S3 and CloudWatch Logs use it
# with the key policy's grants to the Airflow role and the logs service (README).
OPERATOR_GRANTS = ("kms:DescribeKey", "kms:CreateGrant", "kms:GenerateDataKey", "kms:Decrypt")
_DENIED = {"AccessDeniedException", "AccessDenied"}


def check_key(region: str, key_arn: str) -> str:
    """The key's ARN, once it is an enabled symmetric encryption key FarFlow may describe."""
    kms = client("kms", region)
    try:
        key = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    except ClientError as error:
        if error_code(error) in _DENIED:
            raise _unusable(
                key_arn,
                "FarFlow may not use it: its key policy (or the operator's role) must grant "
                f"the operator's role {', '.join(OPERATOR_GRANTS)}; kms:DescribeKey was denied",
            ) from error
        raise explain(error, f"kms:DescribeKey {key_arn}") from error
    except BotoCoreError as error:
        raise explain(error, f"kms:DescribeKey {key_arn}") from error
    if key.get("KeyState") != "Enabled":
        raise _unusable(key_arn, f"it is {key.get('KeyState')}: enable it, or name another key")
    usage = key.get("KeyUsage", "ENCRYPT_DECRYPT")  # the default; moto leaves it out
    if usage != "ENCRYPT_DECRYPT" or key.get("KeySpec") != "SYMMETRIC_DEFAULT":
        raise _unusable(key_arn, "it is not a symmetric encryption key (SYMMETRIC_DEFAULT)")
    return str(key["Arn"])


def _unusable(key_arn: str, why: str) -> AwsError:
    return AwsError("KmsKeyUnusable", f"KMS key {key_arn} cannot encrypt the cluster: {why}")
