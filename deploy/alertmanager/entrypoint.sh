#!/bin/bash
# Puts the webhook URL (AFTM_ALERT_WEBHOOK_URL, or the first line of AFTM_ALERT_WEBHOOK_URL_FILE
# for a URL that carries a token) in place of the config's placeholder, checks the result and
# runs Alertmanager with it. Alertmanager 0.25 reads no environment variables in its config.
set -euo pipefail

config=/etc/prometheus/alertmanager.yml
rendered=/tmp/alertmanager.yml
placeholder=http://alert-receiver:9095/alerts

url=${AFTM_ALERT_WEBHOOK_URL:-$placeholder}
if [[ -n ${AFTM_ALERT_WEBHOOK_URL_FILE:-} ]]; then
  read -r url <"$AFTM_ALERT_WEBHOOK_URL_FILE" || [[ -n $url ]]
fi
# It goes into a single-quoted YAML string: refuse what would end or bend that string.
if [[ ! $url =~ ^https?://[^[:space:]\']+$ ]]; then
  echo "aftm-alertmanager: the webhook URL must be http(s):// without spaces or quotes" >&2
  exit 2
fi
if [[ $url == "$placeholder" ]]; then
  echo "aftm-alertmanager: alerts go to the placeholder $placeholder; set AFTM_ALERT_WEBHOOK_URL" >&2
fi

text=$(<"$config")
# Both sides quoted: the URL is matched and inserted literally (no glob, no `&` expansion).
printf '%s\n' "${text//"$placeholder"/"$url"}" >"$rendered"
amtool check-config "$rendered" >/dev/null
exec /usr/bin/prometheus-alertmanager --config.file="$rendered" "$@"
