"""Fargate pod logs to CloudWatch: each cluster's Fluent Bit output in the shared
`aws-observability/aws-logging` ConfigMap that EKS Fargate's built-in log router reads.

The ConfigMap is shared by everything on the EKS cluster, so FarFlow edits only its own
marked block of `output.conf` and keeps every other line as it was. EKS accepts at most 5300
characters in it: past that the log router takes no configuration, and logging stops for
every Fargate pod of the EKS cluster, not only FarFlow's. A block that would not fit is not
written, and its cluster says so (PodLogsReady=False).
"""

from __future__ import annotations

from kubernetes.dynamic.exceptions import ConflictError

from farflow.api.status import Condition, ConditionType
from farflow.kube.client import Kube
from farflow.objects import Manifest

NAMESPACE, CONFIG_MAP, KEY = "aws-observability", "aws-logging", "output.conf"
ENABLED_LABEL = {"aws-observability": "enabled"}  # Fargate reads the ConfigMap only then
LIMIT = 5300  # characters of the ConfigMap's data, EKS Fargate's limit
CONDITION: ConditionType = "PodLogsReady"


class LogRouterFullError(Exception):
    """The cluster's block would take the ConfigMap past LIMIT."""


def output_block(namespace: str, name: str, region: str, log_group: str) -> str:
    """The Fluent Bit output for the pods of one AirflowCluster (their names start with it)."""
    return "\n".join(
        [
            "[OUTPUT]",
            "    Name cloudwatch_logs",
            f"    Match kube.var.log.containers.{name}-*_{namespace}_*",
            f"    region {region}",
            f"    log_group_name {log_group}",
            "    log_stream_prefix pods-",
            "    auto_create_group false",
        ]
    )


def with_block(text: str, owner: str, block: str | None) -> str:
    """``text`` with the block of ``owner`` replaced by ``block`` where it stands (removed
    when None, appended when new): the others' blocks keep their places, so clusters that
    share the ConfigMap never rewrite it in turn."""
    begin, end = f"# BEGIN farflow {owner}", f"# END farflow {owner}"
    lines = text.splitlines()
    wanted = [] if block is None else [begin, *block.splitlines(), end]
    if begin in lines and end in lines[lines.index(begin) :]:
        start = lines.index(begin)
        lines[start : lines.index(end, start) + 1] = wanted
    else:
        lines += wanted
    return "\n".join(lines) + "\n" if lines else ""


def route_pod_logs(kube: Kube, owner: str, block: str | None, log_group: str) -> Condition:
    """Writes ``owner``'s block (None: none wanted), and says whether its pod logs reach
    ``log_group``."""
    try:
        sync_logging(kube, owner, block)
    except LogRouterFullError as full:
        return Condition.of(CONDITION, False, "LogRouterConfigFull", str(full))
    if block is None:
        message = "no pod logs are routed (CloudWatch is off, or its log group not ready yet)"
        return Condition.of(CONDITION, True, "NotRouted", message)
    return Condition.of(CONDITION, True, "Routed", f"pod logs go to {log_group}")


def sync_logging(kube: Kube, owner: str, block: str | None) -> bool:
    """Writes ``owner``'s block (or removes it); True once the ConfigMap says what it should.

    A concurrent writer makes the update conflict; the next reconcile tries again. Raises
    LogRouterFullError, writing nothing, when the block would not fit.
    """
    if block is not None and kube.get("v1", "Namespace", NAMESPACE, "") is None:
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": NAMESPACE, "labels": ENABLED_LABEL},
            }
        )
    live = kube.get("v1", "ConfigMap", CONFIG_MAP, NAMESPACE)
    data = (live or {}).get("data") or {}
    current = data.get(KEY, "")
    wanted = with_block(current, owner, block)
    if wanted == current:
        return True
    size = sum(len(value) for key, value in data.items() if key != KEY) + len(wanted)
    if size > LIMIT and len(wanted) > len(current):
        raise LogRouterFullError(
            f"{NAMESPACE}/{CONFIG_MAP} would have {size} characters with this cluster's "
            f"block, above the {LIMIT} EKS Fargate accepts (past them Fargate logs nothing "
            "for any pod); free room there, or set spec.logging.cloudwatch.enabled: false"
        )
    try:
        _write(kube, live, wanted)
    except ConflictError:
        return False
    return True


def _write(kube: Kube, live: Manifest | None, output: str) -> None:
    if live is None:
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": CONFIG_MAP, "namespace": NAMESPACE},
                "data": {KEY: output},
            }
        )
        return
    live.setdefault("data", {})[KEY] = output
    kube.replace(live)  # carries resourceVersion: a concurrent change conflicts
