"""Service settings from the environment (prefix ``ESAS_``) and flags. No logic here.

pydantic-settings reads ``ESAS_*`` variables; ``serve``'s flags override them. Secrets are
only ever referenced by file (or, for the webhook token, an env var), never logged.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from autoscaler.core.engine import DEFAULT_ALERT_TTL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ESAS_", extra="ignore")

    policies: Path = Field(Path("policies"), description="directory of policy files")
    host: str = Field("0.0.0.0", description="address to listen on")
    port: int = Field(8080, ge=0, le=65535, description="port (0 = pick a free one)")
    webhook_token_file: Path | None = Field(None, description="file holding the bearer token")
    webhook_token: SecretStr | None = Field(None, description="bearer token (env only)")
    webhook_basic_user: str | None = Field(None, description="basic-auth user for webhooks")
    webhook_basic_password_file: Path | None = Field(None, description="basic-auth password file")
    insecure_no_auth: bool = Field(False, description="accept webhooks without authentication")
    webhook_max_bytes: int = Field(1 << 20, ge=1024, description="largest webhook body accepted")
    alert_ttl_seconds: float = Field(
        DEFAULT_ALERT_TTL, gt=0, description="a firing alert not re-sent for this long expires"
    )
    alertmanager_url: str | None = Field(
        None,
        pattern=r"^https?://[^/@\s]+(/.*)?$",
        description="Alertmanager to re-sync firing alerts from (GET /api/v2/alerts) at start "
        "and every alertmanager_sync_seconds",
    )
    alertmanager_sync_seconds: float = Field(
        300.0, gt=0, description="seconds between two re-syncs from Alertmanager"
    )
    state_dir: Path = Field(Path("state"), description="where operations are persisted")
    state_configmap: str | None = Field(
        None,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$",
        description="NAMESPACE/NAME of a ConfigMap holding the operations state instead",
    )
    kubeconfig: Path | None = Field(
        None, description="kubeconfig (default: in-cluster or KUBECONFIG)"
    )
    decision_log_size: int = Field(1000, ge=10, description="decisions kept for /api/v1/decisions")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    leader_election: str | None = Field(
        None,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$",
        description="NAMESPACE/LEASE: elect one acting replica through this Lease",
    )
    identity: str | None = Field(
        None, min_length=1, max_length=253, description="this replica's identity in the Lease"
    )
    advertise_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="URL followers forward webhooks to (default http://$POD_IP:PORT)",
    )
    lease_duration_seconds: float = Field(15.0, gt=0, description="Lease duration")
    renew_deadline_seconds: float = Field(10.0, gt=0, description="leader gives up after this")
    retry_period_seconds: float = Field(2.0, gt=0, description="renew/campaign interval")
