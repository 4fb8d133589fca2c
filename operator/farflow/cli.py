"""The `farflow` command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from farflow.api import AirflowCluster, FieldError, field_errors, identity_changes, parse, resolve
from farflow.api.crd import crd
from farflow.autoscale import AUTOSCALE_SECONDS
from farflow.aws.session import AwsError
from farflow.dev.cli import add_dev
from farflow.render import rendered


@dataclass(frozen=True)
class Document:
    """One YAML document of an input file, named for error messages."""

    source: str
    body: Any


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        return int(args.command(args))
    except (OSError, yaml.YAMLError, AwsError) as error:
        print(f"farflow: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="farflow", description="Apache Airflow 3 on AWS EKS Fargate, as an operator."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    commands.add_parser("crd", help="print the AirflowCluster CRD").set_defaults(command=_crd)
    for name, command, text in (
        ("validate", _validate, "check AirflowCluster manifests and print every error"),
        ("resolve", _resolve, "print each AirflowCluster's spec with every default resolved"),
        ("render", _render, "print the Kubernetes manifests the operator would apply"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument(
            "-f",
            "--filename",
            action="append",
            required=True,
            type=Path,
            help="manifest file or folder of *.yaml files; repeatable, - for stdin",
        )
        sub.set_defaults(command=command)
    commands.choices["validate"].add_argument(
        "--previous",
        action="append",
        default=[],
        type=Path,
        help="the manifests as they are applied now (repeatable): also report each change of "
        "a field the API server refuses to change, as it would on kubectl apply",
    )
    commands.choices["render"].add_argument(
        "--account-id",
        default="000000000000",
        help="AWS account for the queue URLs and log group ARN (render does not call AWS)",
    )
    _add_run(commands.add_parser("run", help="run the operator"))
    add_dev(commands.add_parser("dev", help="run an AirflowCluster on this machine"))
    return parser


def _add_run(run: argparse.ArgumentParser) -> None:
    scope = run.add_mutually_exclusive_group()
    scope.add_argument(
        "-n", "--namespace", action="append", default=[], help="watch this namespace (repeatable)"
    )
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="watch every namespace (the default)"
    )
    run.add_argument(
        "--liveness",
        default="http://0.0.0.0:8080/healthz",
        help="liveness endpoint URL (default: %(default)s)",
    )
    run.add_argument(
        "--peering",
        metavar="NAME",
        help="coordinate replicas through this KopfPeering (else standalone)",
    )
    run.add_argument(
        "--resync-seconds",
        type=float,
        default=30.0,
        help="how often every cluster is reconciled again (default: %(default)s)",
    )
    run.add_argument(
        "--aws-recheck-seconds",
        type=float,
        default=300.0,
        help="how often a settled cluster's AWS resources are checked again; spec changes "
        "and anything still converging are checked at once (default: %(default)s)",
    )
    run.add_argument(
        "--autoscale-seconds",
        type=float,
        default=AUTOSCALE_SECONDS,
        help="how often the autoscaler reads each cluster's queue depth (default: %(default)s)",
    )
    run.add_argument("--log-format", choices=["json", "plain"], default="json")
    run.set_defaults(command=_run)


def _run(args: argparse.Namespace) -> int:
    """The operator. Its modules (kopf, the handlers) are imported only when it runs: they
    take a second that `farflow dev`, `validate` and `render` need not wait for."""
    run: Callable[[argparse.Namespace], int] = importlib.import_module("farflow.handlers").run
    return run(args)


def _crd(_: argparse.Namespace) -> int:
    _dump(crd())
    return 0


def _validate(args: argparse.Namespace) -> int:
    invalid = 0
    previous = {_identity(d.body): d.body for d in _documents(args.previous)}
    for document in _documents(args.filename):
        cluster, errors = _checked(document, previous.get(_identity(document.body)))
        for error in errors:
            print(f"{document.source}: {error}")
        if cluster is None:
            invalid += 1
        else:
            print(f"{document.source}: AirflowCluster {cluster.metadata.name} is valid")
    return 1 if invalid else 0


def _identity(body: Any) -> tuple[str, str] | None:
    """namespace and name of a manifest, to pair it with its previous version."""
    meta = body.get("metadata") if isinstance(body, dict) else None
    if not isinstance(meta, dict):
        return None
    return (str(meta.get("namespace", "default")), str(meta.get("name")))


def _resolve(args: argparse.Namespace) -> int:
    clusters = _valid_clusters(args.filename)
    for cluster in clusters or []:
        _dump(_resolved_manifest(cluster))
    return 0 if clusters is not None else 1


def _render(args: argparse.Namespace) -> int:
    clusters = _valid_clusters(args.filename)
    for cluster in clusters or []:
        for manifest in rendered(cluster, args.account_id):
            _dump(manifest)
    return 0 if clusters is not None else 1


def _valid_clusters(paths: list[Path]) -> list[AirflowCluster] | None:
    """Every cluster in ``paths``, or None (with errors on stderr) if any is invalid."""
    clusters = []
    for document in _documents(paths):
        cluster, errors = _checked(document)
        if cluster is None:
            for error in errors:
                print(f"{document.source}: {error}", file=sys.stderr)
            return None
        clusters.append(cluster)
    return clusters


def _checked(
    document: Document, before: Any = None
) -> tuple[AirflowCluster | None, list[FieldError]]:
    """The cluster, or the errors that make it invalid; with ``before``, the version it
    would replace, a changed identity is one."""
    if not isinstance(document.body, dict):
        return None, [FieldError("(document)", "must be a mapping (an AirflowCluster object)")]
    try:
        cluster = parse(document.body)
    except ValidationError as error:
        return None, field_errors(error)
    changes = identity_changes(before, document.body) if before is not None else []
    return (None, changes) if changes else (cluster, [])


def _resolved_manifest(cluster: AirflowCluster) -> dict[str, Any]:
    return {
        "apiVersion": cluster.api_version,
        "kind": cluster.kind,
        "metadata": cluster.metadata.model_dump(exclude_none=True),
        "spec": resolve(cluster).spec.model_dump(by_alias=True, exclude_none=True, mode="json"),
    }


def _documents(paths: list[Path]) -> Iterator[Document]:
    for path in paths:
        for file in _manifest_files(path):
            text = sys.stdin.read() if file == Path("-") else file.read_text()
            for index, body in enumerate(yaml.safe_load_all(text)):
                if body is not None:
                    yield Document(f"{file}[{index}]", body)


def _manifest_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    return [path]


def _dump(document: dict[str, Any]) -> None:
    sys.stdout.write("---\n" + yaml.safe_dump(document, sort_keys=False, width=1000))


if __name__ == "__main__":
    sys.exit(main())
