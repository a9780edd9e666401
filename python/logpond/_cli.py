"""The `logpond` console script: the command line of the one Rust
implementation (README, "Command line")."""

from __future__ import annotations

import signal
import sys

from . import _native


def main() -> None:
    # Ctrl-C ends the command at once, as it would the Rust binary (a
    # Python handler would only run once the native call returns).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(_native._cli_main(sys.argv[1:]))


if __name__ == "__main__":
    main()
