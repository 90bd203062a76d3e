-- Post-deployment migration new in 4.6: the 4.5 code still reads the column, so it is
-- skipped while SKIP_POST_DEPLOYMENT_MIGRATIONS=true and applied by the plain
-- db:migrate once every process runs 4.6.
ALTER TABLE accounts DROP COLUMN standin_legacy_note;
