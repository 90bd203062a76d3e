-- Columns and tables the stand-in's statuses, home feed, media uploads and OAuth
-- tokens need, with upstream's names and types (db/schema.rb at v4.6.5, 1440d55b:
-- oauth_access_tokens l.876-890, oauth_applications l.892-908, media_attachments
-- l.759-787, statuses l.1215-1250, users.current_sign_in_at l.1375). In the common
-- tree, so both release tags (v4.5.15 and v4.6.5) carry it.

-- Doorkeeper's token table: a row with resource_owner_id = users.id is a user token,
-- one with resource_owner_id NULL an app (client credentials) token; revoked_at and
-- expires_in (seconds from created_at, NULL = never: access_token_expires_in nil in
-- config/initializers/doorkeeper.rb l.32) end it.
CREATE TABLE oauth_applications (
  id bigserial PRIMARY KEY,
  name character varying NOT NULL,
  uid character varying NOT NULL,
  secret character varying NOT NULL,
  redirect_uri text NOT NULL,
  scopes character varying NOT NULL DEFAULT '',
  confidential boolean NOT NULL DEFAULT true,
  superapp boolean NOT NULL DEFAULT false,
  website character varying,
  owner_type character varying,
  owner_id bigint,
  created_at timestamp without time zone,
  updated_at timestamp without time zone
);
CREATE UNIQUE INDEX index_oauth_applications_on_uid ON oauth_applications (uid);

ALTER TABLE oauth_access_tokens
  ADD COLUMN application_id bigint REFERENCES oauth_applications (id) ON DELETE CASCADE,
  ADD COLUMN refresh_token character varying,
  ADD COLUMN expires_in integer,
  ADD COLUMN revoked_at timestamp without time zone,
  ADD COLUMN last_used_at timestamp without time zone,
  ADD COLUMN last_used_ip inet;
CREATE UNIQUE INDEX index_oauth_access_tokens_on_refresh_token
  ON oauth_access_tokens (refresh_token) WHERE refresh_token IS NOT NULL;
CREATE INDEX index_oauth_access_tokens_on_resource_owner_id
  ON oauth_access_tokens (resource_owner_id) WHERE resource_owner_id IS NOT NULL;

-- FeedManager#push_to_home skips users not signed in recently; API requests refresh it.
ALTER TABLE users
  ADD COLUMN current_sign_in_at timestamp without time zone,
  ADD COLUMN last_sign_in_at timestamp without time zone;

ALTER TABLE statuses
  ADD COLUMN visibility integer NOT NULL DEFAULT 0,
  ADD COLUMN sensitive boolean NOT NULL DEFAULT false,
  ADD COLUMN spoiler_text text NOT NULL DEFAULT '',
  ADD COLUMN language character varying,
  ADD COLUMN url character varying,
  ADD COLUMN application_id bigint;
CREATE INDEX index_statuses_on_account_id ON statuses (account_id);

ALTER TABLE media_attachments
  ADD COLUMN file_content_type character varying,
  ADD COLUMN file_updated_at timestamp without time zone,
  ADD COLUMN file_storage_schema_version integer,
  ADD COLUMN file_meta json,
  ADD COLUMN processing integer,
  ADD COLUMN description text,
  ADD COLUMN blurhash character varying;
CREATE INDEX index_media_attachments_on_account_id_and_status_id
  ON media_attachments (account_id, status_id DESC);
