"""One error hierarchy for the whole platform (DESIGN §4.7).

The API renders it as ``{"code", "message", "extra"}`` with a 4xx; the UI shows ``message``
(Simplified Chinese) next to the field named in ``extra["fields"]``.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra: dict[str, Any] = extra or {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "extra": self.extra}


class ValidationFailed(ApplicationError):
    """Bad input. ``fields`` maps a field name to its Chinese message."""

    status_code = 400
    code = "validation_failed"

    def __init__(self, fields: dict[str, str], *, message: str | None = None, code: str | None = None):
        first = next(iter(fields.values()), "输入有误")
        super().__init__(message or first, code=code, extra={"fields": fields})
        self.fields = fields


class NotFound(ApplicationError):
    """Also what a caller gets for a record outside its area: it must not learn the record exists."""

    status_code = 404
    code = "not_found"

    def __init__(self, message: str = "记录不存在或不在您的管辖范围内", **kw: Any):
        super().__init__(message, **kw)


class PermissionDenied(ApplicationError):
    status_code = 403
    code = "permission_denied"

    def __init__(self, message: str = "您没有执行此操作的权限", **kw: Any):
        super().__init__(message, **kw)


class ApprovalRequired(ApplicationError):
    """The action needs a second person's recorded approval first (minors' records, bulk export)."""

    status_code = 403
    code = "approval_required"


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"


class Throttled(ApplicationError):
    status_code = 429
    code = "throttled"
