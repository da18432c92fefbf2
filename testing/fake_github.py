"""A stand-in for GitHub's REST API behind a fake ``gh api``, following GitHub's rules for ref writes.

The state is plain JSON in a file (:class:`Repository` reads and writes it); the program ``gh`` written by
:func:`install_gh` is this module run as a script, so every call of a workflow step goes through the same
rules. What it models, each from its source:

- ``gh api`` output (cli/cli pkg/cmd/api/api.go, processResponse and printHeaders): with ``--include`` the
  status line, ``Name: value`` headers ending in CRLF and an empty line on stdout; then the body, or the
  ``--jq`` filter's raw result (applied to error bodies too); for a status of 400 or more
  ``gh: <message> (HTTP <code>)`` on stderr and exit status 1. The filter runs on the real ``jq`` (gh runs
  gojq, which reads these expressions the same way).
- A ref write (``POST .../git/refs``, ``PATCH .../git/refs/{ref}``) needs Contents write, and Workflows
  write as well when it "will affect workflow files" ("Permissions required for GitHub Apps",
  docs.github.com/en/rest/authentication/permissions-required-for-github-apps). A tag that moves to a
  commit whose ``.github/workflows`` differ from the old target's, or a new tag on a commit whose
  workflows are no branch head's, is refused with a 403 whose body says only "Resource not accessible by
  integration" and whose ``X-Accepted-GitHub-Permissions`` header names workflows (mkb79/Audible#882;
  also Tracer-Cloud/opensre#3594, cloudposse/atmos#2962). ``GITHUB_TOKEN`` never holds Workflows: the
  workflow ``permissions:`` key has no such scope.
- A tag ruleset refuses a ref write with 422 "Repository rule violations found ... Cannot create ref due to
  creations being restricted." (or "Cannot update this protected ref.") unless the token's actor is a
  bypass actor (googleapis/release-please-action#1194). The GitHub Actions integration cannot be one
  (422 "Actor GitHub Actions integration must be part of the ruleset source or owner organization" when
  one tries, liquibase/liquibase#7985); a GitHub App can.
- Rulesets answer as "REST API endpoints for rules" documents them (docs.github.com/en/rest/repos/rules, the
  ``repository-ruleset`` schema): the list (``GET .../rulesets``, with ``includes_parents``, ``targets``,
  ``per_page``, ``page``) gives each ruleset's ``id``, ``name``, ``target``, ``source_type``, ``source``,
  ``enforcement``, ``node_id`` and ``_links`` only, as its documented example does; the ruleset itself
  (``GET .../rulesets/{id}``) adds ``conditions.ref_name`` (``include``/``exclude``), ``rules`` and
  ``current_user_can_bypass`` for the caller (``always``, ``pull_requests_only`` or ``never``), and no
  ``bypass_actors``, which go only to a caller with write access to the ruleset. An ``active`` tag
  ruleset refuses a new tag with a ``creation`` rule, a moved one with ``update`` or ``non_fast_forward``,
  unless the token's actor bypasses it ``always``.
- Attestations made by the workflow's attest step (:meth:`Repository.attest`) and ``gh attestation verify
  oci://IMAGE@DIGEST --repo R --cert-identity ID`` (cli/cli pkg/cmd/attestation/verify/policy.go): it
  passes when an attestation of that digest has the subject ID exactly (the workflow file's URL
  ``@`` the ref the run was on, as GitHub spells the repository).
- An installation token lives until revoked; actions/create-github-app-token revokes its token in its post
  step at the job's end (action.yml ``post:``, lib/post.js), which :meth:`Repository.revoke` does.

Faults (:meth:`Repository.add_fault`) answer a matching call with an error status a number of times,
optionally after doing the write (a gateway that times out after the change).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

WORKFLOWS = ".github/workflows/"
REASONS = {200: "OK", 201: "Created", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           422: "Unprocessable Entity", 502: "Bad Gateway"}  # fmt: skip
NOT_ACCESSIBLE = "Resource not accessible by integration"
RULESET_CREATE = "Repository rule violations found\n\nCannot create ref due to creations being restricted.\n\n"
RULESET_UPDATE = "Repository rule violations found\n\nCannot update this protected ref.\n\n"
GITHUB_ACTIONS = "github-actions"  # the actor of GITHUB_TOKEN
RELEASE_APP = "release-app"


def _sha(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()  # git names objects by SHA-1


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class Repository:
    """The repository's objects, refs, rulesets, tokens and faults, kept in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            self.data: dict[str, Any] = {
                "repository": "", "blobs": {}, "trees": {}, "commits": {}, "refs": {}, "rulesets": [],
                "tokens": {}, "faults": [], "log": [], "counter": 0, "unlisted": [], "listing_lag": False,
            }  # fmt: skip
            self.save()
        else:
            self.data = json.loads(path.read_text(encoding="utf-8"))

    def save(self) -> None:
        self.path.write_text(json.dumps(self.data, indent=1), encoding="utf-8")

    def reload(self) -> None:
        self.data = json.loads(self.path.read_text(encoding="utf-8"))

    # objects

    def blob(self, content: bytes) -> str:
        sha = _sha("blob", content.hex())
        self.data["blobs"][sha] = base64.b64encode(content).decode()
        return sha

    def blob_content(self, sha: str) -> bytes:
        return base64.b64decode(self.data["blobs"][sha])

    def tree(self, files: dict[str, str]) -> str:
        sha = _sha("tree", json.dumps(files, sort_keys=True))
        self.data["trees"][sha] = dict(sorted(files.items()))
        return sha

    def commit(self, tree: str, parents: list[str], message: str) -> str:
        # Each new commit object gets a new name, as a new commit date gives one on GitHub.
        self.data["counter"] += 1
        sha = _sha("commit", tree, *parents, message, str(self.data["counter"]))
        self.data["commits"][sha] = {"tree": tree, "parents": parents, "message": message}
        return sha

    def files(self, commit: str) -> dict[str, str]:
        return dict(self.data["trees"][self.data["commits"][commit]["tree"]])

    def workflows(self, commit: str) -> str:
        """The name of the commit's .github/workflows tree (what the contents API reports as its sha)."""
        entries = {p: b for p, b in self.files(commit).items() if p.startswith(WORKFLOWS)}
        return _sha("tree", json.dumps(entries, sort_keys=True))

    def resolve(self, name: str) -> str | None:
        """A commit SHA, a branch name or a tag name to a commit SHA."""
        if name in self.data["commits"]:
            return name
        for ref in (name, f"refs/heads/{name}", f"refs/tags/{name}"):
            if ref in self.data["refs"]:
                return str(self.data["refs"][ref])
        return None

    # tokens and rules

    def add_token(self, token: str, actor: str, *, contents: str, workflows: bool) -> None:
        self.data["tokens"][token] = {"actor": actor, "contents": contents, "workflows": workflows}

    def revoke(self, token: str) -> None:
        self.data["tokens"].pop(token, None)

    def add_ruleset(
        self,
        include: str,
        bypass: list[str],
        *,
        bypass_mode: str = "always",
        rules: tuple[str, ...] = ("creation", "update", "deletion"),
        enforcement: str = "active",
        exclude: tuple[str, ...] = (),
        source_type: str = "Repository",
    ) -> int:
        """A tag ruleset on refs matching ``include``, which the actors in ``bypass`` bypass (``bypass_mode``)."""
        ruleset_id = 100 + len(self.data["rulesets"])
        source = self.data["repository"] if source_type == "Repository" else self.data["repository"].split("/")[0]
        self.data["rulesets"].append({
            "id": ruleset_id, "name": f"tags {include}", "target": "tag", "source_type": source_type,
            "source": source, "enforcement": enforcement, "include": [include], "exclude": list(exclude),
            "rules": list(rules), "bypass": dict.fromkeys(bypass, bypass_mode),
        })  # fmt: skip
        return ruleset_id

    def attest(self, name: str, digest: str, identity: str) -> None:
        """An attestation of ``name@digest`` signed with the certificate subject ``identity``."""
        self.data.setdefault("attestations", []).append({"name": name, "digest": digest, "identity": identity})

    def _covers(self, ruleset: dict[str, Any], ref: str) -> bool:
        include = any(p == "~ALL" or fnmatchcase(ref, p) for p in ruleset["include"])
        return include and not any(fnmatchcase(ref, p) for p in ruleset["exclude"])

    def _ruleset_answer(self, ruleset: dict[str, Any], actor: str | None) -> dict[str, Any]:
        summary = {k: ruleset[k] for k in ("id", "name", "target", "source_type", "source", "enforcement")}
        summary["node_id"] = f"RRS_{ruleset['id']}"
        summary["_links"] = {"self": {"href": f"https://api.github.com/repos/{self.data['repository']}/rulesets/"
                                              f"{ruleset['id']}"}}  # fmt: skip
        if actor is None:
            return summary
        mode = ruleset["bypass"].get(actor)
        can = {"always": "always", "pull_request": "pull_requests_only"}.get(mode or "", "never")
        return {**summary, "conditions": {"ref_name": {"include": ruleset["include"], "exclude": ruleset["exclude"]}},
                "rules": [{"type": r} for r in ruleset["rules"]], "current_user_can_bypass": can}  # fmt: skip

    def add_fault(self, method: str, path: str, status: int, *, times: int = 1, after_write: bool = False) -> None:
        """Answer ``status`` to calls of ``method`` on a path matching the regex ``path``, ``times`` times."""
        self.data["faults"].append(
            {"method": method, "path": path, "status": status, "times": times, "after_write": after_write}
        )

    def ref_refusal(self, token: dict[str, Any], ref: str, new: str, old: str | None) -> Answer | None:
        """GitHub's answer to a ref write it refuses, or None when it allows it."""
        if token["contents"] != "write":
            return Answer(403, {"message": NOT_ACCESSIBLE}, {"X-Accepted-Github-Permissions": "contents=write"})
        if not token["workflows"]:
            if old is not None:
                allowed = {self.workflows(old)}
            else:
                heads = [sha for name, sha in self.data["refs"].items() if name.startswith("refs/heads/")]
                allowed = {self.workflows(sha) for sha in heads}
            if self.workflows(new) not in allowed:
                return Answer(
                    403,
                    {"message": NOT_ACCESSIBLE, "documentation_url": "https://docs.github.com/rest/git/refs",
                     "status": "403"},
                    {"X-Accepted-Github-Permissions": "contents=write; contents=write,workflows=write"},
                )  # fmt: skip
        for ruleset in self.data["rulesets"]:
            applies = {"creation"} if old is None else {"update", "non_fast_forward"}
            if (
                ruleset["enforcement"] == "active"
                and ref.startswith("refs/tags/")
                and self._covers(ruleset, ref)
                and applies & set(ruleset["rules"])
                and ruleset["bypass"].get(token["actor"]) != "always"
            ):
                message = RULESET_UPDATE if old is not None else RULESET_CREATE
                return Answer(422, {"message": message, "status": "422"}, {})
        return None

    def set_ref(self, ref: str, sha: str) -> None:
        if ref not in self.data["refs"] and self.data["listing_lag"]:
            self.data["unlisted"].append(ref)
        self.data["refs"][ref] = sha

    # the API

    def handle(self, method: str, path: str, fields: dict[str, Any], token_name: str | None) -> Answer:
        token = self.data["tokens"].get(token_name or "")
        if token is None:
            return Answer(401, {"message": "Bad credentials"}, {})
        repo = f"repos/{self.data['repository']}/"
        if not path.startswith(repo):
            return Answer(404, {"message": "Not Found"}, {})
        route, _, query = path[len(repo) :].partition("?")
        for fault in self.data["faults"]:
            if fault["times"] > 0 and fault["method"] == method and re.search(fault["path"], route):
                fault["times"] -= 1
                if fault["after_write"]:
                    self._route(method, route, query, fields, token)
                return Answer(fault["status"], {"message": "Server Error"}, {})
        return self._route(method, route, query, fields, token)

    def _route(self, method: str, route: str, query: str, fields: dict[str, Any], token: dict[str, Any]) -> Answer:
        refs = self.data["refs"]
        not_found = Answer(404, {"message": "Not Found"}, {})
        if method == "GET" and (m := re.fullmatch(r"git/ref/(tags/.+)", route)):
            sha = refs.get(f"refs/{m[1]}")
            if sha is None:
                return not_found
            return Answer(200, {"ref": f"refs/{m[1]}", "object": {"type": "commit", "sha": sha}}, {})
        if method == "GET" and (m := re.fullmatch(r"git/matching-refs/(tags/.*)", route)):
            listed = [r for r in sorted(refs) if r.startswith(f"refs/{m[1]}") and r not in self.data["unlisted"]]
            return Answer(200, [{"ref": r, "object": {"type": "commit", "sha": refs[r]}} for r in listed], {})
        if method == "GET" and (m := re.fullmatch(r"git/commits/([0-9a-f]{40})", route)):
            commit = self.data["commits"].get(m[1])
            if commit is None:
                return not_found
            parents = [{"sha": p} for p in commit["parents"]]
            return Answer(200, {"sha": m[1], "tree": {"sha": commit["tree"]}, "parents": parents}, {})
        if method == "GET" and route == "rulesets":
            params = dict(p.partition("=")[::2] for p in query.split("&") if p)
            rulesets = self.data["rulesets"]
            if params.get("includes_parents") != "true":
                rulesets = [r for r in rulesets if r["source_type"] == "Repository"]
            if params.get("targets"):
                rulesets = [r for r in rulesets if r["target"] in params["targets"].split(",")]
            per_page, page = int(params.get("per_page", "30")), int(params.get("page", "1"))
            shown = rulesets[(page - 1) * per_page : page * per_page]
            return Answer(200, [self._ruleset_answer(r, None) for r in shown], {})
        if method == "GET" and (m := re.fullmatch(r"rulesets/(\d+)", route)):
            params = dict(p.partition("=")[::2] for p in query.split("&") if p)
            for ruleset in self.data["rulesets"]:
                if ruleset["id"] == int(m[1]) and (
                    ruleset["source_type"] == "Repository" or params.get("includes_parents") == "true"
                ):
                    return Answer(200, self._ruleset_answer(ruleset, token["actor"]), {})
            return not_found
        if method == "GET" and route == "contents/.github":
            sha = self.resolve(query.removeprefix("ref="))
            if sha is None:
                return not_found
            return Answer(200, [{"name": "workflows", "type": "dir", "sha": self.workflows(sha)}], {})
        if method in ("POST", "PATCH") and token["contents"] != "write":
            return Answer(403, {"message": NOT_ACCESSIBLE}, {"X-Accepted-Github-Permissions": "contents=write"})
        if method == "POST" and route == "git/blobs":
            return Answer(201, {"sha": self.blob(base64.b64decode(fields["content"]))}, {})
        if method == "POST" and route == "git/trees":
            files = dict(self.data["trees"][fields["base_tree"]])
            for entry in fields["tree"]:
                files[entry["path"]] = entry["sha"]
            return Answer(201, {"sha": self.tree(files)}, {})
        if method == "POST" and route == "git/commits":
            if fields["tree"] not in self.data["trees"]:
                return Answer(422, {"message": "Tree SHA does not exist"}, {})
            return Answer(201, {"sha": self.commit(fields["tree"], fields["parents"], fields["message"])}, {})
        if method == "POST" and route == "git/refs":
            ref, sha = str(fields["ref"]), str(fields["sha"])
            if sha not in self.data["commits"]:
                return Answer(422, {"message": "Object does not exist"}, {})
            if ref in refs:
                return Answer(422, {"message": "Reference already exists"}, {})
            refused = self.ref_refusal(token, ref, sha, None)
            if refused:
                return refused
            self.set_ref(ref, sha)
            return Answer(201, {"ref": ref, "object": {"type": "commit", "sha": sha}}, {})
        if method == "PATCH" and (m := re.fullmatch(r"git/refs/(tags/.+)", route)):
            ref, sha = f"refs/{m[1]}", str(fields["sha"])
            if ref not in refs:
                return Answer(422, {"message": "Reference does not exist"}, {})
            refused = self.ref_refusal(token, ref, sha, refs[ref])
            if refused:
                return refused
            self.set_ref(ref, sha)
            return Answer(200, {"ref": ref, "object": {"type": "commit", "sha": sha}}, {})
        return Answer(404, {"message": f"fake GitHub has no route {method} {route}"}, {})


def _parse(argv: list[str]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """gh api's options (pkg/cmd/api/api.go): --include, --method/-X, --paginate, --jq/-q, -f, -F, --input."""
    options: dict[str, Any] = {"include": False, "method": None, "jq": None, "input": None}
    fields: dict[str, Any] = {}
    path = ""
    args = iter(argv)
    for arg in args:
        if arg in ("--include", "-i"):
            options["include"] = True
        elif arg in ("--method", "-X"):
            options["method"] = next(args)
        elif arg == "--paginate":
            pass
        elif arg in ("--jq", "-q"):
            options["jq"] = next(args)
        elif arg == "--input":
            options["input"] = next(args)
        elif arg in ("-f", "--raw-field"):
            key, _, value = next(args).partition("=")
            fields[key] = value
        elif arg in ("-F", "--field"):
            key, _, value = next(args).partition("=")
            fields[key] = {"true": True, "false": False}.get(value, value)
        elif arg.startswith("-"):
            raise SystemExit(f"fake gh: unknown option {arg}")
        else:
            path = arg
    if options["input"] == "-":
        fields = json.loads(sys.stdin.read())
    # gh sends POST when there are fields or an input and no --method (api.go, apiRun).
    options["method"] = options["method"] or ("POST" if fields or options["input"] else "GET")
    return options, path, fields


def _attestation_verify(state: Path, argv: list[str], environ: dict[str, str]) -> int:
    """``gh attestation verify oci://NAME@DIGEST --repo R --cert-identity ID`` against the attestations made."""
    repository = Repository(state)
    options = dict(zip(argv[1::2], argv[2::2], strict=False))
    repository.data["log"].append({"method": "attestation verify", "path": argv[0], "fields": options,
                                   "actor": "", "status": 0})  # fmt: skip
    repository.save()
    if (environ.get("GH_TOKEN") or environ.get("GITHUB_TOKEN") or "") not in repository.data["tokens"]:
        print("HTTP 401: Bad credentials", file=sys.stderr)
        return 1
    subject = argv[0].removeprefix("oci://")
    name, _, digest = subject.partition("@")
    if not argv[0].startswith("oci://") or "--repo" not in options or "--cert-identity" not in options:
        print(f"fake gh: attestation verify {argv} is not the modelled form", file=sys.stderr)
        return 2
    found = [a for a in repository.data.get("attestations", []) if a["digest"] == digest and a["name"] == name]
    if not found:
        print(f"✗ Loading attestations from GitHub API failed\nError: no attestations found for {subject}")
        return 1
    if options["--repo"].lower() != repository.data["repository"].lower():
        print(f"✗ Verification failed\nError: attestations are not from {options['--repo']}")
        return 1
    if not any(a["identity"] == options["--cert-identity"] for a in found):
        print("✗ Verification failed\nError: verifying with issuer \"sigstore.dev\": the certificate's subject "
              f"is not {options['--cert-identity']}")  # fmt: skip
        return 1
    print(f"Loaded {len(found)} attestation from GitHub API\n✓ Verification succeeded!")
    return 0


def gh_main(state: Path, argv: list[str], environ: dict[str, str]) -> int:
    if argv[:2] == ["attestation", "verify"]:
        return _attestation_verify(state, argv[2:], environ)
    if not argv or argv[0] != "api":
        print(f"fake gh: only `gh api` and `gh attestation verify` are modelled, not {argv[:1]}", file=sys.stderr)
        return 2
    options, path, fields = _parse(argv[1:])
    repository = Repository(state)
    token = environ.get("GH_TOKEN") or environ.get("GITHUB_TOKEN")
    answer = repository.handle(options["method"], path, fields, token)
    actor = repository.data["tokens"].get(token or "", {}).get("actor", "unknown")
    repository.data["log"].append({"method": options["method"], "path": path, "fields": fields,
                                   "actor": actor, "status": answer.status})  # fmt: skip
    repository.save()
    out = sys.stdout
    if options["include"]:
        out.write(f"HTTP/2.0 {answer.status} {REASONS.get(answer.status, '')}\r\n")
        headers = {"Content-Type": "application/json; charset=utf-8", **answer.headers}
        for name in sorted(headers):
            out.write(f"{name}: {headers[name]}\r\n")
        out.write("\r\n")
    body = json.dumps(answer.body)
    if options["jq"] is not None:
        jq = shutil.which("jq")
        if jq is None:
            print("fake gh: --jq needs jq on PATH", file=sys.stderr)
            return 2
        filtered = subprocess.run([jq, "-r", options["jq"]], input=body, capture_output=True, text=True, check=False)
        out.write(filtered.stdout)
    else:
        out.write(body)
    out.flush()
    if answer.status >= 400:
        message = answer.body.get("message", "") if isinstance(answer.body, dict) else ""
        print(f"gh: {message} (HTTP {answer.status})" if message else f"gh: HTTP {answer.status}", file=sys.stderr)
        return 1
    return 0


def install_gh(bin_dir: Path, state: Path) -> Path:
    """Write ``bin_dir/gh``: this module, answering from ``state``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    gh = bin_dir / "gh"
    gh.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\n"
        "from testing.fake_github import gh_main\n"
        f"sys.exit(gh_main(__import__('pathlib').Path({str(state)!r}), sys.argv[1:], dict(os.environ)))\n",
        encoding="utf-8",
    )
    gh.chmod(0o755)
    return gh
