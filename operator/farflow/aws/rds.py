"""The RDS PostgreSQL instance of a cluster's metadata database.

The master password is generated and kept in Secrets Manager before the instance is created,
so no crash in between can lose it. Nothing here waits: callers requeue until `ready`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from farflow.api.names import RdsNames
from farflow.api.spec import RdsSpec
from farflow.aws.secrets import (
    SecretState,
    delete_secret,
    ensure_secret,
    generate_password,
    read_secret,
)
from farflow.aws.session import TAG_KEY, AwsError, client, error_code, failed, tagged_owner

_failed = partial(failed, "rds")

USERNAME = "airflow"
DATABASE = "airflow"
USABLE = {"available", "backing-up", "modifying", "storage-optimization"}
_BUSY = "InvalidDBInstanceState"  # e.g. still creating: no final snapshot can be taken yet


@dataclass(frozen=True)
class DatabaseState:
    """What AWS reports of the instance: safe for status (the password is only in AWS)."""

    identifier: str
    arn: str
    status: str  # creating, available, backing-up, modifying, deleting, ...
    host: str | None  # None until RDS assigned the endpoint
    port: int | None
    username: str
    database: str
    secret_id: str | None  # the Secrets Manager secret of the password; None if unknown
    changes: tuple[str, ...] = ()  # spec fields the instance does not have yet

    @property
    def ready(self) -> bool:
        return self.host is not None and self.status in USABLE


def connection_url(state: DatabaseState, secret_value: str) -> str:
    """The SQLAlchemy URL of the Airflow database; it holds the password: Secrets only.
    ``secret_value`` is the password, or RDS's JSON secret with a password key."""
    password = _password_in(secret_value)
    credentials = f"{quote(state.username, safe='')}:{quote(password, safe='')}"
    return f"postgresql+psycopg2://{credentials}@{state.host}:{state.port}/{state.database}"


def _password_in(secret_value: str) -> str:
    try:
        parsed = json.loads(secret_value)
    except ValueError:
        return secret_value
    return (
        str(parsed["password"])
        if isinstance(parsed, dict) and "password" in parsed
        else secret_value
    )


def ensure_database(
    region: str,
    spec: RdsSpec,
    names: RdsNames,
    owner: str,
    password_secret_id: str,
    *,
    kms_key: str | None = None,
) -> DatabaseState:
    """Creates the instance (with its password secret and subnet group) when the spec asks
    for it and it is missing; adopts an existing one by identifier when spec.create is false.
    The password is read with `secrets.read_secret(region, state.secret_id)`."""
    rds, identifier = client("rds", region), names.instance
    try:
        found = _instance(rds, identifier)
        if not spec.create:
            adopted = _adopted(found, identifier)
            return _state(adopted, spec.master_password_secret or _managed_secret(adopted))
        if found is not None and tagged_owner(found.get("TagList", [])) != owner:
            raise _not_ours(identifier)
        secret = _password(region, found, identifier, owner, password_secret_id, kms_key=kms_key)
        if found is None:
            found = _create(rds, spec, names, owner, secret.value, kms_key=kms_key)
        changes = _apply_spec(rds, spec, found)
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, identifier) from error
    return _state(found, secret.secret_id, changes)


def delete_database(
    region: str, spec: RdsSpec, names: RdsNames, owner: str, password_secret_id: str
) -> bool:
    """Cleans up what ensure_database created, as spec.deletion_policy says; True when done.

    Snapshot: delete with the final snapshot names.final_snapshot; Delete: without one;
    Retain: nothing. An instance not tagged ours (adopted) is never deleted, nor its password."""
    if spec.deletion_policy == "Retain":
        return True
    rds = client("rds", region)
    final_snapshot = names.final_snapshot if spec.deletion_policy == "Snapshot" else None
    try:
        if not _instance_gone(rds, names.instance, owner, final_snapshot):
            return False
        _delete_subnet_group(rds, names.subnet_group, owner)
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, names.instance) from error
    return delete_secret(region, password_secret_id, owner)


def _not_ours(identifier: str) -> AwsError:
    return AwsError(
        "DatabaseNotOwned",
        f"RDS instance {identifier} exists but is not tagged {TAG_KEY} for this cluster; "
        "choose another instanceIdentifier, or set create: false to adopt it",
    )


def _instance(rds: Any, identifier: str) -> dict[str, Any] | None:
    try:
        found = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    except ClientError as error:
        if error_code(error) == "DBInstanceNotFound":
            return None
        raise
    instance: dict[str, Any] = found[0]
    return instance


def _adopted(found: dict[str, Any] | None, identifier: str) -> dict[str, Any]:
    if found is None:
        raise AwsError(
            "DatabaseNotFound",
            f"RDS instance {identifier} does not exist; create it, or set create: true",
        )
    return found


def _password(
    region: str,
    found: dict[str, Any] | None,
    identifier: str,
    owner: str,
    secret_id: str,
    *,
    kms_key: str | None,
) -> SecretState:
    """The stored master password; a new one only while the instance does not exist yet."""
    if found is None:
        return ensure_secret(region, secret_id, generate_password, owner, kms_key)
    secret = read_secret(region, secret_id)
    if secret is None:
        raise AwsError(
            "DatabasePasswordMissing",
            f"the Secrets Manager secret {secret_id} with the master password of RDS instance "
            f"{identifier} is gone; restore it, or reset the password and store it there",
        )
    return secret


def _create(
    rds: Any, spec: RdsSpec, names: RdsNames, owner: str, password: str, *, kms_key: str | None
) -> dict[str, Any]:
    tags = [{"Key": TAG_KEY, "Value": owner}]
    group = spec.subnet_group_name or _ensure_subnet_group(rds, spec, names, tags)
    optional: dict[str, Any] = {}
    if spec.security_group_ids:
        optional["VpcSecurityGroupIds"] = spec.security_group_ids
    if kms_key:
        optional["KmsKeyId"] = kms_key  # fixed for the instance's life
    created = rds.create_db_instance(
        DBInstanceIdentifier=names.instance,
        DBInstanceClass=spec.instance_class,
        AllocatedStorage=spec.allocated_storage,
        StorageType="gp3",
        StorageEncrypted=True,
        Engine="postgres",
        EngineVersion=spec.engine_version,
        MultiAZ=spec.multi_az,
        DBName=DATABASE,
        MasterUsername=USERNAME,
        MasterUserPassword=password,
        DBSubnetGroupName=group,
        PubliclyAccessible=False,
        BackupRetentionPeriod=7,
        CopyTagsToSnapshot=True,  # the final snapshot carries our tag too
        DeletionProtection=False,  # deletion follows spec.deletionPolicy
        Tags=tags,
        **optional,
    )
    instance: dict[str, Any] = created["DBInstance"]
    return instance


def _ensure_subnet_group(
    rds: Any, spec: RdsSpec, names: RdsNames, tags: list[dict[str, str]]
) -> str:
    """The subnet group named after the instance, created from spec.subnet_ids if missing."""
    name = names.subnet_group
    try:
        rds.create_db_subnet_group(
            DBSubnetGroupName=name,
            DBSubnetGroupDescription=f"FarFlow: subnets of the RDS instance {names.instance}",
            SubnetIds=spec.subnet_ids,
            Tags=tags,
        )
    except ClientError as error:
        if error_code(error) != "DBSubnetGroupAlreadyExists":
            raise
    return name


def _managed_secret(instance: dict[str, Any]) -> str | None:
    """The secret RDS keeps the master password in, when the instance lets RDS manage it."""
    managed = instance.get("MasterUserSecret") or {}
    return str(managed["SecretArn"]) if managed.get("SecretArn") else None


def _state(
    instance: dict[str, Any], secret_id: str | None, changes: tuple[str, ...] = ()
) -> DatabaseState:
    endpoint = instance.get("Endpoint") or {}
    port = endpoint.get("Port")
    return DatabaseState(
        identifier=str(instance["DBInstanceIdentifier"]),
        arn=str(instance["DBInstanceArn"]),
        status=str(instance["DBInstanceStatus"]),
        host=endpoint.get("Address"),
        port=None if port is None else int(port),
        username=str(instance.get("MasterUsername", USERNAME)),
        database=str(instance.get("DBName") or DATABASE),
        secret_id=secret_id,
        changes=changes,
    )


# Spec field (as the user writes it) -> the instance's attribute, for changes made in place.
_MODIFIABLE = {
    "instanceClass": "DBInstanceClass",
    "allocatedStorage": "AllocatedStorage",
    "multiAZ": "MultiAZ",
    "engineVersion": "EngineVersion",
}


def _apply_spec(rds: Any, spec: RdsSpec, instance: dict[str, Any]) -> tuple[str, ...]:
    """Modifies the instance where it differs from the spec (now, or in the maintenance
    window); the spec fields it does not have yet. A change RDS is already making is not
    asked for again."""
    wanted: dict[str, Any] = {
        "DBInstanceClass": spec.instance_class,
        "AllocatedStorage": spec.allocated_storage,
        "MultiAZ": spec.multi_az,
        "EngineVersion": spec.engine_version,
    }
    differ = {key: value for key, value in wanted.items() if not _has(instance, key, value)}
    pending = instance.get("PendingModifiedValues") or {}
    ask = {key: value for key, value in differ.items() if not _has(pending, key, value)}
    if ask and instance["DBInstanceStatus"] == "available":
        _check_modifiable(instance, ask)
        major = "EngineVersion" in ask and _major(ask["EngineVersion"]) != _major(
            instance["EngineVersion"]
        )
        rds.modify_db_instance(
            DBInstanceIdentifier=instance["DBInstanceIdentifier"],
            ApplyImmediately=spec.apply_immediately,
            AllowMajorVersionUpgrade=major,
            **ask,
        )
    return tuple(field for field, key in _MODIFIABLE.items() if key in differ)


def _has(described: dict[str, Any], key: str, wanted: object) -> bool:
    """Whether the instance (or its pending values) has the wanted value; an engine version
    given as a major version matches any minor of it."""
    found = described.get(key)
    if key == "EngineVersion" and isinstance(found, str):
        return found == wanted or found.startswith(f"{wanted}.")
    return bool(found == wanted)


def _major(version: str) -> int:
    return int(version.split(".", maxsplit=1)[0])


def _check_modifiable(instance: dict[str, Any], ask: dict[str, Any]) -> None:
    """What RDS cannot do in place, said before it refuses: shrink storage, downgrade."""
    identifier = instance["DBInstanceIdentifier"]
    if ask.get("AllocatedStorage", instance["AllocatedStorage"]) < instance["AllocatedStorage"]:
        raise AwsError(
            "StorageCannotShrink",
            f"RDS instance {identifier} has {instance['AllocatedStorage']} GiB: allocatedStorage "
            "can grow, never shrink",
        )
    if "EngineVersion" in ask and _major(ask["EngineVersion"]) < _major(instance["EngineVersion"]):
        raise AwsError(
            "EngineCannotDowngrade",
            f"RDS instance {identifier} runs PostgreSQL {instance['EngineVersion']}: "
            "engineVersion cannot go back",
        )


def _instance_gone(rds: Any, identifier: str, owner: str, final_snapshot: str | None) -> bool:
    """Starts deleting our instance (after a final snapshot when named); True once no
    instance of ours is left."""
    found = _instance(rds, identifier)
    if found is None or tagged_owner(found.get("TagList", [])) != owner:
        return True
    if found["DBInstanceStatus"] == "deleting":
        return False
    final = {"FinalDBSnapshotIdentifier": final_snapshot} if final_snapshot else {}
    try:
        rds.delete_db_instance(
            DBInstanceIdentifier=identifier, SkipFinalSnapshot=final_snapshot is None, **final
        )
    except ClientError as error:
        if error_code(error) == "DBSnapshotAlreadyExists" and final_snapshot:
            _adopt_final_snapshot(rds, final_snapshot, identifier, owner)
            rds.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)
        elif error_code(error) != _BUSY:
            raise
    return False


def _adopt_final_snapshot(rds: Any, snapshot: str, identifier: str, owner: str) -> None:
    """An earlier pass of this deletion took the final snapshot (its answer was lost): the
    instance may go without another. A snapshot that is not this instance's is refused."""
    [found] = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"]
    if found.get("DBInstanceIdentifier") != identifier or tagged_owner(found["TagList"]) != owner:
        raise AwsError(
            "FinalSnapshotNotOwned",
            f"the final snapshot {snapshot} of RDS instance {identifier} exists but is not its "
            "own; delete or rename that snapshot, or set deletionPolicy: Delete",
        )


def _delete_subnet_group(rds: Any, name: str, owner: str) -> None:
    """Deletes the subnet group named after the instance, if it is ours."""
    try:
        arn = rds.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"][0]
        tags = rds.list_tags_for_resource(ResourceName=arn["DBSubnetGroupArn"])["TagList"]
        if tagged_owner(tags) == owner:
            rds.delete_db_subnet_group(DBSubnetGroupName=name)
    except ClientError as error:
        if error_code(error) != "DBSubnetGroupNotFoundFault":
            raise
