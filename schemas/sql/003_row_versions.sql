-- Row versions: every INSERT and UPDATE of a tracked table stamps the row with the next number of
-- one sequence, in row_version. An UPDATE holds the row's lock before its BEFORE trigger runs, so
-- the numbers of one row's states rise in commit order, also for several statements in one
-- transaction and for transactions in the same millisecond. Realtime carries no WAL position;
-- the stream worker orders a row's pushes and catch-up reads by this number instead.

CREATE SEQUENCE IF NOT EXISTS public.pulse_row_version AS bigint;

-- SECURITY DEFINER: the roles that write rows (anon, authenticated through PostgREST) need no
-- privilege on the sequence. The empty search_path keeps the function from resolving anything
-- through a caller's path.
CREATE OR REPLACE FUNCTION public.pulse_next_row_version() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    NEW.row_version := nextval('public.pulse_row_version');
    RETURN NEW;
END;
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sites', 'sessions', 'events', 'calls', 'intents'] LOOP
        -- Rows that exist when the column is added get 0: older than every numbered state.
        EXECUTE format(
            'ALTER TABLE public.%I ADD COLUMN IF NOT EXISTS row_version bigint NOT NULL DEFAULT 0',
            t);
        EXECUTE format('DROP TRIGGER IF EXISTS %I_next_row_version ON public.%I', t, t);
        EXECUTE format(
            'CREATE TRIGGER %I_next_row_version BEFORE INSERT OR UPDATE ON public.%I '
            'FOR EACH ROW EXECUTE FUNCTION public.pulse_next_row_version()', t, t);
    END LOOP;
END;
$$;
