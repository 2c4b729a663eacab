"""Search over the video catalogue (its own issue, not built yet).

What exists already: the `search` table in the topology, the `search` API-key scope, and a slot in the
delete saga for a per-domain step before `DeleteRecord` (docs/videos.md, "Deletion: a saga"). The
domain's functions go here; its routes, triggers and table are declared in infra/topology/search.py.
"""
