"""Text from the API or the inputs that tries to forge workflow commands and step outputs: the e2e fault tests
and the act tests feed it to the action, and look for its markers where nothing of it may act."""

from __future__ import annotations

INJECTED_STATUS = (
    "::warning::pwned-status\nstatus<<EOF\nhacked\nEOF\nghadelimiter_00000000\nrun-id=stolen\n::set-output name=x::y"
)
INJECTED_ARGUMENTS = {
    "NOTE": "x\nstatus<<EOF\nfailure\nEOF",
    "CMD": "::set-output name=status::hacked",
    "WARN": "\n::warning::pwned-argument\n",
    "DELIM": "ghadelimiter_11111111\nrun-id=stolen\nghadelimiter_11111111",
    "STOP": "::stop-commands::pwned\n::pwned::",
}
INJECTED_DESCRIPTION = "Release\n::warning::pwned-description\n::error::pwned"
MARKERS = ("pwned", "hacked", "stolen", "set-output")
