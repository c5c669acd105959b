"""Roles, databases and tables of the demo PostgreSQL server.

As in a Rails 8 app, the app's tables live in ``…_production`` and Solid Queue's in
its own ``…_production_queue`` (the ``queue`` entry of config/database.yml).  The app
runs as ``rainbow``, which owns both; the console logs in as ``rainbow_monitor``, a
role of its own, granted at stack start what README's "Database privileges" lists
(unless the stack is told to leave the grants out, to show what a blind role sees).

The tables are those a Rails 8 app with Solid Queue v1.x creates (``db/queue_schema.rb``
translated the way Rails' PostgreSQL adapter does: ``datetime`` becomes
``timestamp(6) without time zone`` holding UTC, ``string`` becomes ``varchar``,
primary keys are ``bigserial``), plus the app's own ``rainbow_sightings`` and
activerecord-session_store's ``sessions``.  They are baked into the cached initdb
template, so a stack starts with them in place.
"""

from __future__ import annotations

import hashlib

APP_DATABASE = "shiojiri_rainbow_seeker_production"
QUEUE_DATABASE = f"{APP_DATABASE}_queue"
APP_ROLE = "rainbow"
MONITOR_ROLE = "rainbow_monitor"
SUPERUSER = "postgres"
# The ``POSTGRES_USER`` of the accessory container; the official image makes it a
# superuser, and the operations manual runs ``psql -U shiojiri_rainbow_seeker``.
ACCESSORY_SUPERUSER = "shiojiri_rainbow_seeker"

# Rails writes UTC wall-clock values into ``timestamp without time zone`` columns.
NOW_UTC = "(now() AT TIME ZONE 'UTC')"

# Separate statements: CREATE DATABASE refuses to run inside a multi-statement query.
ROLES_AND_DATABASE_SQL = (
    f"CREATE ROLE {APP_ROLE} LOGIN",
    f"CREATE ROLE {ACCESSORY_SUPERUSER} LOGIN SUPERUSER",
    f"CREATE ROLE {MONITOR_ROLE} LOGIN",
    f"CREATE DATABASE {APP_DATABASE} OWNER {APP_ROLE}",
    f"CREATE DATABASE {QUEUE_DATABASE} OWNER {APP_ROLE}",
)

# What the console's role needs beyond logging in (README, "Database privileges"):
# to see every session's state and query, to cancel or terminate other roles'
# backends; in the queue database, to read Solid Queue and to retry, discard and
# pause.  Run by the superuser in the queue database.
MONITOR_GRANTS_SQL = (
    f"GRANT pg_monitor TO {MONITOR_ROLE}",
    f"GRANT pg_signal_backend TO {MONITOR_ROLE}",
)
# In the app's database, only what the monthly cleanup of old sessions deletes.
MONITOR_APP_GRANTS_SQL = (f"GRANT SELECT, DELETE ON sessions TO {MONITOR_ROLE}",)
MONITOR_QUEUE_GRANTS_SQL = (
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {MONITOR_ROLE}",
    f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {MONITOR_ROLE}",
)

SOLID_QUEUE_SQL = """
CREATE TABLE solid_queue_jobs (
    id bigserial PRIMARY KEY,
    queue_name varchar NOT NULL,
    class_name varchar NOT NULL,
    arguments text,
    priority integer NOT NULL DEFAULT 0,
    active_job_id varchar,
    scheduled_at timestamp(6) without time zone,
    finished_at timestamp(6) without time zone,
    concurrency_key varchar,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
CREATE INDEX index_solid_queue_jobs_on_active_job_id ON solid_queue_jobs (active_job_id);
CREATE INDEX index_solid_queue_jobs_on_class_name ON solid_queue_jobs (class_name);
CREATE INDEX index_solid_queue_jobs_on_finished_at ON solid_queue_jobs (finished_at);
CREATE INDEX index_solid_queue_jobs_for_filtering ON solid_queue_jobs (queue_name, finished_at);
CREATE INDEX index_solid_queue_jobs_for_alerting ON solid_queue_jobs (scheduled_at, finished_at);

CREATE TABLE solid_queue_ready_executions (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL REFERENCES solid_queue_jobs (id) ON DELETE CASCADE,
    queue_name varchar NOT NULL,
    priority integer NOT NULL DEFAULT 0,
    created_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_solid_queue_ready_executions_on_job_id
    ON solid_queue_ready_executions (job_id);
CREATE INDEX index_solid_queue_poll_all ON solid_queue_ready_executions (priority, job_id);
CREATE INDEX index_solid_queue_poll_by_queue
    ON solid_queue_ready_executions (queue_name, priority, job_id);

CREATE TABLE solid_queue_claimed_executions (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL REFERENCES solid_queue_jobs (id) ON DELETE CASCADE,
    process_id bigint,
    created_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_solid_queue_claimed_executions_on_job_id
    ON solid_queue_claimed_executions (job_id);
CREATE INDEX index_solid_queue_claimed_executions_on_process_id_and_job_id
    ON solid_queue_claimed_executions (process_id, job_id);

CREATE TABLE solid_queue_failed_executions (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL REFERENCES solid_queue_jobs (id) ON DELETE CASCADE,
    error text,
    created_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_solid_queue_failed_executions_on_job_id
    ON solid_queue_failed_executions (job_id);

CREATE TABLE solid_queue_scheduled_executions (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL REFERENCES solid_queue_jobs (id) ON DELETE CASCADE,
    queue_name varchar NOT NULL,
    priority integer NOT NULL DEFAULT 0,
    scheduled_at timestamp(6) without time zone NOT NULL,
    created_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_solid_queue_scheduled_executions_on_job_id
    ON solid_queue_scheduled_executions (job_id);
CREATE INDEX index_solid_queue_dispatch_all
    ON solid_queue_scheduled_executions (scheduled_at, priority, job_id);

CREATE TABLE solid_queue_blocked_executions (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL REFERENCES solid_queue_jobs (id) ON DELETE CASCADE,
    queue_name varchar NOT NULL,
    priority integer NOT NULL DEFAULT 0,
    concurrency_key varchar NOT NULL,
    expires_at timestamp(6) without time zone NOT NULL,
    created_at timestamp(6) without time zone NOT NULL
);
CREATE INDEX index_solid_queue_blocked_executions_for_release
    ON solid_queue_blocked_executions (concurrency_key, priority, job_id);
CREATE INDEX index_solid_queue_blocked_executions_for_maintenance
    ON solid_queue_blocked_executions (expires_at, concurrency_key);
CREATE UNIQUE INDEX index_solid_queue_blocked_executions_on_job_id
    ON solid_queue_blocked_executions (job_id);

CREATE TABLE solid_queue_recurring_executions (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL REFERENCES solid_queue_jobs (id) ON DELETE CASCADE,
    task_key varchar NOT NULL,
    run_at timestamp(6) without time zone NOT NULL,
    created_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_solid_queue_recurring_executions_on_job_id
    ON solid_queue_recurring_executions (job_id);
CREATE UNIQUE INDEX index_solid_queue_recurring_executions_on_task_key_and_run_at
    ON solid_queue_recurring_executions (task_key, run_at);

CREATE TABLE solid_queue_processes (
    id bigserial PRIMARY KEY,
    kind varchar NOT NULL,
    last_heartbeat_at timestamp(6) without time zone NOT NULL,
    supervisor_id bigint,
    pid integer NOT NULL,
    hostname varchar,
    metadata text,
    created_at timestamp(6) without time zone NOT NULL,
    name varchar NOT NULL
);
CREATE INDEX index_solid_queue_processes_on_last_heartbeat_at
    ON solid_queue_processes (last_heartbeat_at);
CREATE UNIQUE INDEX index_solid_queue_processes_on_name_and_supervisor_id
    ON solid_queue_processes (name, supervisor_id);
CREATE INDEX index_solid_queue_processes_on_supervisor_id
    ON solid_queue_processes (supervisor_id);

CREATE TABLE solid_queue_pauses (
    id bigserial PRIMARY KEY,
    queue_name varchar NOT NULL,
    created_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_solid_queue_pauses_on_queue_name ON solid_queue_pauses (queue_name);

CREATE TABLE solid_queue_semaphores (
    id bigserial PRIMARY KEY,
    key varchar NOT NULL,
    value integer NOT NULL DEFAULT 1,
    expires_at timestamp(6) without time zone NOT NULL,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
CREATE INDEX index_solid_queue_semaphores_on_expires_at ON solid_queue_semaphores (expires_at);
CREATE INDEX index_solid_queue_semaphores_on_key_and_value ON solid_queue_semaphores (key, value);
CREATE UNIQUE INDEX index_solid_queue_semaphores_on_key ON solid_queue_semaphores (key);

CREATE TABLE solid_queue_recurring_tasks (
    id bigserial PRIMARY KEY,
    key varchar NOT NULL,
    schedule varchar NOT NULL,
    command varchar(2048),
    class_name varchar,
    arguments text,
    queue_name varchar,
    priority integer DEFAULT 0,
    static boolean NOT NULL DEFAULT true,
    description text,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_solid_queue_recurring_tasks_on_key ON solid_queue_recurring_tasks (key);
CREATE INDEX index_solid_queue_recurring_tasks_on_static ON solid_queue_recurring_tasks (static);
"""

APP_TABLES_SQL = f"""
CREATE TABLE schema_migrations (version varchar PRIMARY KEY);
CREATE TABLE ar_internal_metadata (
    key varchar PRIMARY KEY,
    value varchar,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
INSERT INTO schema_migrations (version) VALUES
    ('20250301000000'), ('20250412093000'), ('20250920120000'), ('20261020081500');
INSERT INTO ar_internal_metadata (key, value, created_at, updated_at) VALUES
    ('environment', 'production', {NOW_UTC}, {NOW_UTC});

-- No PostGIS in the embedded server: plain coordinates stand in for geography.
CREATE TABLE rainbow_sightings (
    id bigserial PRIMARY KEY,
    observed_at timestamp(6) without time zone NOT NULL,
    latitude double precision NOT NULL,
    longitude double precision NOT NULL,
    intensity integer NOT NULL,
    photo_key varchar,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
CREATE INDEX index_rainbow_sightings_on_observed_at ON rainbow_sightings (observed_at);

-- A few hundred sightings around Shiojiri (36.115 N, 137.953 E) so app queries read rows.
INSERT INTO rainbow_sightings
    (observed_at, latitude, longitude, intensity, photo_key, created_at, updated_at)
SELECT {NOW_UTC} - (n * interval '37 minutes'),
       36.115 + (random() - 0.5) * 0.2,
       137.953 + (random() - 0.5) * 0.2,
       1 + (n % 5),
       'sightings/' || md5(n::text) || '.jpg',
       {NOW_UTC} - (n * interval '37 minutes'),
       {NOW_UTC} - (n * interval '37 minutes')
FROM generate_series(1, 600) AS n;

-- activerecord-session_store's table (its generator's migration: session_id, data,
-- timestamps, a unique index on session_id and one on updated_at).  Its rake task
-- db:sessions:trim deletes those not updated for 30 days; nothing trims the demo's,
-- so of these 240 sessions, one touched every 6 hours over 60 days, about half are
-- past that (SEED_TIMES_TO_NOW_SQL keeps it so however old the cached template is).
CREATE TABLE sessions (
    id bigserial PRIMARY KEY,
    session_id varchar NOT NULL,
    data text,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_sessions_on_session_id ON sessions (session_id);
CREATE INDEX index_sessions_on_updated_at ON sessions (updated_at);
INSERT INTO sessions (session_id, data, created_at, updated_at)
SELECT md5('session-' || n), 'BAh7BkkiEF9jc3JmX3Rva2VuBjoGRUZJIjE=',
       {NOW_UTC} - (n * interval '6 hours') - interval '2 days',
       {NOW_UTC} - (n * interval '6 hours')
FROM generate_series(1, 240) AS n;
"""

# The seeded rows' times are the template's "now": a stack started from a template
# built weeks ago would find every session past 30 days and the sightings stopped.
# At each start they move forward together, the newest back to one step before now.
SEED_TIMES_TO_NOW_SQL = tuple(
    f"""
UPDATE {table} SET {", ".join(f"{column} = {column} + shift" for column in columns)}
FROM (SELECT {NOW_UTC} - interval '{step}' - max({columns[0]}) AS shift FROM {table}) AS aged
"""
    # The first column is the one whose newest value lands a step before now.
    for table, columns, step in (
        ("sessions", ("updated_at", "created_at"), "6 hours"),
        ("rainbow_sightings", ("observed_at", "created_at", "updated_at"), "37 minutes"),
    )
)


QUEUE_SEED_SQL = f"""
INSERT INTO solid_queue_recurring_tasks
    (key, schedule, class_name, arguments, queue_name, priority, static, description,
     created_at, updated_at)
VALUES
    ('weather_fetch', 'every 30 seconds', 'WeatherFetchJob', '[]', 'default', 0, true,
     'Fetch the JMA forecast for the Shiojiri basin', {NOW_UTC}, {NOW_UTC}),
    ('clear_solid_queue_finished_jobs', 'every hour at minute 12', NULL, '[]', 'default', 0,
     true, 'SolidQueue::Job.clear_finished_in_batches', {NOW_UTC}, {NOW_UTC});
"""


def schema_fingerprint() -> str:
    """Changes whenever the baked-in SQL changes, so a stale template is not reused."""
    digest = hashlib.sha256()
    for part in (*ROLES_AND_DATABASE_SQL, SOLID_QUEUE_SQL, APP_TABLES_SQL, QUEUE_SEED_SQL):
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()[:12]
