"""dashboard's own settings: the ``dashboard:`` section of the configuration."""

from __future__ import annotations

from pydantic import Field

from merchstore.common.config.sections import ServiceSettings


class DashboardSettings(ServiceSettings):
    """dashboard: statistics, event-log counts and service health in the browser."""

    port: int = Field(8130, ge=1, le=65535)
    refresh_seconds: float = Field(
        3.0, gt=0, description="How often the page and the backend refresh."
    )
    request_timeout_s: float = Field(
        1.5,
        gt=0,
        description=(
            "Each service gets this long to answer; a slow one shows as down, the rest still show."
        ),
    )
    history_points: int = Field(
        200, ge=2, description="Points kept for the events-over-time chart."
    )
