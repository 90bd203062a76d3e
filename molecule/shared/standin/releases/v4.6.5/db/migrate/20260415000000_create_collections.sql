-- Regular (pre-deployment) migration new in 4.6: the old code keeps working with it,
-- so it runs with SKIP_POST_DEPLOYMENT_MIGRATIONS=true before the new code starts.
CREATE TABLE collections (
  id bigserial PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  name character varying NOT NULL,
  description text NOT NULL DEFAULT '',
  created_at timestamp(6) without time zone NOT NULL,
  updated_at timestamp(6) without time zone NOT NULL
);
