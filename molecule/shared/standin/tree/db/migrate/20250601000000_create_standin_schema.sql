-- Stand-in schema: the tables herd's roles and tests touch, with upstream Mastodon's
-- table and column names. Upstream builds these over hundreds of migrations; the
-- stand-in starts from this one.
CREATE TABLE ar_internal_metadata (
  key character varying PRIMARY KEY,
  value character varying,
  created_at timestamp(6) without time zone NOT NULL,
  updated_at timestamp(6) without time zone NOT NULL
);

CREATE TABLE settings (
  id bigserial PRIMARY KEY,
  var character varying NOT NULL,
  value text,
  created_at timestamp without time zone NOT NULL,
  updated_at timestamp without time zone NOT NULL
);
CREATE UNIQUE INDEX index_settings_on_var ON settings (var);

CREATE TABLE rules (
  id bigserial PRIMARY KEY,
  priority integer NOT NULL DEFAULT 0,
  deleted_at timestamp(6) without time zone,
  text text NOT NULL DEFAULT '',
  hint text NOT NULL DEFAULT '',
  created_at timestamp(6) without time zone NOT NULL,
  updated_at timestamp(6) without time zone NOT NULL
);

CREATE TABLE rule_translations (
  id bigserial PRIMARY KEY,
  text text NOT NULL DEFAULT '',
  hint text NOT NULL DEFAULT '',
  language character varying NOT NULL,
  rule_id bigint NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
  created_at timestamp(6) without time zone NOT NULL,
  updated_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_rule_translations_on_rule_id_and_language
  ON rule_translations (rule_id, language);

CREATE TABLE user_roles (
  id bigserial PRIMARY KEY,
  name character varying NOT NULL DEFAULT '',
  color character varying NOT NULL DEFAULT '',
  position integer NOT NULL DEFAULT 0,
  permissions bigint NOT NULL DEFAULT 0,
  highlighted boolean NOT NULL DEFAULT false,
  require_2fa boolean NOT NULL DEFAULT false,
  created_at timestamp(6) without time zone NOT NULL,
  updated_at timestamp(6) without time zone NOT NULL
);

CREATE TABLE accounts (
  id bigserial PRIMARY KEY,
  username character varying NOT NULL DEFAULT '',
  domain character varying,
  display_name character varying NOT NULL DEFAULT '',
  note text NOT NULL DEFAULT '',
  locked boolean NOT NULL DEFAULT false,
  actor_type character varying,
  suspended_at timestamp without time zone,
  silenced_at timestamp without time zone,
  avatar_file_name character varying,
  avatar_file_size integer,
  header_file_name character varying,
  header_file_size integer,
  last_webfingered_at timestamp without time zone,
  standin_legacy_note text,
  created_at timestamp without time zone NOT NULL,
  updated_at timestamp without time zone NOT NULL
);
CREATE UNIQUE INDEX index_accounts_on_username_and_domain_lower
  ON accounts (lower(username), COALESCE(lower(domain), ''));

CREATE TABLE users (
  id bigserial PRIMARY KEY,
  email character varying NOT NULL DEFAULT '',
  encrypted_password character varying NOT NULL DEFAULT '',
  account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  approved boolean NOT NULL DEFAULT true,
  confirmed_at timestamp without time zone,
  disabled boolean NOT NULL DEFAULT false,
  locale character varying,
  reason text,
  otp_required_for_login boolean NOT NULL DEFAULT false,
  role_id bigint REFERENCES user_roles (id) ON DELETE SET NULL,
  created_at timestamp without time zone NOT NULL,
  updated_at timestamp without time zone NOT NULL
);
CREATE UNIQUE INDEX index_users_on_email ON users (email);
CREATE UNIQUE INDEX index_users_on_account_id ON users (account_id);

CREATE TABLE oauth_access_tokens (
  id bigserial PRIMARY KEY,
  token character varying NOT NULL,
  resource_owner_id bigint REFERENCES users (id) ON DELETE CASCADE,
  scopes character varying,
  created_at timestamp without time zone NOT NULL
);
CREATE UNIQUE INDEX index_oauth_access_tokens_on_token ON oauth_access_tokens (token);

CREATE TABLE email_domain_blocks (
  id bigserial PRIMARY KEY,
  domain character varying NOT NULL DEFAULT '',
  parent_id bigint REFERENCES email_domain_blocks (id) ON DELETE CASCADE,
  allow_with_approval boolean NOT NULL DEFAULT false,
  created_at timestamp without time zone NOT NULL,
  updated_at timestamp without time zone NOT NULL
);
CREATE UNIQUE INDEX index_email_domain_blocks_on_domain ON email_domain_blocks (domain);

CREATE TABLE ip_blocks (
  id bigserial PRIMARY KEY,
  ip inet NOT NULL DEFAULT '0.0.0.0',
  severity integer NOT NULL DEFAULT 0,
  comment text NOT NULL DEFAULT '',
  expires_at timestamp without time zone,
  created_at timestamp(6) without time zone NOT NULL,
  updated_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_ip_blocks_on_ip ON ip_blocks (ip);

CREATE TABLE statuses (
  id bigserial PRIMARY KEY,
  uri character varying,
  text text NOT NULL DEFAULT '',
  local boolean,
  account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  deleted_at timestamp without time zone,
  created_at timestamp without time zone NOT NULL,
  updated_at timestamp without time zone NOT NULL
);

CREATE TABLE media_attachments (
  id bigserial PRIMARY KEY,
  status_id bigint REFERENCES statuses (id) ON DELETE SET NULL,
  account_id bigint REFERENCES accounts (id) ON DELETE SET NULL,
  file_file_name character varying,
  file_file_size bigint,
  remote_url character varying NOT NULL DEFAULT '',
  type integer NOT NULL DEFAULT 0,
  created_at timestamp without time zone NOT NULL,
  updated_at timestamp without time zone NOT NULL
);

CREATE TABLE preview_cards (
  id bigserial PRIMARY KEY,
  url character varying NOT NULL DEFAULT '',
  image_file_name character varying,
  image_file_size integer,
  type integer NOT NULL DEFAULT 0,
  created_at timestamp without time zone NOT NULL,
  updated_at timestamp without time zone NOT NULL
);
