#!/usr/bin/env bash
# The published site's address, for `make history HISTORY=<url>`: the repository variable TRAINBOOK_SITE_URL
# when set (CONFIGURED_URL), else GitHub Pages' address from the Pages API. Writes `url=<address>` (empty when
# there is no site) to $GITHUB_OUTPUT and says on standard output what it found.
#
#   find-site.sh             pull requests: no Pages site (404) or no permission to ask (403) is "none yet",
#                            and the audit compares with nothing
#   find-site.sh --require   publish: Pages must be switched on, with GitHub Actions as its source
#
# `gh api` exits 1 on an HTTP error, printing GitHub's error JSON on standard output (it skips --jq then)
# and "gh: <message> (HTTP <status>)" on standard error: the status is read from there, never the JSON
# taken for an address.
set -euo pipefail

require=false
[ "${1:-}" = "--require" ] && require=true
: "${GITHUB_REPOSITORY:?set GITHUB_REPOSITORY to owner/name}"
tries=${FIND_SITE_TRIES:-4}

say_url() {
  echo "url=$1" >> "${GITHUB_OUTPUT:-/dev/null}"
}

if [ -n "${CONFIGURED_URL:-}" ]; then
  echo "published site: $CONFIGURED_URL (the repository variable TRAINBOOK_SITE_URL)"
  say_url "$CONFIGURED_URL"
  exit 0
fi

errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
for try in $(seq 1 "$tries"); do
  if answer=$(gh api "repos/$GITHUB_REPOSITORY/pages" 2> "$errors"); then
    url=$(jq -r '.html_url // empty' <<< "$answer")
    url="${url%/}/"  # one trailing slash: the site's base URL, under which history/ and runs/ are found
    if [ "$url" = "/" ]; then
      echo "::error::the Pages API answered without an html_url: $answer"
      exit 1
    fi
    echo "published site: $url (GitHub Pages, built by: $(jq -r '.build_type // "unknown"' <<< "$answer"))"
    say_url "$url"
    exit 0
  fi
  status=$(grep -oE 'HTTP [0-9]{3}' "$errors" | tail -n 1 | cut -d' ' -f2 || true)
  case "${status:-none}" in
    404)
      if $require; then
        echo "::error::GitHub Pages is not switched on for $GITHUB_REPOSITORY: Settings → Pages → Build and deployment → Source: GitHub Actions"
        exit 1
      fi
      echo "published site: none yet (GitHub Pages is not switched on for $GITHUB_REPOSITORY; every experiment counts as new)"
      say_url ""
      exit 0 ;;
    403)
      if $require; then
        echo "::error::this job may not read the Pages settings of $GITHUB_REPOSITORY (HTTP 403): it needs 'pages: read'"
        exit 1
      fi
      echo "::warning::cannot read the Pages settings of $GITHUB_REPOSITORY (HTTP 403); set the repository variable TRAINBOOK_SITE_URL to compare with the published site"
      echo "published site: none yet (unknown to this token; every experiment counts as new)"
      say_url ""
      exit 0 ;;
    5??|429|none)
      echo "the Pages API failed (${status:-no HTTP status}: $(tail -n 1 "$errors")); try $try of $tries" >&2
      if [ "$try" -lt "$tries" ]; then sleep "$((${FIND_SITE_WAIT_S:-5} * try))"; fi ;;
    *)
      echo "::error::the Pages API answered HTTP $status: $(tail -n 1 "$errors")"
      exit 1 ;;
  esac
done
echo "::error::the Pages API of $GITHUB_REPOSITORY did not answer after $tries tries: $(tail -n 1 "$errors")"
exit 1
