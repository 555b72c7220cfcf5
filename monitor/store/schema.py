"""Schema migrations, shared by every SQL backend. Append; never edit a released step."""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # 1: items, rule state, incidents, checklist, timeline, outbox, source state
    [
        """CREATE TABLE items (
            source TEXT NOT NULL,
            id TEXT NOT NULL,
            published_at DOUBLE PRECISION NOT NULL,
            fetched_at DOUBLE PRECISION NOT NULL,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            url TEXT,
            category TEXT,
            count INTEGER NOT NULL,
            attrs TEXT NOT NULL,
            sentiment DOUBLE PRECISION,
            lang TEXT NOT NULL,
            PRIMARY KEY (source, id)
        )""",
        "CREATE INDEX items_published ON items (published_at)",
        """CREATE TABLE rule_state (
            rule_id TEXT NOT NULL,
            group_key TEXT NOT NULL,
            state TEXT NOT NULL,
            pending_since DOUBLE PRECISION,
            firing_since DOUBLE PRECISION,
            last_true_at DOUBLE PRECISION,
            severity TEXT,
            PRIMARY KEY (rule_id, group_key)
        )""",
        """CREATE TABLE incidents (
            id INTEGER PRIMARY KEY {autoincrement},
            rule_id TEXT NOT NULL,
            group_key TEXT NOT NULL,
            playbook TEXT NOT NULL,
            title TEXT NOT NULL,
            status TEXT NOT NULL,
            severity TEXT NOT NULL,
            opened_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            resolved_at DOUBLE PRECISION,
            closed_at DOUBLE PRECISION,
            acknowledged_by TEXT,
            evidence TEXT NOT NULL,
            top_items TEXT NOT NULL
        )""",
        """CREATE UNIQUE INDEX incidents_one_active ON incidents (rule_id, group_key)
            WHERE status IN ('open', 'acknowledged', 'stable')""",
        """CREATE TABLE checklist (
            incident_id INTEGER NOT NULL REFERENCES incidents (id),
            position INTEGER NOT NULL,
            item_id TEXT NOT NULL,
            phase TEXT NOT NULL,
            phase_title TEXT NOT NULL,
            text TEXT NOT NULL,
            text_en TEXT NOT NULL,
            owner TEXT NOT NULL,
            due_at DOUBLE PRECISION NOT NULL,
            done_at DOUBLE PRECISION,
            done_by TEXT,
            PRIMARY KEY (incident_id, item_id)
        )""",
        """CREATE TABLE timeline (
            id INTEGER PRIMARY KEY {autoincrement},
            incident_id INTEGER NOT NULL REFERENCES incidents (id),
            at DOUBLE PRECISION NOT NULL,
            actor TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX timeline_incident ON timeline (incident_id, id)",
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY {autoincrement},
            destination TEXT NOT NULL,
            kind TEXT NOT NULL,
            incident_id INTEGER,
            thread_of INTEGER,
            update_of INTEGER,
            payload TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at DOUBLE PRECISION NOT NULL,
            last_error TEXT,
            remote_ref TEXT,
            remote_channel TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            sent_at DOUBLE PRECISION
        )""",
        "CREATE INDEX outbox_pending ON outbox (status, destination, id)",
        """CREATE TABLE source_state (
            name TEXT PRIMARY KEY,
            last_attempt DOUBLE PRECISION,
            last_success DOUBLE PRECISION,
            last_error TEXT,
            last_error_at DOUBLE PRECISION,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            total_failures INTEGER NOT NULL DEFAULT 0,
            items_total INTEGER NOT NULL DEFAULT 0,
            data TEXT NOT NULL DEFAULT '{{}}'
        )""",
    ],
    # 2: several daemons on one database: leases (who polls a source, evaluates a rule,
    # delivers a destination) and outbox claims (who is sending a message, and whether an
    # attempt was started before a crash)
    [
        """CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            acquired_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX leases_owner ON leases (owner)",
        "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
        "ALTER TABLE outbox ADD COLUMN claimed_until DOUBLE PRECISION",
        "ALTER TABLE outbox ADD COLUMN attempt_started_at DOUBLE PRECISION",
    ],
    # 3: reliability (issue 13): when the latest attempt that may have reached the remote
    # started (the outbox waits before looking for it), and the Slack requests already
    # seen (replay protection, shared by the daemons on one database)
    [
        "ALTER TABLE outbox ADD COLUMN last_attempt_at DOUBLE PRECISION",
        """CREATE TABLE slack_requests_seen (
            digest TEXT PRIMARY KEY,
            seen_at DOUBLE PRECISION NOT NULL
        )""",
    ],
    # 4: text prepared at ingest (matching form and words) and stories: near-duplicate
    # items (reposts, syndicated copies) grouped under one story, found by SimHash bands
    [
        "ALTER TABLE items ADD COLUMN norm TEXT",
        "ALTER TABLE items ADD COLUMN tokens TEXT",
        "ALTER TABLE items ADD COLUMN story_id BIGINT",
        "CREATE INDEX items_story ON items (story_id)",
        """CREATE TABLE stories (
            id INTEGER PRIMARY KEY {autoincrement},
            fingerprint BIGINT NOT NULL,
            band0 INTEGER NOT NULL,
            band1 INTEGER NOT NULL,
            band2 INTEGER NOT NULL,
            band3 INTEGER NOT NULL,
            band4 INTEGER NOT NULL,
            band5 INTEGER NOT NULL,
            band6 INTEGER NOT NULL,
            band7 INTEGER NOT NULL,
            core TEXT NOT NULL,
            first_at DOUBLE PRECISION NOT NULL,
            last_at DOUBLE PRECISION NOT NULL,
            items INTEGER NOT NULL DEFAULT 1
        )""",
        *(f"CREATE INDEX stories_band{i} ON stories (band{i})" for i in range(8)),
        "CREATE INDEX stories_last ON stories (last_at)",
        "ALTER TABLE incidents ADD COLUMN summary TEXT",
    ],
    # 5: silences: Alertmanager-style matchers (JSON list of [label, op, value]) over a time span
    [
        """CREATE TABLE silences (
            id INTEGER PRIMARY KEY {autoincrement},
            matchers TEXT NOT NULL,
            starts_at DOUBLE PRECISION NOT NULL,
            ends_at DOUBLE PRECISION NOT NULL,
            author TEXT NOT NULL,
            comment TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            ended_by TEXT
        )""",
        "CREATE INDEX silences_ends ON silences (ends_at)",
    ],
    # 6: volume (issue 14): what each rule counts, matched once at ingest (monitor.detect.hits),
    # each rule's groups with their latest hit, which rule definitions those hits were built
    # for, and indexes for per-source reads and for pruning (monitor.store.prune)
    [
        """CREATE TABLE rule_hits (
            rule_id TEXT NOT NULL,
            source TEXT NOT NULL,
            item_id TEXT NOT NULL,
            published_at DOUBLE PRECISION NOT NULL,
            group_key TEXT NOT NULL,
            marks INTEGER NOT NULL,
            count INTEGER NOT NULL,
            sentiment DOUBLE PRECISION,
            story_id BIGINT,
            PRIMARY KEY (rule_id, source, item_id)
        )""",
        "CREATE INDEX rule_hits_time ON rule_hits (rule_id, published_at)",
        "CREATE INDEX rule_hits_group ON rule_hits (rule_id, group_key, published_at)",
        "CREATE INDEX rule_hits_published ON rule_hits (published_at)",
        """CREATE TABLE rule_groups (
            rule_id TEXT NOT NULL,
            group_key TEXT NOT NULL,
            last_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (rule_id, group_key)
        )""",
        """CREATE TABLE rule_hits_built (
            rule_id TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            since DOUBLE PRECISION NOT NULL,
            built_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX items_source_published ON items (source, published_at)",
        "CREATE INDEX outbox_finished ON outbox (created_at) WHERE status IN ('sent', 'failed')",
    ],
    # 7: volume (issue 14): each rule's hits summed per group, hour (ending at ``hour``) and
    # condition (``bit`` of ``rule_hits.marks``), kept with the hits at ingest, and which rule
    # definition and negative cut those sums were built for (monitor.detect.hits)
    [
        """CREATE TABLE rule_hours (
            rule_id TEXT NOT NULL,
            group_key TEXT NOT NULL,
            hour DOUBLE PRECISION NOT NULL,
            bit INTEGER NOT NULL,
            count BIGINT NOT NULL,
            negative BIGINT NOT NULL,
            scored BIGINT NOT NULL,
            sentiment_units BIGINT NOT NULL,
            PRIMARY KEY (rule_id, hour, group_key, bit)
        )""",
        "CREATE INDEX rule_hours_hour ON rule_hours (hour)",
        """CREATE TABLE rule_hours_built (
            rule_id TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL
        )""",
    ],
    # 8: volume (issue 14): the running ``anomaly`` detectors, saved every few minutes, so that
    # a restart feeds them the buckets since they were saved instead of replaying their history
    # (monitor.detect.running); ``spec`` is the condition as JSON
    [
        """CREATE TABLE detector_states (
            rule_id TEXT NOT NULL,
            group_key TEXT NOT NULL,
            spec TEXT NOT NULL,
            state TEXT NOT NULL,
            saved_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (rule_id, group_key, spec)
        )""",
    ],
]

LATEST = len(MIGRATIONS)
