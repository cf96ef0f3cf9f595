"""Plays the jobs of a workflow in .github/workflows/ on this machine, step by step, as GitHub Actions would.

A `run:` step runs as Actions runs it: its text in `bash --noprofile --norc -eo pipefail`, in the job's
checkout, with the workflow's, the job's and the step's `env:` (their `${{ }}` expressions evaluated),
GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, and `if:`, `continue-on-error:`, outcomes and job outputs.
A `uses:` step is played by a handler the caller gives for that action (checking out, uploading an
artifact, deploying Pages), since those are GitHub's own machinery. An expression the evaluator does not
understand, or an action without a handler, fails the test rather than being skipped.

The expression language is the subset the workflows use: contexts (github, inputs, vars, env, steps,
needs, runner), 'strings', numbers, true/false/null, ==, !=, !, &&, || (which, as in Actions, give an
operand, not a boolean), parentheses, and the status functions success(), failure(), always(), cancelled().
"""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

TOKEN = re.compile(r"\s+|'(?:[^']|'')*'|\d+(?:\.\d+)?|&&|\|\||==|!=|!|\(|\)|"
                   r"(?:success|failure|always|cancelled)\(\)|[A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])*")
INTERPOLATION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
STATUS = re.compile(r"\b(success|failure|always|cancelled)\(\)")


class WorkflowError(Exception):
    pass


def evaluate(expression: str, context: dict, failed: bool = False):
    """The value of one expression (without the `${{ }}`)."""
    python = []
    pos = 0
    while pos < len(expression):
        m = TOKEN.match(expression, pos)
        if not m:
            raise WorkflowError(f"cannot read the expression {expression!r} at {expression[pos:]!r}")
        token, pos = m.group(0), m.end()
        if token.isspace():
            continue
        if token.startswith("'"):
            python.append(repr(token[1:-1].replace("''", "'")))
        elif token[0].isdigit():
            python.append(token)
        elif token in ("&&", "||"):
            python.append(" and " if token == "&&" else " or ")
        elif token in ("==", "!=", "(", ")"):
            python.append(f" {token} ")
        elif token == "!":
            python.append(" not ")
        elif token.endswith("()"):
            python.append(repr({"success()": not failed, "failure()": failed, "always()": True, "cancelled()": False}[token]))
        elif token in ("true", "false", "null"):
            python.append(repr({"true": True, "false": False, "null": None}[token]))
        else:
            python.append(repr(lookup(context, token)))
    return eval("".join(python), {"__builtins__": {}}, {})  # noqa: S307 - built above from literals only


def lookup(context: dict, path: str):
    value = context
    for part in re.findall(r"[\w-]+|\[\d+\]", path):
        if part.startswith("["):
            index = int(part[1:-1])
            value = value[index] if isinstance(value, list) and index < len(value) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
    return value


def text(value) -> str:
    return "" if value is None else ("true" if value is True else "false" if value is False else str(value))


def interpolate(template, context: dict):
    if not isinstance(template, str):
        return template
    return INTERPOLATION.sub(lambda m: text(evaluate(m.group(1), context)), template)


@dataclass
class Step:
    name: str
    outcome: str
    """success, failure or skipped"""
    stdout: str = ""
    outputs: dict = field(default_factory=dict)


@dataclass
class Job:
    name: str
    result: str
    """success, failure or skipped (as needs.<job>.result)"""
    steps: list[Step] = field(default_factory=list)
    outputs: dict = field(default_factory=dict)

    def step(self, name: str) -> Step:
        (found,) = [s for s in self.steps if s.name == name]
        return found


Action = Callable[[dict, dict, Path], None]
"""handler(with, context, checkout): plays a `uses:` step; raises to fail it"""


def run_workflow(workflow: Path, context: dict, checkout: Callable[[str], Path], actions: dict[str, Action],
                 base_env: dict[str, str], only: list[str] | None = None) -> dict[str, Job]:
    """Every job of `workflow` (or those in `only`) in order, each in the folder `checkout(job)` gives."""
    flow = yaml.safe_load(workflow.read_text())
    jobs: dict[str, Job] = {}
    for name, spec in flow["jobs"].items():
        if only and name not in only:
            continue
        needs = [spec["needs"]] if isinstance(spec.get("needs"), str) else spec.get("needs", [])
        job_context = {**context, "needs": {n: {"result": jobs[n].result, "outputs": jobs[n].outputs} for n in needs if n in jobs}}
        failed_before = any(job_context["needs"][n]["result"] == "failure" for n in job_context["needs"])
        condition = spec.get("if")
        if condition is None:
            run = not failed_before and all(job_context["needs"][n]["result"] == "success" for n in job_context["needs"])
        else:  # as for a step, a condition without a status function means "and every needed job succeeded"
            expression = interpolate_condition(condition)
            succeeded = all(job_context["needs"][n]["result"] == "success" for n in job_context["needs"])
            run = bool(evaluate(expression, job_context, failed_before)) and (bool(STATUS.search(expression)) or succeeded)
        if not run:
            jobs[name] = Job(name, "skipped")
            continue
        jobs[name] = _run_job(name, spec, flow, job_context, checkout(name), actions, base_env)
    return jobs


def interpolate_condition(condition) -> str:
    """An `if:` may be written with or without `${{ }}`."""
    condition = str(condition).strip()
    m = INTERPOLATION.fullmatch(condition)
    return m.group(1) if m else condition


def _run_job(name: str, spec: dict, flow: dict, context: dict, folder: Path, actions: dict[str, Action],
             base_env: dict[str, str]) -> Job:
    job = Job(name, "success")
    context = {**context, "steps": {}, "env": {}}
    env = {}
    for level in (flow.get("env") or {}, spec.get("env") or {}):
        for key, value in level.items():
            env[key] = interpolate(str(value), {**context, "env": env})
    context["env"] = env
    temp = folder.parent / f"{folder.name}-runner-temp"
    temp.mkdir(exist_ok=True)
    context["runner"] = {"temp": str(temp), "os": "Linux"}
    failed = False
    for i, step in enumerate(spec["steps"]):
        step_name = step.get("id") or step.get("name") or step.get("uses", f"step {i}")
        condition = step.get("if")
        if condition is None:
            go = not failed
        else:
            expression = interpolate_condition(condition)
            go = bool(evaluate(expression, context, failed)) and (bool(STATUS.search(expression)) or not failed)
        if not go:
            job.steps.append(Step(step_name, "skipped"))
            context["steps"][step_name] = {"outcome": "skipped", "conclusion": "skipped", "outputs": {}}
            continue
        step_env = {k: interpolate(str(v), context) for k, v in (step.get("env") or {}).items()}
        if "run" in step:
            played = _run_step(step["run"], folder, temp, i, {**base_env, **env, **step_env}, context)
        else:
            played = _use(step, folder, context, actions)
        played.name = step_name
        job.steps.append(played)
        conclusion = "success" if played.outcome == "success" or step.get("continue-on-error") else "failure"
        context["steps"][step_name] = {"outcome": played.outcome, "conclusion": conclusion, "outputs": played.outputs}
        failed = failed or conclusion == "failure"
    job.result = "failure" if failed else "success"
    job.outputs = {k: interpolate(str(v), context) for k, v in (spec.get("outputs") or {}).items()}
    return job


def _run_step(script: str, folder: Path, temp: Path, index: int, env: dict[str, str], context: dict) -> Step:
    output, summary = temp / f"output-{index}", temp / f"summary-{index}"
    output.write_text("")
    github = context["github"]
    full = {**env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(temp),
            "GITHUB_REPOSITORY": github["repository"], "GITHUB_SHA": github.get("sha", ""), "GITHUB_REF": github["ref"],
            "GITHUB_EVENT_NAME": github["event_name"], "GITHUB_RUN_ID": str(github.get("run_id", "1")), "CI": "true"}
    path = temp / f"step-{index}.sh"
    path.write_text(script)
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)], cwd=folder, env=full,
                            capture_output=True, text=True, timeout=1200)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return Step("", "success" if result.returncode == 0 else "failure", result.stdout + result.stderr, outputs)


def _use(step: dict, folder: Path, context: dict, actions: dict[str, Action]) -> Step:
    action = step["uses"].split("@")[0]
    if action not in actions:
        raise WorkflowError(f"no handler for the action {action} (step {step.get('name') or step.get('id')})")
    inputs = {k: interpolate(str(v), context) if isinstance(v, str) else v for k, v in (step.get("with") or {}).items()}
    try:
        actions[action](inputs, context, folder)
    except Exception as e:  # the action failed: so does its step
        return Step("", "failure", f"{action}: {e}")
    return Step("", "success", action)


def environment(path_first: Path, **extra: str) -> dict[str, str]:
    """A runner's environment: this machine's PATH behind the stand-in `gh`, HOME, and the given variables."""
    keep = {k: os.environ[k] for k in ("HOME", "LANG", "TMPDIR", "USER") if k in os.environ}
    return {**keep, "PATH": f"{path_first}{os.pathsep}{os.environ['PATH']}", **extra}
