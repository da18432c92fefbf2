"""Container entry point: runs the action with the NORTHFLANK_* environment."""

import gc
import sys
from pathlib import Path

# Start-up is mostly imports, whose objects live until exit: the cyclic collector would only rescan them
# (about 5 ms of a 120 ms run). main() freezes them and turns it back on before anything long-running.
gc.disable()

# The image runs Python isolated (-I), which leaves the script's own folder off sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from northflank_release.main import main  # noqa: E402 - needs the two lines above first

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
