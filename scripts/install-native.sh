#!/usr/bin/env bash
# `make install`: Oasis Mission Control without Docker, next to the vendors'
# own packages of Telegraf, InfluxDB 1.8, Kapacitor and Grafana
# (docs/install-native.md). It leaves every vendor file alone: our
# configuration goes to $CONFDIR, and a systemd drop-in per service points
# the vendor's unit at it.
#
#   $BINDIR/oasis-telegraf, oasis-bot
#   $CONFDIR/telegraf.conf, telegraf-native.conf, oasis/*.conf   Telegraf
#   $CONFDIR/kapacitor.conf, kapacitor/load/                     the alerts
#   $CONFDIR/grafana/provisioning/, grafana/dashboards/          dashboards
#   $CONFDIR/*.env            each service's settings and its own InfluxDB
#                             password (made here, random; 0600, read by
#                             systemd as root; kept if present)
#   $SYSTEMDDIR/{telegraf,kapacitor,influxdb,grafana-server}.service.d/oasis-mission-control.conf
#   $SYSTEMDDIR/oasis-bot.service  the chat bot (installed, not enabled:
#                             fill in $CONFDIR/bot.env first; docs/bot.md)
#   $SHAREDIR/oasis-setup.sh  InfluxDB's users and subscription, run once
#
# Settings (make variables or environment), with their defaults:
#   DESTDIR        staging root, prepended to every path below ("")
#   PREFIX         /usr/local;  BINDIR $PREFIX/bin;  SHAREDIR $PREFIX/share/oasis-mission-control
#   CONFDIR        /etc/oasis-mission-control
#   SYSTEMDDIR     /etc/systemd/system
#   SOCKET         unix:/run/oasis/internal.sock (the node's socket)
#   MONITOR_GROUP  oasis-monitor (the group that may use the socket)
#   STATEDIR       /var/lib/oasis-telegraf (Telegraf's StateDirectory)
#   INFLUX_URL     http://127.0.0.1:8086;  KAPACITOR_URL http://127.0.0.1:9092
#   TELEGRAF_BIN   /usr/bin/telegraf (the vendor package's)
#   OASIS_TELEGRAF the binary to install (default: built here with go)
#   OASIS_BOT      the same for oasis-bot
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
BINDIR=${BINDIR:-$PREFIX/bin}
SHAREDIR=${SHAREDIR:-$PREFIX/share/oasis-mission-control}
CONFDIR=${CONFDIR:-/etc/oasis-mission-control}
SYSTEMDDIR=${SYSTEMDDIR:-/etc/systemd/system}
SOCKET=${SOCKET:-unix:/run/oasis/internal.sock}
MONITOR_GROUP=${MONITOR_GROUP:-oasis-monitor}
STATEDIR=${STATEDIR:-/var/lib/oasis-telegraf}
INFLUX_URL=${INFLUX_URL:-http://127.0.0.1:8086}
KAPACITOR_URL=${KAPACITOR_URL:-http://127.0.0.1:9092}
TELEGRAF_BIN=${TELEGRAF_BIN:-/usr/bin/telegraf}
DESTDIR=${DESTDIR:-}

case "$STATEDIR" in
/var/lib/*) ;;
*) echo "install: STATEDIR must be under /var/lib (systemd's StateDirectory=), not $STATEDIR" >&2; exit 2 ;;
esac
statedir_name=${STATEDIR#/var/lib/}

umask 022
d() { echo "$DESTDIR$1"; }

if [ -z "${OASIS_TELEGRAF:-}" ]; then
	build=$(mktemp -d)
	trap 'rm -rf "$build"' EXIT
	OASIS_TELEGRAF=$build/oasis-telegraf
	echo "building oasis-telegraf" >&2
	# -buildvcs=false: as root in a checkout another user owns, git refuses
	# to answer Go's VCS stamping ("dubious ownership").
	CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$OASIS_TELEGRAF" ./cmd/oasis-telegraf
fi
if [ -z "${OASIS_BOT:-}" ]; then
	build_bot=$(mktemp -d)
	OASIS_BOT=$build_bot/oasis-bot
	echo "building oasis-bot" >&2
	CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$OASIS_BOT" ./cmd/oasis-bot
fi
install -D -m 0755 "$OASIS_TELEGRAF" "$(d "$BINDIR")/oasis-telegraf"
install -D -m 0755 "$OASIS_BOT" "$(d "$BINDIR")/oasis-bot"
[ -z "${build_bot:-}" ] || rm -rf "$build_bot"
install -D -m 0755 scripts/oasis-silence.sh "$(d "$BINDIR")/oasis-silence"
install -D -m 0644 influxdb/oasis-setup.sh "$(d "$SHAREDIR")/oasis-setup.sh"

# Configuration: replaced at every install (edit copies, or send a patch).
install -d -m 0755 "$(d "$CONFDIR")" "$(d "$CONFDIR")/oasis"
install -m 0644 telegraf.conf telegraf-native.conf "$(d "$CONFDIR")/"
install -m 0644 telegraf/*.conf "$(d "$CONFDIR")/oasis/"
# More nodes to read: the operator's files (oasis-telegraf -new-node), kept.
install -d -m 0755 "$(d "$CONFDIR")/oasis/nodes"
install -m 0644 kapacitor/kapacitor.conf "$(d "$CONFDIR")/kapacitor.conf"
rm -rf "$(d "$CONFDIR")/kapacitor/load"
install -d -m 0755 "$(d "$CONFDIR")/kapacitor"
cp -R kapacitor/load "$(d "$CONFDIR")/kapacitor/load"
rm -rf "$(d "$CONFDIR")/grafana"
install -d -m 0755 "$(d "$CONFDIR")/grafana/provisioning/datasources" "$(d "$CONFDIR")/grafana/provisioning/dashboards" "$(d "$CONFDIR")/grafana/dashboards"
sed "s#http://influxdb:8086#$INFLUX_URL#" grafana/provisioning/datasources/influxdb.yaml >"$(d "$CONFDIR")/grafana/provisioning/datasources/influxdb.yaml"
sed "s#/etc/grafana/dashboards#$CONFDIR/grafana/dashboards#" grafana/provisioning/dashboards/oasis.yaml >"$(d "$CONFDIR")/grafana/provisioning/dashboards/oasis.yaml"
install -m 0644 grafana/dashboards/*.json "$(d "$CONFDIR")/grafana/dashboards/"

# Settings and secrets: made once, never overwritten (they hold the
# passwords InfluxDB was set up with). 0600 root: systemd reads them as root.
password() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
env_file() { # name, then the content on stdin
	local f new added
	f=$(d "$CONFDIR")/$1
	new=$(cat)
	if [ ! -e "$f" ]; then
		(umask 077 && printf '%s\n' "$new" >"$f")
		echo "wrote $f" >&2
		return
	fi
	# An upgrade: the file is kept (its passwords, your edits); a setting
	# this release added is appended with its comment, so the services
	# and the units that read it find it.
	added=$(printf '%s\n' "$new" | awk -v have="$(sed -n 's/^\([A-Za-z_0-9]*\)=.*/\1/p' "$f" | tr '\n' ' ')" '
		BEGIN { n = split(have, h, " "); for (i = 1; i <= n; i++) known[h[i]] = 1 }
		/^#/ { c = c $0 "\n"; next }
		/^[A-Za-z_0-9]+=/ { k = $0; sub(/=.*/, "", k); if (!(k in known)) printf "%s%s\n", c, $0; c = ""; next }
		{ c = "" }')
	if [ -n "$added" ]; then
		printf '\n# Added by make install: settings new in this release.\n%s\n' "$added" >>"$f"
		echo "kept $f, added $(printf '%s\n' "$added" | sed -n 's/^\([A-Za-z_0-9]*\)=.*/\1/p' | tr '\n' ' ')" >&2
	else
		echo "kept $f" >&2
	fi
}
admin_pw=$(password) telegraf_pw=$(password) grafana_pw=$(password) kapacitor_pw=$(password) grafana_admin_pw=$(password) bot_pw=$(password)
setup_env=$(d "$CONFDIR")/influxdb-setup.env
if [ -e "$setup_env" ]; then
	# An earlier install's passwords (InfluxDB has them) for any file made
	# now; only these keys are read, nothing else of the file.
	old() { sed -n "s/^$1=//p" "$setup_env" | tail -n 1; }
	for k in INFLUXDB_ADMIN_PASSWORD:admin_pw INFLUX_PASSWORD:telegraf_pw GRAFANA_INFLUX_PASSWORD:grafana_pw KAPACITOR_INFLUX_PASSWORD:kapacitor_pw; do
		v=$(old "${k%%:*}")
		if [ -z "$v" ]; then
			echo "install: $setup_env has no ${k%%:*}: restore it, or remove every *.env there to start again" >&2
			exit 1
		fi
		eval "${k##*:}=\$v"
	done
	# Made by a release before the bot: the new password stays, and is
	# appended to this file below (run the setup again: docs/bot.md).
	v=$(old BOT_INFLUX_PASSWORD)
	[ -z "$v" ] || bot_pw=$v
fi
env_file influxdb-setup.env <<EOF
# influxdb/oasis-setup.sh's settings: InfluxDB's admin and every service's
# InfluxDB password (docs/install-native.md, step 3). Run once:
#   sudo sh -c 'set -a; . $CONFDIR/influxdb-setup.env; sh $SHAREDIR/oasis-setup.sh'
INFLUX_URL=$INFLUX_URL
INFLUX_DB=telegraf
KAPACITOR_URL=$KAPACITOR_URL
# subscription: InfluxDB feeds Kapacitor; direct: Telegraf does (with
# telegraf.conf's kapacitor_direct block; docs/architecture.md#alert-feed).
OASIS_ALERT_FEED=subscription
# How long raw points and the hourly aggregates are kept
# (docs/install.md#retention); run the setup again after a change.
OASIS_RAW_RETENTION=90d
OASIS_HOURLY_RETENTION=INF
INFLUXDB_ADMIN_USER=admin
INFLUXDB_ADMIN_PASSWORD=$admin_pw
INFLUX_PASSWORD=$telegraf_pw
GRAFANA_INFLUX_PASSWORD=$grafana_pw
KAPACITOR_INFLUX_PASSWORD=$kapacitor_pw
# The chat bot's read-only user (docs/bot.md).
BOT_INFLUX_PASSWORD=$bot_pw
EOF
env_file influxdb.env <<EOF
# InfluxDB's settings over the vendor's /etc/influxdb/influxdb.conf
# (influxd reads INFLUXDB_* from its environment): authentication on,
# loopback only, no usage reports.
INFLUXDB_HTTP_AUTH_ENABLED=true
INFLUXDB_HTTP_BIND_ADDRESS=${INFLUX_URL#http://}
INFLUXDB_BIND_ADDRESS=127.0.0.1:8088
INFLUXDB_REPORTING_DISABLED=true
INFLUXDB_HTTP_LOG_ENABLED=false
INFLUXDB_HTTP_PPROF_ENABLED=false
INFLUXDB_DATA_QUERY_LOG_ENABLED=false
EOF
env_file telegraf.env <<EOF
# Telegraf's settings (telegraf.conf and oasis/*.conf read them), the
# native twin of the compose stack's .env (docs/install-native.md).
INFLUX_URL=$INFLUX_URL
INFLUX_DB=telegraf
INFLUX_USER=telegraf
INFLUX_PASSWORD=$telegraf_pw
# Kapacitor's write endpoint, for telegraf.conf's kapacitor_direct block
# (off unless uncommented; docs/architecture.md#alert-feed).
KAPACITOR_WRITE_URL=$KAPACITOR_URL
OASIS_NODE_SOCKET=$SOCKET
# Your name for this host, the host tag of every point (empty: the
# machine's hostname).
OASIS_HOSTNAME=
# The node's ID (oasis-telegraf -check prints it): set it, so that a node
# that is down when Telegraf starts still reports up=0 under its ID.
OASIS_NODE_ID=
# The node's role: validator, sentry, compute or observer
# (docs/install.md#several-nodes).
OASIS_NODE_ROLE=validator
# true: this install reads the entity; false on all but one of several
# hosts that read one entity.
OASIS_READ_ENTITY=true
# Names alert messages and dashboards lead with (docs/install.md#names):
# your name for the node (also its source tag: set it before the first
# start), your entity's ID
# (oasis-telegraf -check prints it) and name; optionally a checkout of the
# Oasis metadata registry for other entities' names.
OASIS_NODE_NAME=
OASIS_ENTITY_ID=
OASIS_ENTITY_NAME=
OASIS_METADATA_REGISTRY_DIR=
# The node's own Prometheus metrics, once turned on in the node's config.yml
# and in telegraf.conf (docs/node-metrics.md).
OASIS_NODE_METRICS_URL=http://127.0.0.1:9102/metrics
OASIS_STATE_DIR=$STATEDIR
# Points held on disk while InfluxDB can't take them (telegraf.conf's
# buffer_strategy); checked and repaired before each start (ExecStartPre).
OASIS_BUFFER_STRATEGY=disk
OASIS_BUFFER_DIR=$STATEDIR/buffer
OASIS_TELEGRAF_BIN=$BINDIR/oasis-telegraf
OASIS_CONFIG_DIR=$CONFDIR/oasis
OASIS_NODE_PROCESS=oasis-node
TELEGRAF_INTERVAL=10s
OASIS_SLOW_INTERVAL=60s
OASIS_SIGNING_ALL_VALIDATORS=false
# Telegraf's health endpoint (outputs.health): 200 while writes keep up.
TELEGRAF_HEALTH_ADDRESS=tcp://127.0.0.1:8080
# Where Kapacitor posts the alert history (loopback only).
OASIS_ALERT_HISTORY_ADDRESS=127.0.0.1:8186
EOF
kapacitor_bind=${KAPACITOR_URL#http://}
kapacitor_bind=${kapacitor_bind%%/*}
env_file kapacitor.env <<EOF
# Kapacitor's settings over $CONFDIR/kapacitor.conf (kapacitord reads
# KAPACITOR_* from its environment). Its API has no authentication and
# can run commands (.exec()): it listens on loopback only, where InfluxDB's
# subscription reaches it. InfluxDB as the read-only user kapacitor. The
# alert channels are off until you switch one on here
# (docs/alerts.md#channels gives each one's settings), then
# systemctl restart kapacitor.
KAPACITOR_HTTP_BIND_ADDRESS=$kapacitor_bind
KAPACITOR_INFLUXDB_0_URLS_0=$INFLUX_URL
KAPACITOR_INFLUXDB_0_USERNAME=kapacitor
KAPACITOR_INFLUXDB_0_PASSWORD=$kapacitor_pw
KAPACITOR_LOAD_ENABLED=true
KAPACITOR_LOAD_DIR=$CONFDIR/kapacitor/load
KAPACITOR_TELEGRAM_ENABLED=false
KAPACITOR_TELEGRAM_TOKEN=
KAPACITOR_TELEGRAM_CHAT_ID=
KAPACITOR_SLACK_0_ENABLED=false
KAPACITOR_SLACK_0_URL=
KAPACITOR_SLACK_0_CHANNEL=
KAPACITOR_DISCORD_0_ENABLED=false
KAPACITOR_DISCORD_0_URL=
KAPACITOR_SMTP_ENABLED=false
KAPACITOR_SMTP_HOST=localhost
KAPACITOR_SMTP_PORT=587
KAPACITOR_SMTP_USERNAME=
KAPACITOR_SMTP_PASSWORD=
KAPACITOR_SMTP_FROM=
KAPACITOR_SMTP_TO_0=
KAPACITOR_PAGERDUTY2_ENABLED=false
KAPACITOR_PAGERDUTY2_ROUTING_KEY=
KAPACITOR_OPSGENIE2_ENABLED=false
KAPACITOR_OPSGENIE2_API_KEY=
KAPACITOR_HTTPPOST_0_ENDPOINT=webhook
KAPACITOR_HTTPPOST_0_URL=http://127.0.0.1:9/webhook-not-configured
KAPACITOR_HTTPPOST_1_ENDPOINT=watchdog
KAPACITOR_HTTPPOST_1_URL=http://127.0.0.1:9/watchdog-not-configured
KAPACITOR_HTTPPOST_2_ENDPOINT=history
KAPACITOR_HTTPPOST_2_URL=http://127.0.0.1:8186/oasis/alerts
EOF
env_file bot.env <<EOF
# oasis-bot's settings (docs/bot.md). Fill in the token and your chat ID,
# then: systemctl enable --now oasis-bot
TELEGRAM_BOT_TOKEN=
OASIS_BOT_CHAT_IDS=
# Chats the digest goes to (default: OASIS_BOT_CHAT_IDS), when (HH:MM, 24 h;
# off for none) and in which time zone.
OASIS_BOT_DIGEST_CHAT_IDS=
OASIS_BOT_DIGEST_TIMES=08:00,20:00
OASIS_BOT_DIGEST_TZ=UTC
# Commands a chat may send a minute.
OASIS_BOT_RATE_LIMIT=10
INFLUX_URL=$INFLUX_URL
INFLUX_DB=telegraf
BOT_INFLUX_PASSWORD=$bot_pw
KAPACITOR_URL=$KAPACITOR_URL
EOF
env_file grafana.env <<EOF
# Grafana's settings: its read-only InfluxDB user's password (the
# provisioned data source reads it), the admin's password (applied at
# Grafana's first start only: later, grafana cli admin reset-admin-password),
# our provisioning, loopback only, no sign-up, no usage reports.
GRAFANA_INFLUX_PASSWORD=$grafana_pw
GF_SECURITY_ADMIN_PASSWORD=$grafana_admin_pw
GF_PATHS_PROVISIONING=$CONFDIR/grafana/provisioning
GF_USERS_ALLOW_SIGN_UP=false
GF_ANALYTICS_REPORTING_ENABLED=false
GF_SERVER_HTTP_ADDR=127.0.0.1
EOF

# systemd drop-ins: the vendor units, our configuration.
dropin() { # unit, then the content on stdin
	install -d -m 0755 "$(d "$SYSTEMDDIR")/$1.service.d"
	cat >"$(d "$SYSTEMDDIR")/$1.service.d/oasis-mission-control.conf"
}
dropin telegraf <<EOF
# Oasis Mission Control (make install): the vendor's Telegraf with our
# configuration. It joins $MONITOR_GROUP to use the node's socket; its
# signing counters live in $STATEDIR.
[Service]
SupplementaryGroups=$MONITOR_GROUP
StateDirectory=$statedir_name
StateDirectoryMode=0700
EnvironmentFile=$CONFDIR/telegraf.env
# A disk buffer torn by a full disk would stop Telegraf at every start:
# repaired (or moved aside) first, and said in the journal.
ExecStartPre=$BINDIR/oasis-telegraf -check-buffer \${OASIS_BUFFER_DIR}
ExecStart=
ExecStart=$TELEGRAF_BIN --strict-env-handling --config $CONFDIR/telegraf.conf --config $CONFDIR/telegraf-native.conf --config-directory $CONFDIR/oasis/nodes \$TELEGRAF_OPTS
EOF
dropin kapacitor <<EOF
# Oasis Mission Control (make install): the vendor's Kapacitor with our
# configuration and alerts; logs go to the journal.
[Service]
EnvironmentFile=$CONFDIR/kapacitor.env
ExecStart=
ExecStart=/usr/bin/kapacitord -config $CONFDIR/kapacitor.conf \$KAPACITOR_OPTS
EOF
dropin influxdb <<EOF
# Oasis Mission Control (make install): authentication on, loopback only.
[Service]
EnvironmentFile=$CONFDIR/influxdb.env
EOF
dropin grafana-server <<EOF
# Oasis Mission Control (make install): our data source and dashboards.
[Service]
EnvironmentFile=$CONFDIR/grafana.env
EOF

# The chat bot: our own unit, installed but not enabled (docs/bot.md).
cat >"$(d "$SYSTEMDDIR")/oasis-bot.service" <<EOF
# Oasis Mission Control (make install): the chat bot. Off until you fill
# in $CONFDIR/bot.env and run systemctl enable --now oasis-bot.
[Unit]
Description=Oasis Mission Control chat bot (Telegram commands and digest)
After=network-online.target influxdb.service kapacitor.service
Wants=network-online.target

[Service]
EnvironmentFile=$CONFDIR/bot.env
ExecStart=$BINDIR/oasis-bot
Restart=on-failure
RestartSec=10
# A wrong setting (exit 2) stays wrong until bot.env is edited: no restart loop.
RestartPreventExitStatus=2
# It reads InfluxDB and calls Kapacitor's and Telegram's APIs; nothing more.
DynamicUser=yes
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
CapabilityBoundingSet=
SystemCallFilter=@system-service
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
ProtectKernelModules=yes

[Install]
WantedBy=multi-user.target
EOF

echo "installed: $(d "$BINDIR")/oasis-telegraf, $(d "$BINDIR")/oasis-bot, $(d "$CONFDIR"), drop-ins in $(d "$SYSTEMDDIR"); next: docs/install-native.md" >&2
