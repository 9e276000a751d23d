"""Run the tests' fake Slack API in its own process (so benchmarks don't share its GIL).

Prints the API base URL on the first line, then serves until stdin closes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.slack import FakeSlack


def main() -> None:
    latency = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    with FakeSlack(latency=latency) as slack:
        print(slack.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
