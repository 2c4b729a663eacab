"""Contract suites: the same assertions against each port's in-memory fake and its real adapter on moto."""
