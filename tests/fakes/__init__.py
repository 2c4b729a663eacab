"""In-memory fakes of each domain's ports, for the logic tier (tests/logic). Never imported by functions/."""
