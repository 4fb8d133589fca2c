"""Constrained string types shared by the spec: each says, in its error, what a valid value is."""

from typing import Annotated

from farflow.api.rules import Matching

K8sName = Annotated[
    str,
    Matching(
        "[a-z0-9]([-a-z0-9.]*[a-z0-9])?",
        "must be a Kubernetes object name: lowercase letters, digits, '-' and '.'",
        253,
    ),
]
AwsRegion = Annotated[
    str,
    Matching(
        "[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]", "must be an AWS region such as us-east-1", 32
    ),
]
IamRoleArn = Annotated[
    str,
    Matching(
        "arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+",
        "must be an IAM role ARN such as arn:aws:iam::123456789012:role/farflow",
        2048,
    ),
]
SubnetId = Annotated[
    str,
    Matching("subnet-[0-9a-f]{8,17}", "must be a subnet ID such as subnet-0123456789abcdef0", 32),
]
SecurityGroupId = Annotated[
    str,
    Matching("sg-[0-9a-f]{8,17}", "must be a security group ID such as sg-0123456789abcdef0", 32),
]
CpuQuantity = Annotated[
    str,
    Matching("[0-9]+(m|[.][0-9]+)?", "must be a CPU quantity such as 500m, 1 or 0.5 (vCPU)", 16),
]
MemoryQuantity = Annotated[
    str,
    Matching("[0-9]+(Mi|Gi|M|G)", "must be a memory quantity such as 512Mi or 2Gi", 16),
]
AirflowVersion = Annotated[
    str,
    Matching(
        "3[.][0-9]+[.][0-9]+",
        "must be an Airflow 3 release such as 3.3.2 (Airflow 2 is not supported)",
        16,
    ),
]
ImageRepository = Annotated[
    str,
    Matching(
        "[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?",
        "must be an image repository such as apache/airflow or "
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/airflow",
        255,
    ),
]
ImageDigest = Annotated[
    str,
    Matching(
        "sha256:[0-9a-f]{64}", "must be an image digest such as sha256:<64 hexadecimal digits>", 71
    ),
]
# repository[:tag][@sha256:digest], as a container's image (ECS task definitions).
ImageReference = Annotated[
    str,
    Matching(
        "[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?(@sha256:[0-9a-f]{64})?",
        "must be an image such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/task:1.0, "
        "optionally pinned as ...@sha256:<digest>",
        336,
    ),
]
ImageTag = Annotated[
    str,
    Matching(
        "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", "must be an image tag such as 3.3.2-python3.11", 128
    ),
]
EksClusterName = Annotated[
    str,
    Matching(
        "[0-9A-Za-z][A-Za-z0-9_-]{0,99}",
        "must be an EKS cluster name: letters, digits, '-' and '_', at most 100 characters",
        100,
    ),
]
EcsClusterName = Annotated[
    str,
    Matching(
        "[A-Za-z0-9_-]{1,255}", "must be an ECS cluster name: letters, digits, '-' and '_'", 255
    ),
]
BucketName = Annotated[
    str,
    Matching(
        "[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
        "must be an S3 bucket name: 3 to 63 lowercase letters, digits, '.' and '-'",
        63,
    ),
]
GitRepository = Annotated[
    str,
    Matching(
        "(https://|ssh://|git@)[^ ]+",
        "must be a Git repository URL starting with https://, ssh:// or git@",
        2048,
    ),
]
HttpUrl = Annotated[
    str,
    Matching(
        "https?://[^ /]+(/[^ ]*)?",
        "must be an http:// or https:// URL such as http://airflow.internal.example:8080",
        2048,
    ),
]
QueueName = Annotated[
    str,
    Matching(
        "[a-z0-9][a-z0-9_-]{0,39}",
        "must be a queue name: lowercase letters, digits, '-' and '_', at most 40 characters",
        40,
    ),
]
# A worker pool's name ends its Deployment's, <cluster>-worker-<pool>.
PoolName = Annotated[
    str,
    Matching(
        "[a-z]([a-z0-9-]{0,18}[a-z0-9])?",
        "must be a pool name: lowercase letters, digits and '-', at most 20 characters",
        20,
    ),
]
EnvVarName = Annotated[
    str,
    Matching(
        "[A-Za-z_][A-Za-z0-9_]*", "must be an environment variable name such as MY_SETTING", 256
    ),
]
LogGroupName = Annotated[
    str,
    Matching(
        "[A-Za-z0-9_./#-]{1,512}",
        "must be a CloudWatch log group name: letters, digits, '_', '-', '/', '.' and '#'",
        512,
    ),
]
AirflowKey = Annotated[
    str,
    Matching(
        "[A-Za-z0-9_.-]{1,250}",
        "must be an Airflow key: letters, digits, '_', '.' and '-', at most 250 characters",
        250,
    ),
]
SecretsManagerArn = Annotated[
    str,
    Matching(
        "arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+",
        "must be a Secrets Manager secret ARN such as "
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/team-a/warehouse-AbCdEf",
        2048,
    ),
]
SecretNamePrefix = Annotated[
    str,
    Matching(
        "[A-Za-z0-9/_+=.@-]{1,400}",
        "must be the start of a Secrets Manager secret name: letters, digits and /_+=.@-",
        400,
    ),
]
AcmCertificateArn = Annotated[
    str,
    Matching(
        "arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+",
        "must be an ACM certificate ARN such as "
        "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-...",
        2048,
    ),
]
Cidr = Annotated[
    str,
    Matching(
        "([0-9]{1,3}[.]){3}[0-9]{1,3}/[0-9]{1,2}|[0-9a-fA-F:]+/[0-9]{1,3}",
        "must be a CIDR block such as 203.0.113.0/24",
        64,
    ),
]
KmsKeyArn = Annotated[
    str,
    Matching(
        "arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+",
        "must be a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-...",
        2048,
    ),
]
CloudWatchNamespace = Annotated[
    str,
    Matching(
        "[A-Za-z0-9_./#:-]{1,255}",
        "must be a CloudWatch namespace: letters, digits and '_', '.', '/', '#', ':', '-'",
        255,
    ),
]
SnsTopicArn = Annotated[
    str,
    Matching(
        "arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}",
        "must be an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:airflow-alarms",
        2048,
    ),
]
