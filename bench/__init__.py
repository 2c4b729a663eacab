"""Benchmarks. Each prints its figures as ratios against a baseline measured in the same run, because
this machine is shared and absolute times drift. They are not tests: nothing here passes or fails."""
