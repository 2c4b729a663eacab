"""Run every benchmark in turn (`make bench`)."""

from __future__ import annotations

from bench import analytics_usage, analytics_views, auth, frontdoor, imports, startup, transcode, videos


def main() -> None:
    imports.run()
    print()
    startup.run()
    print()
    frontdoor.run()
    print()
    auth.run()
    print()
    videos.run()
    print()
    transcode.run()
    print()
    analytics_usage.run()
    print()
    analytics_views.run()


if __name__ == "__main__":
    main()
