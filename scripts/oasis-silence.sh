#!/bin/sh
# Oasis Mission Control: silence every alert for a planned outage (a
# network upgrade's halt, maintenance), through Kapacitor's API: it sets
# the vars of the oasis_silence task (kapacitor/load/templates/oasis_silence.tick),
# which holds back every alert until the time given and then ends on its
# own. docs/alerts.md#oasis_silence
#
#   oasis-silence.sh DURATION [REASON [ALERT]]   e.g. oasis-silence.sh 2h "network upgrade"
#   oasis-silence.sh off                         end the silence now
#
# ALERT: one alert's name (e.g. oasis_peers_low) to silence only that
# alert, for every node; without it every alert is silenced. One silence
# at a time: a new one replaces the last.
#
# DURATION: a number and s, m, h or d (at most 7d; the silence is checked
# every 10 s, so it ends up to 10 s after its time). REASON: letters,
# digits, spaces and . , : _ / ( ) - only (it is shown in the messages).
# KAPACITOR_URL: Kapacitor's API, http://127.0.0.1:9092 by default (the
# native install). OASIS_SILENCE_REMIND: how often the notice is repeated
# while the silence lasts, 1h by default. With the compose stack, run it inside the container:
#   docker compose exec -T kapacitor sh -s -- 2h "network upgrade" < scripts/oasis-silence.sh
# A restart of Kapacitor ends any silence (the task file's until is 0).
# Needs curl and GNU or BusyBox date (date -d @N), as Debian, Ubuntu and
# the kapacitor image have.
set -eu

url=${KAPACITOR_URL:-http://127.0.0.1:9092}
usage() {
	echo "usage: oasis-silence DURATION [REASON [ALERT]] | off   (e.g. oasis-silence 2h \"network upgrade\", oasis-silence 30m \"noisy peers\" oasis_peers_low)" >&2
	exit 2
}
[ $# -ge 1 ] || usage

if [ "$1" = off ]; then
	until=0 until_text='' reason=''
	# Keep the name of a muted alert: its notice's state carries over the
	# task's restart, so the RECOVERED notice is sent.
	alert=$(curl -sS "$url/kapacitor/v1/tasks/oasis_silence" 2>/dev/null | tr -d ' \n\t' |
		sed -n 's/.*"alert_name":{"type":"string","value":"\([a-z_]*\)".*/\1/p') || alert=''
else
	case "$1" in
	*[!0-9smhd]* | [!0-9]* | *[smhd]?* | *[0-9]) echo "oasis-silence: duration $1: want a number and s, m, h or d, e.g. 2h" >&2; exit 2 ;;
	esac
	n=${1%?}
	# Decimal, whatever leading zeros (the shell reads 010 as octal), and
	# short enough not to overflow.
	n=$(printf '%s' "$n" | sed 's/^0*//')
	if [ -z "$n" ] || [ ${#n} -gt 7 ]; then
		echo "oasis-silence: duration $1: between 1s and 7d (a longer silence is a monitor switched off)" >&2
		exit 2
	fi
	case "$1" in
	*s) secs=$n ;;
	*m) secs=$((n * 60)) ;;
	*h) secs=$((n * 3600)) ;;
	*d) secs=$((n * 86400)) ;;
	*) echo "oasis-silence: duration $1: want a number and s, m, h or d, e.g. 2h" >&2; exit 2 ;;
	esac
	if [ "$secs" -le 0 ] || [ "$secs" -gt 604800 ]; then
		echo "oasis-silence: duration $1: between 1s and 7d (a longer silence is a monitor switched off)" >&2
		exit 2
	fi
	reason=${2:-planned maintenance}
	case "$reason" in
	*[!A-Za-z0-9\ .,:_/\(\)-]*) echo "oasis-silence: reason: letters, digits, spaces and . , : _ / ( ) - only" >&2; exit 2 ;;
	esac
	alert=${3:-}
	case "$alert" in
	'') ;;
	oasis_silence | oasis_watchdog | *[!a-z_]* | [!o]* ) echo "oasis-silence: alert $alert: want an alert's name, e.g. oasis_peers_low (docs/alerts.md)" >&2; exit 2 ;;
	oasis_*) ;;
	*) echo "oasis-silence: alert $alert: want an alert's name, e.g. oasis_peers_low (docs/alerts.md)" >&2; exit 2 ;;
	esac
	until=$(( $(date +%s) + secs ))
	until_text=$(date -u -d "@$until" '+%Y-%m-%d %H:%M:%S UTC')
fi

# Kapacitor applies new vars to a running task only when it is started
# again, and stores those sent to an enabled task without applying them:
# the vars go with the disable (which lifts any silence), then the task is
# enabled with them, so two changes at once (the bot's, another run's) can
# never leave one silence running and another stored.
remind=${OASIS_SILENCE_REMIND:-1h}
case "$remind" in
[0-9]*[smh]) case "${remind%?}" in *[!0-9]*) remind=bad ;; esac ;;
*) remind=bad ;;
esac
if [ "$remind" = bad ]; then
	echo "oasis-silence: OASIS_SILENCE_REMIND: a number and s, m or h, e.g. 1h" >&2
	exit 2
fi
patch() {
	out=$(printf '%s' "$1" | curl -sS -X PATCH -H 'Content-Type: application/json' --data-binary @- \
		-w '\n%{http_code}' "$url/kapacitor/v1/tasks/oasis_silence") || {
		echo "oasis-silence: Kapacitor at $url: no answer (KAPACITOR_URL?)" >&2
		exit 1
	}
	code=${out##*
}
	if [ "$code" != 200 ]; then
		echo "oasis-silence: Kapacitor at $url answered $code: ${out%
*}" >&2
		exit 1
	fi
}
# A mistyped alert would silence nothing: it must be one Kapacitor runs.
if [ -n "$alert" ]; then
	tasks=$(curl -sS "$url/kapacitor/v1/tasks?fields=template-id&limit=1000") || {
		echo "oasis-silence: Kapacitor at $url: no answer (KAPACITOR_URL?)" >&2
		exit 1
	}
	if ! printf '%s' "$tasks" | tr -d ' \n\t' | grep -q "\"template-id\":\"$alert\""; then
		echo "oasis-silence: alert $alert: Kapacitor runs no such alert (docs/alerts.md lists them)" >&2
		exit 2
	fi
fi
# Disabled, the task holds nothing back: if enabling fails, alerts are sent.
patch "$(printf '{"status":"disabled","vars":{"until":{"type":"int","value":%s},"until_text":{"type":"string","value":"%s"},"reason":{"type":"string","value":"%s"},"alert_name":{"type":"string","value":"%s"},"remind_every":{"type":"duration","value":"%s"}}}' \
	"$until" "$until_text" "$reason" "$alert" "$remind")"
patch '{"status":"enabled"}'
if [ "$until" = 0 ]; then
	echo "oasis-silence: no silence; alerts are sent as usual"
elif [ -n "$alert" ]; then
	echo "oasis-silence: $alert silenced until $until_text ($reason); every other alert is sent; oasis-silence off ends it sooner"
else
	echo "oasis-silence: alerts silenced until $until_text ($reason); oasis-silence off ends it sooner"
fi
