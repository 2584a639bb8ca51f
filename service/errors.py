"""API errors: every refusal is a 4xx with a one-line reason in ``{"detail": ...}``."""

from __future__ import annotations


class ApiError(Exception):
    """A request the service refuses; ``status`` is the HTTP code, ``detail`` the reason."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def not_found(what: str) -> ApiError:
    """404 for a missing object (also used when the caller may not know it exists)."""
    return ApiError(404, f"{what} not found")


def forbidden(why: str) -> ApiError:
    """403: the caller is known but does not own the object."""
    return ApiError(403, why)


def conflict(why: str) -> ApiError:
    """409: the object is not in a state that allows this."""
    return ApiError(409, why)


def unprocessable(why: str) -> ApiError:
    """422: well-formed but invalid input."""
    return ApiError(422, why)
