"""The command line: --help, and flags that set the same settings as the NORTHFLANK_* variables."""

from __future__ import annotations

import argparse
from typing import NoReturn

from northflank_release import __version__
from northflank_release.settings import HTTP_TIMEOUT_ENV, INPUTS, TRIGGER_RETRY_SECONDS_ENV, input_variable

DESCRIPTION = """\
Run a Northflank pipeline's release flow: validate the request, trigger the run, optionally wait for it
to conclude, and write the run's details as GitHub Actions step outputs (or print them outside GitHub).

Every setting is an environment variable (what action.yml sets from the action's inputs) or the flag
of the same name; a flag wins over the variable. Prefer NORTHFLANK_API_TOKEN to --api-token: flags can
be seen by other users of the machine in the process list."""

EPILOG = f"""\
advanced variables (not action inputs):
  {HTTP_TIMEOUT_ENV:<34} read timeout of one HTTP request (default 30s)
  {TRIGGER_RETRY_SECONDS_ENV:<34} how long the trigger may keep retrying (default 2m)

exit status: 0 when the run was triggered (and, with wait, succeeded); 1 for bad input, an API error,
a failed, aborted or timed-out run; 143 or 130 when stopped by SIGTERM or SIGINT."""


class CommandLineError(Exception):
    """A flag argparse could not read; the message never repeats the values given (one may be the token)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            message = "unrecognized arguments"
        raise CommandLineError(f"{message}; see --help")


def parse_command_line(argv: list[str]) -> dict[str, str]:
    """The values given as flags, keyed like the runner's INPUT_<NAME> variables so a flag wins over
    everything, as `with:` does; exits after --help or --version, raises CommandLineError."""
    parser = _Parser(
        prog="entrypoint.py",
        allow_abbrev=False,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    for spec in INPUTS:
        default = f" (default {spec.default})" if spec.default else (" (required)" if spec.required else "")
        parser.add_argument(
            f"--{spec.name}",
            dest=input_variable(spec.name),
            metavar="VALUE",
            help=f"{spec.env}: {spec.help}{default}",
        )
    namespace = parser.parse_args(argv)
    return {key: value for key, value in vars(namespace).items() if value is not None}
