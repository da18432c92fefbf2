"""Release flows of the tests' own, for the stand-in (`RunPlan.following`): nested, huge, hostile."""

from __future__ import annotations

from testing.northflank_standin import NODE_STATUSES, FlowStep, workflow

# Node names that would break a Mermaid diagram, a Markdown table or an HTML page if passed through.
HOSTILE_REFS = (
    '"]; click n0 href "javascript:alert(1)"',
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "end",
    "a --> b",
    '%%{init: {"theme": "forest"}}%%',
    "`**not bold**`",
    "line\nbreak\r\nand more",
    "|pipe| cell",
    "```",
    "#quot; #35; &amp; &lt;",
    "subgraph x",
    "classDef success fill:#f00",
    "style n0 fill:red",
    "{{curly}} (round) [[square]] ((circle))",
    "名前-ビルド 🚀",
    "\u202eevil-rtl \u200b zero-width",
    "a;b;c",
    ":::failure",
    "::error::not a command",
    "\\ back\\slash",
    "direction LR",
    "www.evil-login.example/reset",
    "help@evil.example",
    "",
    "x" * 300,
)


def every_status() -> FlowStep:
    """One leaf per documented node status, each in its own parallel branch so none blocks another."""
    leaves = [
        FlowStep(
            f"node-{status}",
            status=status,
            duration=30.0 + index,
            error="exit code 1" if status in {"failure", "invalid"} else None,
            retries=2 if status in {"retrying", "failure"} else 0,
        )
        for index, status in enumerate(NODE_STATUSES)
    ]
    return workflow("root", "parallel", *leaves)


def failed_nested() -> FlowStep:
    """A realistic release that fails in one parallel branch while the others finish."""
    return workflow(
        "release",
        "sequential",
        FlowStep("checkout-tests", kind="RunJob", duration=42.0),
        workflow(
            "build-all",
            "parallel",
            FlowStep("build-api", duration=130.0),
            FlowStep(
                "build-web",
                duration=75.0,
                status="failure",
                retries=1,
                error="Build failed: npm ERR! missing script: build <web/package.json>",
            ),
            workflow(
                "worker",
                "sequential",
                FlowStep("build-worker", duration=95.0),
                FlowStep("scan-worker", kind="RunJob", duration=20.0),
            ),
        ),
        FlowStep("migrate-db", kind="RunJob", status="skipped"),
        workflow(
            "deploy",
            "parallel",
            FlowStep("deploy-api", kind="Release", status="skipped"),
            FlowStep("deploy-web", kind="Release", status="skipped"),
        ),
    )


def build_then_two_regions(us_fails: bool = False) -> FlowStep:
    """A release of about four seconds: build, then deploy to two regions side by side (the demo's flow)."""
    us = FlowStep("deploy-us", kind="Release", duration=2.0)
    if us_fails:
        us = FlowStep("deploy-us", kind="Release", duration=2.0, status="failure", error="Image pull failed")
    return workflow(
        "release",
        "sequential",
        FlowStep("build-image", duration=2.0),
        workflow("deploy", "parallel", FlowStep("deploy-eu", kind="Release", duration=1.0), us),
    )


def succeeded_nested() -> FlowStep:
    return workflow(
        "release",
        "sequential",
        FlowStep("build-image", duration=130.0),
        workflow(
            "deploy",
            "parallel",
            FlowStep("deploy-eu", kind="Release", duration=40.0),
            workflow(
                "us",
                "sequential",
                FlowStep("migrate-us", kind="RunJob", duration=15.0),
                FlowStep("deploy-us", kind="Release", duration=45.0),
            ),
        ),
    )


def big(count: int, width: int = 6) -> FlowStep:
    """`count` leaves in sequential stages of `width` parallel builds, the 7th failing."""
    stages: list[FlowStep] = []
    made = 0
    while made < count:
        branch = [
            FlowStep(
                f"svc-{made + index:04d}",
                duration=5.0 + (made + index) % 13,
                status="failure" if made + index == 7 else "success",
                error="OOMKilled" if made + index == 7 else None,
            )
            for index in range(min(width, count - made))
        ]
        made += len(branch)
        stages.append(workflow(f"stage-{len(stages)}", "parallel", *branch))
    return workflow("root", "sequential", *stages)


def deep(depth: int) -> FlowStep:
    """Workflows nested `depth` levels, alternating sequential and parallel."""
    node = FlowStep("innermost", duration=3.0)
    for level in range(depth):
        node = workflow(
            f"level-{level}", "parallel" if level % 2 else "sequential", node, FlowStep(f"side-{level}", duration=2.0)
        )
    return node


def hostile(duration: float = 5.0) -> FlowStep:
    """Every hostile name as a node ref, some in a nested Workflow, some failing with hostile errors."""
    leaves = [
        FlowStep(
            ref,
            duration=duration,
            status="failure" if index % 5 == 0 else "success",
            error=f"{ref} <b>failed</b> | `x` \n::warning::injected" if index % 5 == 0 else None,
        )
        for index, ref in enumerate(HOSTILE_REFS)
    ]
    half, quarter = len(leaves) // 2, len(leaves) // 4
    # Hostile names as box titles too: Mermaid reads some words (`direction LR`) even inside a quoted title.
    inner = workflow("direction LR", "sequential", *leaves[:quarter])
    return workflow(
        "root", "parallel", workflow(HOSTILE_REFS[0], "sequential", inner, *leaves[quarter:half]), *leaves[half:]
    )
