-- The tables Realtime Pulse expects in a Supabase project.
-- REPLICA IDENTITY FULL gives every UPDATE and DELETE a complete old row, which both sources need
-- to key deletes by site and to give each change a content-derived event ID.

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE IF NOT EXISTS public.sites (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id uuid NOT NULL REFERENCES public.sites (id) ON DELETE CASCADE,
    started_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- site_id is whatever the writer claimed; it is not a foreign key through the session on purpose:
-- the stream worker verifies it against the session's site and quarantines forgeries.
CREATE TABLE IF NOT EXISTS public.events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL,
    site_id uuid NOT NULL,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.calls (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id uuid NOT NULL REFERENCES public.sites (id) ON DELETE CASCADE,
    session_id uuid,
    status text NOT NULL DEFAULT 'ringing',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.intents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id uuid NOT NULL REFERENCES public.sites (id) ON DELETE CASCADE,
    session_id uuid,
    call_id uuid,
    status text NOT NULL DEFAULT 'open',
    sealed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS sessions_site_idx ON public.sessions (site_id);
CREATE INDEX IF NOT EXISTS events_session_idx ON public.events (session_id);
CREATE INDEX IF NOT EXISTS events_updated_idx ON public.events (updated_at);
CREATE INDEX IF NOT EXISTS sessions_updated_idx ON public.sessions (updated_at);
CREATE INDEX IF NOT EXISTS calls_updated_idx ON public.calls (updated_at);
CREATE INDEX IF NOT EXISTS intents_updated_idx ON public.intents (updated_at);

CREATE OR REPLACE FUNCTION public.pulse_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sites', 'sessions', 'events', 'calls', 'intents'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I_touch_updated_at ON public.%I', t, t);
        EXECUTE format(
            'CREATE TRIGGER %I_touch_updated_at BEFORE UPDATE ON public.%I '
            'FOR EACH ROW EXECUTE FUNCTION public.pulse_touch_updated_at()', t, t);
        EXECUTE format('ALTER TABLE public.%I REPLICA IDENTITY FULL', t);
    END LOOP;
END;
$$;
