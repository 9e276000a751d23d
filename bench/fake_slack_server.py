"""Run the tests' fake Slack API in its own process (so benchmarks don't share its GIL).

Prints the API base URL on the first line, then serves until stdin closes. A line `responses`
on stdin is answered with the number of messages posted to response_url so far.
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
        for line in sys.stdin:
            if line.strip() == "responses":
                print(len(slack.responses), flush=True)


if __name__ == "__main__":
    main()
