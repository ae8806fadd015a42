-- Who may watch which site's live dashboard: the gateway lets a user's stream through only while
-- a row joins the token's sub (auth.users.id in Supabase) to the site. Any role may watch.
-- Not in the publication: memberships are read by the gateway, never streamed.

CREATE TABLE IF NOT EXISTS public.site_members (
    user_id uuid NOT NULL,
    site_id uuid NOT NULL REFERENCES public.sites (id) ON DELETE CASCADE,
    role text NOT NULL DEFAULT 'viewer',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, site_id)
);
