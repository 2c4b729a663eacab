"""Usage analytics (its own issue, not built yet).

What exists already: the `analytics` table, whose per-user profile the registration saga creates and
compensates (functions/auth, through its `AnalyticsProfiles` port, wired to this domain's own data
access in profiles.py: the table's key layout lives there), the `analytics:read` API-key scope, and a
slot in the delete saga for a per-domain step before `DeleteRecord` (docs/videos.md, "Deletion: a
saga").
"""
