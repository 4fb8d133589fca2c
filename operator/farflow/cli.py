"""The `farflow` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from farflow.api import AirflowCluster, FieldError, field_errors, parse, resolve
from farflow.api.crd import crd


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
    except (OSError, yaml.YAMLError) as error:
        print(f"farflow: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="farflow", description="Apache Airflow 3 on AWS EKS Fargate, as an operator."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    commands.add_parser("crd", help="print the AirflowCluster CRD").set_defaults(command=_crd)
    for name, command, text in (
        ("validate", _validate, "check AirflowCluster manifests and print every error"),
        ("render", _render, "print each AirflowCluster's spec with every default resolved"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument(
            "-f", "--filename", action="append", required=True, type=Path,
            help="manifest file or folder of *.yaml files; repeatable, - for stdin",
        )  # fmt: skip
        sub.set_defaults(command=command)
    return parser


def _crd(_: argparse.Namespace) -> int:
    _dump(crd())
    return 0


def _validate(args: argparse.Namespace) -> int:
    invalid = 0
    for document in _documents(args.filename):
        cluster, errors = _checked(document)
        for error in errors:
            print(f"{document.source}: {error}")
        if cluster is None:
            invalid += 1
        else:
            print(f"{document.source}: AirflowCluster {cluster.metadata.name} is valid")
    return 1 if invalid else 0


def _render(args: argparse.Namespace) -> int:
    clusters = []
    for document in _documents(args.filename):
        cluster, errors = _checked(document)
        if cluster is None:
            for error in errors:
                print(f"{document.source}: {error}", file=sys.stderr)
            return 1
        clusters.append(cluster)
    for cluster in clusters:
        _dump(_resolved_manifest(cluster))
    return 0


def _checked(document: Document) -> tuple[AirflowCluster | None, list[FieldError]]:
    if not isinstance(document.body, dict):
        return None, [FieldError("(document)", "must be a mapping (an AirflowCluster object)")]
    try:
        return parse(document.body), []
    except ValidationError as error:
        return None, field_errors(error)


def _resolved_manifest(cluster: AirflowCluster) -> dict[str, Any]:
    return {
        "apiVersion": cluster.api_version,
        "kind": cluster.kind,
        "metadata": cluster.metadata.model_dump(exclude_none=True),
        "spec": resolve(cluster).model_dump(by_alias=True, exclude_none=True, mode="json"),
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
