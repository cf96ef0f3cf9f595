#!/usr/bin/env bash
# Add the files a publish moved off the site (STORE_DIR/<run id>/<file>) to the second store: the branch
# STORE_BRANCH of REMOTE, an orphan branch holding nothing else, served at
# https://raw.githubusercontent.com/<owner>/<repo>/<branch>/<run id>/<file>. Run only by the publish
# workflow's store job, the one job allowed to write to the repository, before the site that links the
# files is deployed.
#
# The store only grows: a file already there is left alone when its bytes are the same and refused when
# they differ (a file moves there once, checked against its run's sealed sha256), so a store can never be
# rewritten by a publish. REMOTE may be a local path (the tests use a bare repository).
#
#   GH_TOKEN      a token that may push (contents: write); sent as an HTTP header, never in the remote's URL
set -euo pipefail

: "${STORE_DIR:?}" "${REMOTE:?}"
branch=${STORE_BRANCH:-trainbook-store}
if [ -z "$(find "$STORE_DIR" -type f -print -quit 2>/dev/null)" ]; then
  echo "no files moved to the store by this publish"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git_() {
  if [ -n "${GH_TOKEN:-}" ]; then
    git -C "$work" -c "http.extraheader=AUTHORIZATION: basic $(printf 'x-access-token:%s' "$GH_TOKEN" | base64 -w0)" "$@"
  else
    git -C "$work" "$@"
  fi
}
git -C "$work" init --quiet
git -C "$work" config user.name "github-actions[bot]"
git -C "$work" config user.email "41898282+github-actions[bot]@users.noreply.github.com"
git -C "$work" remote add origin "$REMOTE"
if git_ ls-remote --exit-code --heads origin "$branch" > /dev/null; then
  git_ fetch --quiet --depth 1 origin "$branch"
  git -C "$work" checkout --quiet -b "$branch" FETCH_HEAD
else
  echo "creating the store branch $branch"
  git -C "$work" checkout --quiet --orphan "$branch"
fi

added=0
while IFS= read -r -d '' file; do
  rel=${file#"$STORE_DIR"/}
  if [ -e "$work/$rel" ]; then
    if ! cmp -s "$file" "$work/$rel"; then
      echo "::error::$rel is already in the store with other content; the store is never rewritten"
      exit 1
    fi
    continue
  fi
  mkdir -p "$(dirname "$work/$rel")"
  cp "$file" "$work/$rel"
  git -C "$work" add -- "$rel"
  added=$((added + 1))
done < <(find "$STORE_DIR" -type f -print0 | sort -z)

if [ "$added" -eq 0 ]; then
  echo "every moved file is already in the store"
  exit 0
fi
runs=$(git -C "$work" diff --cached --name-only | cut -d/ -f1 | sort -u | wc -l)
git -C "$work" commit --quiet -m "Store $added files of $runs runs moved off the site${GITHUB_SHA:+ (publish of $GITHUB_SHA)}"
git_ push --quiet origin "$branch"
echo "pushed $added files of $runs runs to the store branch $branch"
