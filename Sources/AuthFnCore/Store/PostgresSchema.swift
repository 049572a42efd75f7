/// The PostgreSQL schema, one idempotent DDL statement at a time, by version. `authfn db migrate`
/// applies the versions a database lacks, in order, holding the lock on the `authfn_schema` row.
///
/// Kept to SQL that PostgreSQL ≥ 12, CockroachDB and YugabyteDB all run: `BIGINT` ids assigned from a
/// counter row inside the registering transaction (not `SERIAL`, which CockroachDB fills with
/// `unique_rowid()` values near 2^62, and not a sequence, which is not transactional and could not be
/// carried over exactly by `db copy`), `ON CONFLICT`, `RETURNING`, `FOR UPDATE`, no advisory locks
/// (no-ops on CockroachDB), no stored procedures. Keys that come from users (canonical usernames and
/// emails, throttle keys, token ids) are indexed by their SHA-256, so that no input can exceed a
/// B-tree entry's size limit (2,704 bytes on PostgreSQL).
public enum PostgresSchema {
    /// The version this authfn writes and reads. A database with a higher one is refused.
    public static let version = 3

    /// Run before the version row is locked; each is harmless when repeated.
    static let bootstrap = [
        "CREATE TABLE IF NOT EXISTS authfn_schema (id INT PRIMARY KEY CHECK (id = 1), version INT NOT NULL)",
        "INSERT INTO authfn_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
    ]

    /// `steps[n - 1]` brings a database from version n - 1 to n.
    static let steps: [[String]] = [
        [
            """
            CREATE TABLE IF NOT EXISTS authfn_users (id BIGINT PRIMARY KEY, username_key TEXT NOT NULL, \
            email_key TEXT NOT NULL, username TEXT NOT NULL, email TEXT NOT NULL, password TEXT NOT NULL, \
            password_method TEXT NOT NULL, is_active BOOLEAN NOT NULL, created_at BIGINT NOT NULL, \
            cutoff_generation BIGINT NOT NULL DEFAULT 0, tokens_valid_after BIGINT, cutoff_exempt_sid TEXT)
            """,
            "CREATE UNIQUE INDEX IF NOT EXISTS authfn_users_username_key ON authfn_users (username_key)",
            "CREATE UNIQUE INDEX IF NOT EXISTS authfn_users_email_key ON authfn_users (email_key)",
            """
            CREATE TABLE IF NOT EXISTS authfn_revocations (key_digest TEXT PRIMARY KEY, kind TEXT NOT NULL, \
            id TEXT NOT NULL, expires_at BIGINT, revoked_at BIGINT NOT NULL, child_jti TEXT, child_iat BIGINT)
            """,
            "CREATE INDEX IF NOT EXISTS authfn_revocations_expires_at ON authfn_revocations (expires_at)",
            """
            CREATE TABLE IF NOT EXISTS authfn_throttles (key_digest TEXT PRIMARY KEY, key TEXT NOT NULL, \
            failures TEXT NOT NULL, expires_at BIGINT NOT NULL)
            """,
            "CREATE INDEX IF NOT EXISTS authfn_throttles_expires_at ON authfn_throttles (expires_at)",
            "CREATE TABLE IF NOT EXISTS authfn_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
            "INSERT INTO authfn_counters (name, value) VALUES ('next_user_id', 1) ON CONFLICT (name) DO NOTHING",
            "CREATE TABLE IF NOT EXISTS authfn_password_methods (method TEXT PRIMARY KEY, users BIGINT NOT NULL)",
        ],
        // 2: the key ring (signing keys), one row replaced whole by compare-and-set on its version.
        [
            "CREATE TABLE IF NOT EXISTS authfn_key_ring (id INT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL, ring TEXT NOT NULL)",
            """
            INSERT INTO authfn_key_ring (id, version, ring) VALUES (1, 0, '{"keys":[],"version":0}') \
            ON CONFLICT (id) DO NOTHING
            """,
        ],
        // 3: links mailed for password reset and address verification (only their digests), and whether
        // an address still awaits verification.
        [
            "ALTER TABLE authfn_users ADD COLUMN IF NOT EXISTS reset_token TEXT",
            "ALTER TABLE authfn_users ADD COLUMN IF NOT EXISTS verify_token TEXT",
            "ALTER TABLE authfn_users ADD COLUMN IF NOT EXISTS email_unverified BOOLEAN NOT NULL DEFAULT false",
        ],
    ]

    /// The tables `db check` expects.
    static let tables = [
        "authfn_users", "authfn_revocations", "authfn_throttles", "authfn_counters", "authfn_password_methods", "authfn_key_ring",
    ]
}
