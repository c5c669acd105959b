"""A fixed configuration for tests that build the console without a demo stack."""

from __future__ import annotations

from rainbow_tui.config import parse_config

# One app host and one database host, as the demo names them; the tests using it build
# the console without polling and hand it the states it draws.
CONFIG = parse_config(
    '[service]\nname = "Shiojiri Rainbow Seeker (demo)"\nkamal_service = "shiojiri-rainbow-seeker"\n'
    'health_url = "http://127.0.0.1:8080/up"\n'
    '[[hosts]]\nname = "app-1"\naddress = "127.0.0.1"\nroles = ["web", "job"]\n'
    '[[hosts]]\nname = "db-1"\naddress = "127.0.0.1"\nroles = ["db"]\n',
    "snapshot.toml",
)
