"""The harness: real parts standing in for the world the action meets, used by the tests and the scripts.

- northflank_standin: a real HTTP server on 127.0.0.1 playing the Northflank API, with faults and outages;
- runner: runs the action as GitHub's runner does, and reads its files by the runner's rules;
- clock: a clock the tests advance by hand;
- flows: release flows for the stand-in to run; browser: renders summaries in Chromium;
- network_peers: proxies and a private CA; image_build, release_rehearsal: the image and the release, local;
- fake_github, workflow_run: GitHub's REST rules for refs, and a runner of the release workflow's jobs.

Nothing here imports tests/.
"""
