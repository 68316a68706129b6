"""The error answers of the loopback GitHub, with GitHub's messages and body shape."""

from __future__ import annotations

from typing import Any

DOCS = "https://docs.github.com/rest"


class ApiError(Exception):
    """An HTTP error answer: `basic-error`, or `validation-error` when `errors` is given."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
        spends_budget: bool = True,
    ) -> None:
        super().__init__(message)
        # Throttling and injected failures are not charged to the caller's hourly budget.
        self.spends_budget = spends_budget
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message": self.message,
            "documentation_url": DOCS,
            "status": str(self.status),
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def invalid(resource: str, field: str, code: str = "invalid") -> ApiError:
    return ApiError(
        422,
        "Validation Failed",
        errors=[{"resource": resource, "field": field, "code": code}],
    )


def unprocessable(message: str) -> ApiError:
    """GitHub's `validation-error-simple`: the reasons are plain strings."""
    return ApiError(422, "Unprocessable Entity", errors=[message])
