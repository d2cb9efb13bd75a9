#!/bin/sh
# Oasis Mission Control: InfluxDB's database, users and Kapacitor's
# subscription, each with only the rights it needs:
#
#   admin      all privileges (for you; nothing in the stack logs in as it)
#   telegraf   WRITE on the database (Telegraf writes)
#   grafana    READ on the database (the dashboards)
#   kapacitor  READ on the database (batch queries), and a subscription
#              that sends every point written to the database to
#              Kapacitor's HTTP write endpoint (its stream tasks). Creating
#              a subscription is an admin's right, so it is made here and
#              Kapacitor runs with disable-subscriptions (kapacitor.conf).
#              With OASIS_ALERT_FEED=direct, Telegraf writes to Kapacitor
#              itself (telegraf.conf's kapacitor_direct block): no
#              subscription is made, and one made before is dropped, or
#              Kapacitor would get every point twice.
#
# Two ways it runs:
#   - compose: mounted into the influxdb image's /docker-entrypoint-initdb.d,
#     which sources it once, at the first start (empty data volume), after
#     the image has made the admin, the database and the telegraf and
#     grafana users from INFLUXDB_* variables.
#   - native (docs/install-native.md): make install writes the settings
#     to /etc/oasis-mission-control/influxdb-setup.env; run once, as root:
#       sh -c 'set -a; . /etc/oasis-mission-control/influxdb-setup.env; sh /usr/local/share/oasis-mission-control/oasis-setup.sh'
# Secrets never appear in a command line (ps shows those to every user).
#
# It can run again: a user that exists with the same password is left as
# it is; a different password is an error (change it with SET PASSWORD).
#
# Settings (environment):
#   INFLUX_URL                 http://127.0.0.1:8086
#   INFLUX_DB                  telegraf
#   KAPACITOR_URL              where InfluxDB reaches Kapacitor, http://127.0.0.1:9092
#   OASIS_ALERT_FEED           subscription (default) or direct: how points reach Kapacitor
#   OASIS_RAW_RETENTION        how long every point is kept (autogen), 90d; INF: for ever
#   OASIS_HOURLY_RETENTION     how long the hourly aggregates are kept ("hourly"), INF
#   OASIS_AGGREGATE_INTERVAL   the aggregates' interval, 1h (the tests use seconds)
#
# Retention: every point lives in the default retention policy, autogen,
# for OASIS_RAW_RETENTION; two continuous queries keep the node, signing,
# stake, governance, runtime and system series as hourly aggregates in the
# retention policy "hourly" for OASIS_HOURLY_RETENTION (docs/install.md#retention):
#   oasis_hourly_last   last(*) of oasis_node, oasis_signing, oasis_entity,
#                       oasis_entity_node, oasis_governance, oasis_runtime,
#                       diskio, net (counters and states): fields last_<field>
#   oasis_hourly_mean   mean(*), min(*) and max(*) of cpu, mem, disk, system
#                       (gauges): fields mean_<field>, min_<field>, max_<field>
# Each runs every interval over the last six, so points that come late
# (Telegraf's buffer after an outage of InfluxDB) are counted if they come
# within six hours. Running this again applies changed settings.
#   INFLUXDB_ADMIN_USER        admin
#   INFLUXDB_ADMIN_PASSWORD    required
#   INFLUX_PASSWORD            telegraf's, required
#   GRAFANA_INFLUX_PASSWORD    grafana's, required
#   KAPACITOR_INFLUX_PASSWORD  kapacitor's, required
#   BOT_INFLUX_PASSWORD        the chat bot's (read-only); no user bot when empty

# A function with a subshell body: when the image sources this file, an
# error here ends only the subshell, and the image's `set -e` init stops on
# its status.
oasis_influxdb_setup() (
	set -eu
	url=${INFLUX_URL:-http://127.0.0.1:8086}
	db=${INFLUX_DB:-telegraf}
	kapacitor=${KAPACITOR_URL:-http://127.0.0.1:9092}
	admin=${INFLUXDB_ADMIN_USER:-admin}
	feed=${OASIS_ALERT_FEED:-subscription}
	raw=${OASIS_RAW_RETENTION:-90d}
	hourly=${OASIS_HOURLY_RETENTION:-INF}
	every=${OASIS_AGGREGATE_INTERVAL:-1h}
	for v in raw hourly every; do
		eval "val=\$$v"
		case "$v:$val" in
		raw:INF|hourly:INF) ;;
		every:*[!0-9]*[!smhdw]|every:*[smhdw]*[smhdw]) bad=1 ;;
		*:*[!0-9smhdw]*|*:|*:[!0-9]*) bad=1 ;;
		esac
		if [ -n "${bad:-}" ]; then
			echo "oasis-setup: retention setting \"$val\" is not a duration like 90d, 52w, 1h (or INF for the retention policies; the aggregate interval: one number and one unit)" >&2
			exit 2
		fi
	done
	# Raw points go a shard (a day) at a time; kept for ever, a week.
	shard=1d
	[ "$raw" = INF ] && shard=7d
	case "$feed" in
	subscription|direct) ;;
	*) echo "oasis-setup: OASIS_ALERT_FEED is \"$feed\": it is subscription (InfluxDB sends Kapacitor every point) or direct (Telegraf does)" >&2; exit 2 ;;
	esac
	for v in INFLUXDB_ADMIN_PASSWORD INFLUX_PASSWORD GRAFANA_INFLUX_PASSWORD KAPACITOR_INFLUX_PASSWORD; do
		eval "val=\${$v:-}"
		if [ -z "$val" ]; then
			echo "oasis-setup: $v is not set" >&2
			exit 2
		fi
	done

	# An InfluxQL string literal: backslash and single quote escaped.
	quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g")"; }

	# Secrets stay out of every process's argv (other users read it in
	# /proc): the admin's credentials go to curl in a config file only we
	# may read, each statement on curl's stdin.
	auth=$(mktemp)
	trap 'rm -f "$auth"' EXIT
	esc_admin=$(printf '%s' "$admin:$INFLUXDB_ADMIN_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')
	printf 'user = "%s"\n' "$esc_admin" >"$auth"

	# post [auth] statement: POST the statement to /query (as the admin
	# with "auth"); prints InfluxDB's answer, a newline, the HTTP status.
	post() {
		if [ "$1" = auth ]; then
			printf '%s' "$2" | curl -sS -X POST "$url/query" -K "$auth" --data-urlencode q@- -w '\n%{http_code}'
		else
			printf '%s' "$2" | curl -sS -X POST "$url/query" --data-urlencode q@- -w '\n%{http_code}'
		fi
	}

	# q statement what: one statement as the admin. Fails on an HTTP or
	# InfluxQL error, printing InfluxDB's answer and what was being done,
	# not the statement (it may hold a password).
	q() {
		out=$(post auth "$1") || {
			echo "oasis-setup: InfluxDB at $url: no answer" >&2
			exit 1
		}
		code=${out##*
}
		body=${out%
*}
		case "$code$body" in
		200*'"error"'*|[!2]*)
			echo "oasis-setup: $2: InfluxDB answered $code: $body" >&2
			exit 1
			;;
		esac
	}

	# The first admin: allowed without credentials only while InfluxDB has
	# no user at all; with an admin already there this checks its password.
	first=$(post noauth "CREATE USER \"$admin\" WITH PASSWORD $(quote "$INFLUXDB_ADMIN_PASSWORD") WITH ALL PRIVILEGES") || {
		echo "oasis-setup: InfluxDB at $url: no answer" >&2
		exit 1
	}
	case "${first##*
}${first%
*}" in
	200*'"error"'*) echo "oasis-setup: creating $admin: InfluxDB answered: ${first%
*}" >&2; exit 1 ;;
	200*) ;;
	401*) q "SHOW USERS" "log in as $admin (wrong INFLUXDB_ADMIN_PASSWORD?)" ;;
	*) echo "oasis-setup: creating $admin: InfluxDB answered: ${first%
*}" >&2; exit 1 ;;
	esac

	q "CREATE DATABASE \"$db\"" "create database $db"
	q "CREATE USER \"telegraf\" WITH PASSWORD $(quote "$INFLUX_PASSWORD")" "create user telegraf (INFLUX_PASSWORD differs from the one it has?)"
	q "GRANT WRITE ON \"$db\" TO \"telegraf\"" "grant telegraf WRITE"
	q "CREATE USER \"grafana\" WITH PASSWORD $(quote "$GRAFANA_INFLUX_PASSWORD")" "create user grafana (GRAFANA_INFLUX_PASSWORD differs from the one it has?)"
	q "GRANT READ ON \"$db\" TO \"grafana\"" "grant grafana READ"
	q "CREATE USER \"kapacitor\" WITH PASSWORD $(quote "$KAPACITOR_INFLUX_PASSWORD")" "create user kapacitor (KAPACITOR_INFLUX_PASSWORD differs from the one it has?)"
	q "GRANT READ ON \"$db\" TO \"kapacitor\"" "grant kapacitor READ"
	# The chat bot's read-only user, only when the bot is configured.
	if [ -n "${BOT_INFLUX_PASSWORD:-}" ]; then
		q "CREATE USER \"bot\" WITH PASSWORD $(quote "$BOT_INFLUX_PASSWORD")" "create user bot (BOT_INFLUX_PASSWORD differs from the one it has?)"
		q "GRANT READ ON \"$db\" TO \"bot\"" "grant bot READ"
		readers="grafana, kapacitor and bot"
	else
		readers="grafana and kapacitor"
	fi

	# The subscription, made once: an existing one is left as it is (drop
	# it to change KAPACITOR_URL). With the direct feed there is none.
	subs=$(post auth "SHOW SUBSCRIPTIONS")
	case "$feed:$subs" in
	subscription:*'"oasis_kapacitor"'*) ;;
	subscription:*) q "CREATE SUBSCRIPTION \"oasis_kapacitor\" ON \"$db\".\"autogen\" DESTINATIONS ANY $(quote "$kapacitor")" "create the subscription to $kapacitor" ;;
	direct:*'"oasis_kapacitor"'*) q "DROP SUBSCRIPTION \"oasis_kapacitor\" ON \"$db\".\"autogen\"" "drop the subscription (OASIS_ALERT_FEED=direct)" ;;
	direct:*) ;;
	esac
	# Retention: raw points in autogen (where Telegraf writes and the
	# subscription reads) for $raw; hourly aggregates in "hourly".
	q "ALTER RETENTION POLICY \"autogen\" ON \"$db\" DURATION $raw SHARD DURATION $shard DEFAULT" "set autogen's duration to $raw (OASIS_RAW_RETENTION, at least 1d)"
	rps=$(post auth "SHOW RETENTION POLICIES ON \"$db\"")
	case "$rps" in
	*'"hourly"'*) q "ALTER RETENTION POLICY \"hourly\" ON \"$db\" DURATION $hourly" "set hourly's duration to $hourly (OASIS_HOURLY_RETENTION)" ;;
	*) q "CREATE RETENTION POLICY \"hourly\" ON \"$db\" DURATION $hourly REPLICATION 1" "create the retention policy hourly" ;;
	esac
	# The continuous queries, made again each run so a changed interval or
	# list applies (dropping one that does not exist is not an error).
	n=${every%%[smhdw]*}
	window=$((n * 6))${every#"$n"}
	src() { for m in "$@"; do printf '"%s"."autogen"."%s",' "$db" "$m"; done | sed 's/,$//'; }
	cq() { # name, select list, measurements...
		name=$1 sel=$2
		shift 2
		q "DROP CONTINUOUS QUERY \"$name\" ON \"$db\"" "drop the continuous query $name"
		q "CREATE CONTINUOUS QUERY \"$name\" ON \"$db\" RESAMPLE EVERY $every FOR $window BEGIN SELECT $sel INTO \"$db\".\"hourly\".:MEASUREMENT FROM $(src "$@") GROUP BY time($every), * END" "create the continuous query $name"
	}
	cq oasis_hourly_last 'last(*)' oasis_node oasis_signing oasis_entity oasis_entity_node oasis_governance oasis_runtime diskio net
	cq oasis_hourly_mean 'mean(*), min(*), max(*)' cpu mem disk system

	# Authentication must be on, or every user above protects nothing.
	anon=$(post noauth "SHOW DATABASES") || exit 1
	if [ "${anon##*
}" != 401 ]; then
		echo "oasis-setup: InfluxDB at $url answers without a login: turn authentication on ([http] auth-enabled = true, or INFLUXDB_HTTP_AUTH_ENABLED=true) and restart it" >&2
		exit 1
	fi
	if [ "$feed" = direct ]; then
		echo "oasis-setup: database $db, users $admin, telegraf (write), $readers (read), no subscription: Telegraf writes to Kapacitor itself (OASIS_ALERT_FEED=direct)"
	else
		echo "oasis-setup: database $db, users $admin, telegraf (write), $readers (read), subscription oasis_kapacitor -> $kapacitor"
	fi
)

if [ -n "${INFLUXDB_INIT_PORT:-}" ]; then
	# Sourced by the influxdb image's first-start init: influxd listens on
	# 127.0.0.1:$INFLUXDB_INIT_PORT with the image's admin already made.
	INFLUX_URL="http://127.0.0.1:$INFLUXDB_INIT_PORT" oasis_influxdb_setup
else
	oasis_influxdb_setup
fi
