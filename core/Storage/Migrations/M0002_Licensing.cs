namespace Dls.Core.Storage.Migrations;

internal sealed class M0002_Licensing : Migration
{
    public override int Version => 2;

    public override string Description => "trusted issuers, licenses, items, handshake codes";

    // JSON arrays (modules, allowed values) are stored as TEXT; dates as yyyy-MM-dd, instants as Timestamps.
    protected override string Sql => """
        CREATE TABLE trusted_issuer (
            key_id              TEXT PRIMARY KEY,
            name                TEXT NOT NULL,
            public_key          BLOB NOT NULL,
            added_at            TEXT NOT NULL
        );

        CREATE TABLE license (
            license_id          TEXT PRIMARY KEY,
            alias               TEXT NOT NULL,
            organization_id     TEXT NOT NULL,
            server_uuid         TEXT NOT NULL,
            issued_at           TEXT NOT NULL,
            issuer_key_id       TEXT NOT NULL,
            file_sha256         TEXT NOT NULL,
            document            TEXT NOT NULL,
            imported_at         TEXT NOT NULL,
            updated_at          TEXT NOT NULL
        );

        CREATE TABLE license_item (
            item_id             TEXT PRIMARY KEY,
            license_id          TEXT NOT NULL REFERENCES license (license_id) ON DELETE CASCADE,
            product             TEXT NOT NULL,
            version             TEXT NOT NULL,
            deployment          TEXT NOT NULL,
            edition             TEXT NOT NULL DEFAULT '',
            mode                TEXT NOT NULL,
            quantity            INTEGER NOT NULL,
            start_date          TEXT NOT NULL,
            expiration_date     TEXT NOT NULL,
            modules             TEXT NOT NULL DEFAULT '[]',
            revokes             TEXT,
            updated_at          TEXT NOT NULL
        );
        CREATE INDEX license_item_license ON license_item (license_id);
        CREATE INDEX license_item_revokes ON license_item (revokes) WHERE revokes IS NOT NULL;

        CREATE TABLE handshake_code (
            code                TEXT PRIMARY KEY,
            organization_id     TEXT NOT NULL,
            name                TEXT NOT NULL,
            is_default          INTEGER NOT NULL DEFAULT 0,
            enabled             INTEGER NOT NULL DEFAULT 1,
            description         TEXT NOT NULL DEFAULT '',
            password_hash       TEXT,
            allowed_domains     TEXT NOT NULL DEFAULT '[]',
            allowed_app_ids     TEXT NOT NULL DEFAULT '[]',
            allowed_process_names TEXT NOT NULL DEFAULT '[]',
            created_at          TEXT NOT NULL,
            updated_at          TEXT NOT NULL
        );
        CREATE UNIQUE INDEX handshake_code_one_default ON handshake_code (organization_id) WHERE is_default = 1;

        -- A code's items in consumption order. An item may be in several codes.
        CREATE TABLE handshake_code_item (
            code                TEXT NOT NULL REFERENCES handshake_code (code) ON DELETE CASCADE,
            item_id             TEXT NOT NULL REFERENCES license_item (item_id) ON DELETE CASCADE,
            position            INTEGER NOT NULL,
            PRIMARY KEY (code, item_id)
        );
        CREATE INDEX handshake_code_item_item ON handshake_code_item (item_id);
        """;
}
