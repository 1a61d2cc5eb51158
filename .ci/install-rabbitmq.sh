#!/usr/bin/env bash
# Installs Debian's rabbitmq-server for the RabbitMQ event source tests,
# unless it is there. The tests start their own private node (loopback
# ports, data in a temporary directory) and wait for it to accept AMQP
# connections, so the system service need not run. Idempotent; retries
# the download, which is the step that can fail on a fresh machine.
set -euo pipefail
bin=/usr/lib/rabbitmq/bin/rabbitmq-server
[ -x "$bin" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-rabbitmq: run as root (sudo) to install rabbitmq-server" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Package scripts must not start the system broker (it would take port 5672).
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
fi
for attempt in 1 2 3; do
  if apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null; then
    break
  fi
  echo "install-rabbitmq: attempt $attempt failed, retrying" >&2
  sleep $((attempt * 10))
done
[ -n "$made_policy" ] && rm -f "$policy"
[ -x "$bin" ] || { echo "install-rabbitmq: $bin missing after install" >&2; exit 1; }
