"""The Northflank API, as the action reaches it: where a release flow's runs live (target.py, no HTTP library),
the client that makes one bounded request per call (client.py, bounded.py), and what a failed request
means (network.py). Importing this package alone loads nothing; its modules are imported by name."""
