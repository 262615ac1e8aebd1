"""Settings shared by every process, read from `NOL_*` environment variables."""

from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("registry", "subsidy", "dropout", "statistics")


class Settings(BaseSettings):
    """Everything configurable; one prefix, `NOL_`."""

    model_config = SettingsConfigDict(env_prefix="NOL_", extra="ignore")

    # Servers. Unset URLs mean "run the embedded ones" (see deploy.embedded).
    database_url: str | None = None
    nats_url: str | None = None
    data_dir: Path = Path(".data")
    db_role_prefix: str = "nol_"
    db_role_password: str | None = None
    db_pool_size: int = 10

    # Events.
    stream: str = "EDU"
    subject_prefix: str = "edu"
    stream_replicas: int = 1
    # How long the broker remembers a Nats-Msg-Id to drop a re-publish (the consumers' inbox covers longer).
    stream_duplicate_window_seconds: float = 120.0
    relay_poll_seconds: float = 1.0
    relay_batch_size: int = 500
    # How long the relay waits for the broker to acknowledge a batch before trying it again
    # (while NATS is unreachable the client buffers publishes that may never be answered).
    relay_ack_timeout_seconds: float = 5.0
    relay_in_process: bool = True
    # How long a decision from a projection (a batch, figures, tasks) waits for the writes acknowledged
    # before it was asked (kit.barrier) before it answers 503 with Retry-After.
    barrier_timeout_seconds: float = 20.0
    # A printed list (`format=csv|xlsx` on any list, kit.listing) holds at most this many rows.
    export_max_rows: int = Field(default=20_000, ge=1)
    # A consumer never loops on an event: a failing one is redelivered after base × 2^(n-1) seconds
    # (capped), and after this many deliveries it goes to the dead-letter table (kit.consumer).
    consumer_max_deliveries: int = Field(default=5, ge=1)
    consumer_backoff_seconds: float = Field(default=1.0, gt=0)
    consumer_backoff_max_seconds: float = Field(default=60.0, gt=0)
    # /readyz says `degraded` while a consumer has more than this many events pending or unacknowledged.
    consumer_lag_threshold: int = Field(default=10_000, ge=1)

    # HTTP.
    host: str = "127.0.0.1"
    gateway_port: int = 8000
    gateway_url: str | None = None
    body_limit_bytes: int = 10 * 1024 * 1024
    upload_limit_bytes: int = 50 * 1024 * 1024  # imports and platform rosters
    rate_limit_per_minute: int = 600
    upstream_timeout_seconds: float = 30.0
    # Where the gateway finds each service; defaults to host + the ports after the gateway's.
    service_urls: dict[str, str] = Field(default_factory=dict)
    cors_origins: list[str] = Field(default_factory=list)
    # Reverse proxies (addresses or CIDR blocks) whose X-Forwarded-For the gateway believes; empty:
    # the TCP peer is the client (a client-sent header is never trusted, not even from 127.0.0.1).
    trusted_proxies: list[str] = Field(default_factory=list)

    # Tokens.
    jwt_issuer: str = "notoneless"
    jwt_audience: str = "notoneless-api"
    jwt_private_key: str | None = None
    # Short-lived by design: at most a day (the revocation list is kept that long).
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = 14
    # A refresh token presented again this soon after its first use (its answer lost on a weak
    # network) gets the same new pair; later, reuse still ends the session.
    refresh_grace_seconds: int = Field(default=60, ge=0, le=600)
    # How long the gateway keeps Idempotency-Key answers (an offline phone may send its queue later).
    idempotency_keep_days: int = Field(default=7, ge=1, le=90)
    jwks_url: str | None = None
    # How old a service's copy of the gateway's revocation list (logouts) may grow.
    revocation_poll_seconds: float = 1.0

    # Bootstrap and demo.
    admin_username: str | None = None
    admin_password: str | None = None
    admin_area: str | None = None
    demo: bool = False

    # Privacy: key for the ID-number column encryption and lookup hash.
    data_key: str | None = None
    # The gateway -> service hop (kit.gateway_trust v2): the gateway's secret, and a service's own key
    # derived from it (`python -m deploy.admin keys hop`; "new,old" while rotating). Unset: both
    # derive from keys/hop.key in the data dir (one machine).
    hop_secret: str | None = None
    hop_key: str | None = None

    # Object storage (kit.storage): files under NOL_DATA_DIR/objects unless an S3-compatible endpoint
    # (MinIO) is set. Signed download links (kit.storage.LinkSigner) live this long.
    s3_endpoint: str | None = None  # host:port, e.g. minio:9000
    s3_bucket: str = "notoneless"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_secure: bool = False
    s3_region: str | None = None
    link_seconds: int = Field(default=300, ge=10, le=3600)
    evidence_limit_bytes: int = 10 * 1024 * 1024

    # Domain knobs.
    publicity_days: int = 5
    # Subsidy payment deadline per semester, as MM-DD (NOL_SUBSIDY_DEADLINES='{"spring":"06-15",...}').
    subsidy_deadlines: dict[str, str] = Field(default_factory=lambda: {"spring": "06-15", "autumn": "11-30"})
    return_confirm_days: int = 5
    # Back-pay (补发): how many semesters back, the current one included, a newly dated status is paid.
    backpay_horizon_semesters: int = 4
    # Dropout monitoring: unexplained school days that open a case; days an open case
    # may stay at one level without return before it escalates; public holidays (JSON list of dates;
    # counties add their own through the API).
    dropout_case_after_days: int = Field(default=3, ge=1)
    # ... within this many school days (a rolling window; consecutive days are a special case).
    dropout_case_window_days: int = Field(default=10, ge=1)
    dropout_escalate_after_days: int = 7
    # 结对帮扶: a helper contacts a paired child at least every N days and visits its home every M.
    support_contact_every_days: int = Field(default=7, ge=1)
    support_visit_every_days: int = Field(default=30, ge=1)
    # A guardian's notice to return (限期复学通知书) gives this many days unless the clerk sets a deadline.
    dropout_notice_days: int = Field(default=15, ge=1)
    holidays: list[date] = Field(default_factory=list)

    # Whether operational endpoints accept a caller-chosen "today" (POST /dropout/checks/run): tests
    # only; in a deployment a caller could otherwise skip waiting periods or escalate every case.
    allow_clock_override: bool = False

    # Bulk imports: how often a running job says it is alive, and after how long without a word a
    # job is taken over by another process (resumed from the first row not yet stored).
    import_heartbeat_seconds: float = 20.0
    import_stale_seconds: float = 120.0

    # The deployment's time zone: "today" everywhere is the date there (services.contracts.calendar).
    timezone: str = "Asia/Shanghai"

    # The platform feed (api_gateway.platform): every event, minimised, republished to
    # `<platform_subject_prefix>.<province>.<city>.<county>.<service>.<entity>.<event>` on the platform
    # broker (`platform_nats_url`, e.g. nats://feed:pw@host:4223 with auth + TLS; unset: the internal one).
    platform_feed: bool = True
    platform_feed_name: str = "gateway-platform"
    platform_subject_prefix: str = "platform"
    platform_nats_url: str | None = None
    # The CA that signed the platform broker's certificate (a `tls://` URL); unset: the system's CAs.
    platform_nats_ca_file: Path | None = None
    # Where the gateway writes the platform broker's `authorization {}` block (one user per platform
    # client, subscribe-only on its area) and the pid file of the server it signals to reload it.
    platform_nats_auth_file: Path | None = None
    platform_nats_pid_file: Path | None = None
    # A rotated client secret keeps working this long beside the new one.
    client_secret_grace_seconds: int = Field(default=24 * 3600, ge=0)
    # Webhooks: per attempt timeout; retries back off base × 2^(n-1) up to the cap; then `failed`.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_backoff_seconds: float = Field(default=5.0, gt=0)
    webhook_backoff_max_seconds: float = Field(default=3600.0, gt=0)

    log_level: str = "INFO"
    log_json: bool = False
    # Observability (kit.metrics, kit.tracing): a bearer token that may read /metrics besides admins
    # and loopback callers; the OTLP/HTTP endpoint traces go to (unset: none leave the process).
    metrics_token: str | None = None
    otel_exporter_otlp_endpoint: str | None = None

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    def port_of(self, service: str) -> int:
        """Return the port a service listens on: the four after the gateway's."""
        return self.gateway_port + 1 + SERVICES.index(service)

    def service_url(self, service: str) -> str:
        """Return the base URL of a service."""
        return self.service_urls.get(service) or f"http://{self.host}:{self.port_of(service)}"

    @property
    def public_gateway_url(self) -> str:
        return self.gateway_url or f"http://{self.host}:{self.gateway_port}"

    @property
    def resolved_jwks_url(self) -> str:
        return self.jwks_url or f"{self.public_gateway_url}/.well-known/jwks.json"

    @property
    def revocations_url(self) -> str:
        return f"{self.resolved_jwks_url.rsplit('/', 1)[0]}/revocations.json"


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (read once)."""
    return Settings()
