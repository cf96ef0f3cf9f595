#!/usr/bin/env bash
# Post the pr-audit report as ONE comment on its pull request, or update it: run by pr-comment.yml with a
# token that may comment, so everything the audit wrote (the artifact) is data, never code.
#
# Environment (from the workflow_run event unless said otherwise):
#   REPO          owner/name of the base repository          HEAD_SHA      the commit the audit ran on
#   HEAD_OWNER    owner of the pull request's head repository HEAD_BRANCH  its branch
#   EVENT_PR      the pull request number the event names (empty for pull requests from forks)
#   CONCLUSION    how the audit run ended (success, failure, action_required, timed_out, ...)
#   RUN_URL       the audit run's page                        REPORT_DIR   where its artifact was downloaded (may be absent)
#   MARKER        the report's first line, by which the comment is found again
#
# No report (the run waits for a maintainer's approval, or failed before uploading one) still updates the
# comment, so it never shows an older commit's report as if it were this one's; and it is not an error.
set -euo pipefail

: "${REPO:?}" "${HEAD_SHA:?}" "${CONCLUSION:?}" "${MARKER:?}" "${RUN_URL:?}"
REPORT_DIR=${REPORT_DIR:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

is_number() {
  [[ "$1" =~ ^[0-9]{1,9}$ ]]
}

# The pull request: the one the event names; else (pull requests from forks) the open one whose head is
# HEAD_OWNER:HEAD_BRANCH at the audited commit; only without those, the number in the artifact. Whichever it
# is, its head must still be the audited commit.
find_pull_request() {
  local pr=${EVENT_PR:-}
  if is_number "$pr"; then
    echo "$pr"
  elif [ -n "${HEAD_OWNER:-}" ] && [ -n "${HEAD_BRANCH:-}" ]; then
    pr=$(gh api -X GET "repos/$REPO/pulls" -f state=open -f head="$HEAD_OWNER:$HEAD_BRANCH" -f per_page=100 \
      --jq '.[] | select(.head.sha == env.HEAD_SHA) | .number')
    pr=${pr%%$'\n'*}
    if is_number "$pr"; then echo "$pr"; fi
  elif [ -f "$REPORT_DIR/pr-number" ]; then
    pr=$(tr -d '[:space:]' < "$REPORT_DIR/pr-number")
    if is_number "$pr"; then echo "$pr"; fi
  fi
}

pr=$(find_pull_request)
if [ -z "$pr" ]; then
  echo "no open pull request has $HEAD_SHA at its head (closed, or a newer push supersedes it): a newer audit will comment"
  exit 0
fi
current=$(gh api "repos/$REPO/pulls/$pr" --jq .head.sha)
if [ "$current" != "$HEAD_SHA" ]; then
  echo "pull request #$pr is at $current, this audit is of $HEAD_SHA: a newer audit will comment"
  exit 0
fi

report="$REPORT_DIR/report.md"
body="$work/body.md"
if [ "$CONCLUSION" != "action_required" ] && [ -n "$REPORT_DIR" ] && [ -f "$report" ]; then
  if [ "$(head -n 1 "$report")" != "$MARKER" ]; then echo "::error::the report does not start with the marker"; exit 1; fi
  if [ "$(wc -m < "$report")" -gt 65000 ]; then echo "::error::the report is over GitHub's comment limit"; exit 1; fi
  cp "$report" "$body"
else
  if [ "$CONCLUSION" = "action_required" ]; then
    why="the audit is waiting for a maintainer to approve its run (pull requests from first-time contributors need approval); this comment shows the report once it has run"
  else
    why="the audit ended \`$CONCLUSION\` before it uploaded its report; its log says why"
  fi
  printf '%s\n## Trainbook audit report\n\nNo report for commit %s: %s. [The audit run](%s).\n' \
    "$MARKER" "$HEAD_SHA" "$why" "$RUN_URL" > "$body"
fi
jq -Rs '{body: .}' "$body" > "$work/comment.json"

# Every comment of ours that carries the marker, oldest first; the first is updated. (All of them are read:
# `| head -n 1` would close the pipe on gh and, under pipefail, fail the step when there are several.)
ours=$(gh api --paginate "repos/$REPO/issues/$pr/comments" \
  --jq '.[] | select(.user.login == "github-actions[bot]" and (.body | startswith(env.MARKER))) | .id')
existing=${ours%%$'\n'*}
if [ -n "$existing" ]; then
  gh api -X PATCH "repos/$REPO/issues/comments/$existing" --input "$work/comment.json" > /dev/null
  echo "updated comment $existing on #$pr"
else
  gh api -X POST "repos/$REPO/issues/$pr/comments" --input "$work/comment.json" > /dev/null
  echo "posted the audit comment on #$pr"
fi
