"""API usage analytics: every API request's access record, folded into per day x route x key x status-class
aggregates (counters and DDSketch latency sketches) by one aggregator, read by the usage API
(docs/analytics.md)."""
