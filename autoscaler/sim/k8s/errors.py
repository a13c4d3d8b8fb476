"""kube-apiserver ``Status`` error bodies with the real server's wording (API-BEHAVIOUR §3).

Clients branch on ``code``/``reason`` and humans read ``message``: both must match the Go
source (``k8s.io/apimachinery/pkg/api/errors``), so every constructor lives here once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from autoscaler.sim.k8s.types import Obj, ResourceType

# --------------------------------------------------------------------------------------------
# Errors: kube-apiserver Status bodies
# --------------------------------------------------------------------------------------------


class K8sError(Exception):
    """An API error that renders as a ``kind: Status`` body with the real server's wording."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        #: ``metadata.continue`` of the Status (an expired list's inconsistent-continue token)
        self.list_continue = ""

    def to_status(self) -> Obj:
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {"continue": self.list_continue} if self.list_continue else {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def status_details(rt: ResourceType, name: str = "", **extra: Any) -> Obj:
    out: Obj = {}
    if name:
        out["name"] = name
    if rt.group:
        out["group"] = rt.group
    out["kind"] = rt.resource
    out.update(extra)
    return out


def not_found(rt: ResourceType, name: str) -> K8sError:
    return K8sError(404, "NotFound", f'{rt.qualified} "{name}" not found', status_details(rt, name))


def already_exists(rt: ResourceType, name: str) -> K8sError:
    return K8sError(
        409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', status_details(rt, name)
    )


def conflict(rt: ResourceType, name: str) -> K8sError:
    return K8sError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        status_details(rt, name),
    )


def bad_request(message: str) -> K8sError:
    return K8sError(400, "BadRequest", message)


def decode_error(rt: ResourceType, err: str) -> K8sError:
    return bad_request(
        f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {err}'
    )


def internal_error(message: str) -> K8sError:
    return K8sError(
        500,
        "InternalError",
        f"Internal error occurred: {message}",
        {"causes": [{"message": message}]},
    )


def unauthorized() -> K8sError:
    return K8sError(401, "Unauthorized", "Unauthorized")


def forbidden(
    rt: ResourceType | None,
    *,
    name: str,
    user: str,
    verb: str,
    resource: str,
    group: str,
    namespace: str,
    reason: str = "",
) -> K8sError:
    """403 as written by the authorization filter (§3.5)."""
    subject = rt.qualified if rt is not None else resource.split("/")[0]
    head = f'{subject} "{name}"' if name else subject
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (
        f'{head} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "{group}" {where}'
    )
    if reason:
        message += f": {reason}"
    details: Obj = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = resource.split("/")[0]
    return K8sError(403, "Forbidden", message, details)


def forbidden_path(*, user: str, verb: str, path: str, reason: str = "") -> K8sError:
    """403 for a non-resource URL: ``NewForbidden`` with an empty GroupResource writes
    ``forbidden: User "U" cannot get path "/x"`` (responsewriters/errors.go)."""
    message = f'forbidden: User "{user}" cannot {verb} path "{path}"'
    if reason:
        message += f": {reason}"
    return K8sError(403, "Forbidden", message, {})


def resource_not_served() -> K8sError:
    return K8sError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed() -> K8sError:
    return K8sError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
    )


def unsupported_media_type(accepted: Sequence[str]) -> K8sError:
    return K8sError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: rendered ``<field>: <body>`` in messages and as a cause."""

    field: str
    type: Literal["Invalid", "Required", "Forbidden"]
    detail: str = ""
    value: Any = None
    #: print ``value`` as is (Go ``%#v`` of a non-string, e.g. ``0x0``), not quoted
    raw: bool = False

    @property
    def reason(self) -> str:
        return {
            "Invalid": "FieldValueInvalid",
            "Required": "FieldValueRequired",
            "Forbidden": "FieldValueForbidden",
        }[self.type]

    @property
    def body(self) -> str:
        if self.type == "Invalid":
            shown = str(self.value) if self.raw else _go_value(self.value)
            return f"Invalid value: {shown}: {self.detail}"
        if self.type == "Required":
            return "Required value" + (f": {self.detail}" if self.detail else "")
        return "Forbidden" + (f": {self.detail}" if self.detail else "")


def _go_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def invalid(
    qualified_kind: str, name: str, errors: Sequence[FieldError], *, group: str, kind: str
) -> K8sError:
    """422 Invalid (``errors.NewInvalid``)."""
    if len(errors) == 1:
        summary = f"{errors[0].field}: {errors[0].body}"
    else:
        summary = "[" + ", ".join(f"{e.field}: {e.body}" for e in errors) + "]"
    details: Obj = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [{"reason": e.reason, "message": e.body, "field": e.field} for e in errors]
    return K8sError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {summary}', details)


def invalid_object(rt: ResourceType, name: str, errors: Sequence[FieldError]) -> K8sError:
    return invalid(rt.group_kind, name, errors, group=rt.group, kind=rt.kind)
