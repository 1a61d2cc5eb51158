#!/usr/bin/env bash
# A one-node Kubernetes cluster on this machine, for ferry's end-to-end suite
# (TestKubernetesE2E in this folder). Linux, root, cgroup v1 or v2.
#
#   bash deploy/e2e/cluster.sh build   # install packages, build and cache the binaries
#   bash deploy/e2e/cluster.sh up      # build, then start the cluster; prints the env file
#   bash deploy/e2e/cluster.sh down    # stop it and undo everything below
#
# `up` tears the cluster down again if any step fails; `down` is idempotent
# and also cleans up after an `up` that was killed.
#
# What it builds (from the Go module proxy, cached in $FERRY_E2E_CACHE,
# default ~/.cache/ferry-e2e, keyed on the versions and this folder's sources):
#   - cluster/: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
#     kubelet, kube-proxy and kubectl in one binary (Kubernetes v1.34.4);
#   - coredns/: CoreDNS v1.12.1 with the plugins the Corefile below uses;
#   - pause/ and caller/ (this repository's module): the pod sandbox's pause
#     program and a client for the sidecar example, in one image built with
#     go-containerregistry (mkimage/), imported as registry.k8s.io/pause:3.10.1.
#
# What it changes on this machine (all undone by `down` but the packages,
# br_netfilter and the component logs):
#   - apt packages: containerd, runc, containernetworking-plugins, iptables,
#     conntrack, openssl, curl, iproute2, procps (installed if missing; left
#     installed); the br_netfilter kernel module if not loaded (left loaded);
#   - processes: its own containerd (socket under /run/ferry-e2e), etcd on
#     127.0.0.1:12379-12381, kube-apiserver on 127.0.0.1:6443,
#     controller-manager and scheduler on 127.0.0.1 (10257, 10259), kubelet
#     (10250 on 10.244.0.1, healthz 127.0.0.1:10248), kube-proxy (127.0.0.1),
#     CoreDNS on 10.244.0.1:53, and the pods' containers and shims;
#   - files: /var/lib/ferry-e2e (state: etcd, PKI, kubelet, containerd, CNI),
#     /run/ferry-e2e, /var/log/ferry-e2e (component logs, kept after `down`
#     for diagnosis), kubelet's pod logs /var/log/pods/ferry-e2e-* and
#     /var/log/containers/*_ferry-e2e-*;
#   - mounts: containerd's and kubelet's under the two state folders, and the
#     pods' network namespaces /var/run/netns/cni-*;
#   - network: a bridge ferrye2e0 with 10.244.0.1/24 (pods get 10.244.0.0/24;
#     Services 10.96.0.0/16); kube-proxy's and kubelet's KUBE-* iptables chains
#     (filter, nat, mangle; IPv4 and IPv6) and the rules jumping to them;
#   - sysctls (values saved at `up`, restored at `down`): net.ipv4.ip_forward,
#     net.bridge.bridge-nf-call-iptables, -ip6tables (set to 1); kubelet's
#     vm.overcommit_memory, vm.panic_on_oom, kernel.panic, kernel.panic_on_oops,
#     kernel.keys.root_maxkeys, kernel.keys.root_maxbytes;
#   - cgroups: kubelet's kubepods (and containerd's) hierarchies under
#     /sys/fs/cgroup, removed once empty.
# Nothing listens beyond this machine's loopback and the bridge.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
K8S_VERSION=v1.34.4
COREDNS_VERSION=$(awk '$1=="require" && $2=="github.com/coredns/coredns" {print $3}' "$HERE/coredns/go.mod")
PAUSE_IMAGE=registry.k8s.io/pause:3.10.1
CACHE=${FERRY_E2E_CACHE:-$HOME/.cache/ferry-e2e}
STATE=/var/lib/ferry-e2e
RUN=/run/ferry-e2e
LOGS=/var/log/ferry-e2e
BRIDGE=ferrye2e0
NODE_IP=10.244.0.1
POD_SUBNET=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
NODE=ferry-e2e
CONTAINERD_SOCK=$RUN/containerd/containerd.sock
SYSCTLS="net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"

log() { echo "cluster.sh: $(date -u +%H:%M:%S) $*" >&2; }
die() { log "$*"; exit 1; }

# waitfor SECONDS WHAT CMD...: runs CMD until it succeeds or SECONDS pass.
waitfor() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "gave up after waiting for $what (logs in $LOGS)"
		sleep 1
	done
}

install_packages() {
	local missing=()
	command -v containerd >/dev/null || missing+=(containerd)
	command -v runc >/dev/null || missing+=(runc)
	[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
	command -v iptables >/dev/null || missing+=(iptables)
	command -v conntrack >/dev/null || missing+=(conntrack)
	command -v openssl >/dev/null || missing+=(openssl)
	command -v curl >/dev/null || missing+=(curl)
	command -v ip >/dev/null || missing+=(iproute2)
	command -v sysctl >/dev/null || missing+=(procps)
	((${#missing[@]} == 0)) && return
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# srckey DIR: a short hash of a module's sources, so the cache follows edits.
srckey() { cat "$1"/go.mod "$1"/go.sum "$1"/*.go | sha256sum | cut -c1-12; }

CLUSTER_BIN=$CACHE/kubernetes-$K8S_VERSION-$(srckey "$HERE/cluster")/cluster
COREDNS_BIN=$CACHE/coredns-$COREDNS_VERSION-$(srckey "$HERE/coredns")/coredns

# gobuild DIR OUT [LDFLAGS]: a static build of the module in DIR, timed.
gobuild() {
	local start=$SECONDS
	mkdir -p "$(dirname "$2")"
	log "building $2 (cold: Kubernetes takes ~700 CPU-seconds)"
	(cd "$1" && CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "-s -w ${3:-}" -o "$2.tmp" .)
	mv "$2.tmp" "$2"
	log "built $2 in $((SECONDS - start)) s"
}

build() {
	install_packages
	local v=k8s.io/component-base/version
	[ -x "$CLUSTER_BIN" ] || gobuild "$HERE/cluster" "$CLUSTER_BIN" \
		"-X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=34 -X $v.gitTreeState=clean"
	[ -x "$COREDNS_BIN" ] || gobuild "$HERE/coredns" "$COREDNS_BIN"
}

# pidof_ours NAME: the pid recorded when this script started NAME, if alive.
pid_of() {
	local f=$RUN/pids/$1
	[ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

# start NAME CMD...: runs CMD in its own session, logging to $LOGS/NAME.log.
start() {
	local name=$1
	shift
	setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN/pids/$name"
}

# stop NAME: SIGTERM, then SIGKILL after 10 s, the process start recorded.
stop() {
	local pid
	pid=$(pid_of "$1") || return 0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$RUN/pids/$1"
}

pki() {
	local d=$STATE/pki
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ferry-e2e-ca \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver \
		-keyout "$d/apiserver.key" -out "$d/apiserver.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,IP:%s,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\n' "$NODE_IP" >"$d/san.ext"
	openssl x509 -req -in "$d/apiserver.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/san.ext" -out "$d/apiserver.crt" 2>/dev/null
	# The API server's client certificate towards kubelet (logs, exec).
	openssl req -newkey rsa:2048 -nodes -subj /O=system:masters/CN=kube-apiserver-kubelet-client \
		-keyout "$d/kubelet-client.key" -out "$d/kubelet-client.csr" 2>/dev/null
	openssl x509 -req -in "$d/kubelet-client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -out "$d/kubelet-client.crt" 2>/dev/null
	openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
	openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
	local token
	token=$(openssl rand -hex 24)
	echo "$token,admin,admin,system:masters" >"$d/tokens.csv"
	chmod 600 "$d"/*.key "$d/tokens.csv"
	cat >"$STATE/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "https://127.0.0.1:6443", certificate-authority: "$d/ca.crt"}
users:
- name: admin
  user: {token: "$token"}
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
EOF
	chmod 600 "$STATE/kubeconfig"
}

network() {
	mkdir -p "$RUN/netns-before"
	ls /var/run/netns 2>/dev/null >"$RUN/netns-before/list" || true
	# Bridged pod-to-Service traffic goes through kube-proxy's rules only
	# with br_netfilter (often built in, as on this machine class).
	[ -d /proc/sys/net/bridge ] || modprobe br_netfilter
	if [ ! -f "$STATE/sysctl.saved" ]; then
		for s in $SYSCTLS; do
			v=$(sysctl -n "$s" 2>/dev/null) && echo "$s=$v"
		done >"$STATE/sysctl.saved"
	fi
	sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
	ip link add "$BRIDGE" type bridge
	ip addr add "$NODE_IP/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	mkdir -p "$STATE/cni/net.d"
	cat >"$STATE/cni/net.d/10-ferry-e2e.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "ferry-e2e",
  "plugins": [{
    "type": "bridge",
    "bridge": "$BRIDGE",
    "isGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "dataDir": "$STATE/cni/ipam",
      "ranges": [[{"subnet": "$POD_SUBNET", "gateway": "$NODE_IP"}]],
      "routes": [{"dst": "0.0.0.0/0"}]
    }
  }]
}
EOF
}

containerd_up() {
	mkdir -p "$STATE/containerd" "$RUN/containerd"
	cat >"$STATE/containerd.toml" <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$RUN/containerd/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$RUN/containerd/ttrpc.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # The sandbox this runs in lacks CAP_SYS_RESOURCE: without this runc fails
  # every pod (can't get final child's PID from pipe: EOF).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"
EOF
	start containerd containerd --config "$STATE/containerd.toml"
	waitfor 60 containerd ctr --address "$CONTAINERD_SOCK" version
}

# The pause image: kubelet's sandbox image cannot be pulled here, so it is
# built from pause/ (and the sidecar example's caller/) with mkimage/.
images() {
	local d=$STATE/images
	mkdir -p "$d"
	(cd "$ROOT" &&
		CGO_ENABLED=0 go build -trimpath -o "$d/pause" ./deploy/e2e/pause &&
		CGO_ENABLED=0 go build -trimpath -o "$d/caller" ./deploy/e2e/caller &&
		go run ./deploy/e2e/mkimage -o "$d/pause.tar" -tag "$PAUSE_IMAGE" -tag ferry-e2e/caller:1 \
			-entrypoint /pause "$d/pause" "$d/caller")
	ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$d/pause.tar" >/dev/null
}

control_plane() {
	local p=$STATE/pki kc=$STATE/kubeconfig
	start etcd "$CLUSTER_BIN" etcd --name e2e --data-dir "$STATE/etcd" \
		--listen-client-urls http://127.0.0.1:12379 --advertise-client-urls http://127.0.0.1:12379 \
		--listen-peer-urls http://127.0.0.1:12380 --initial-advertise-peer-urls http://127.0.0.1:12380 \
		--initial-cluster e2e=http://127.0.0.1:12380 --listen-metrics-urls http://127.0.0.1:12381 \
		--unsafe-no-fsync
	waitfor 60 etcd curl -sf http://127.0.0.1:12381/health
	start kube-apiserver "$CLUSTER_BIN" kube-apiserver \
		--etcd-servers http://127.0.0.1:12379 --bind-address 127.0.0.1 --secure-port 6443 \
		--advertise-address "$NODE_IP" --service-cluster-ip-range "$SERVICE_CIDR" \
		--tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" --client-ca-file "$p/ca.crt" \
		--token-auth-file "$p/tokens.csv" --authorization-mode Node,RBAC \
		--service-account-issuer https://kubernetes.default.svc --service-account-key-file "$p/sa.pub" \
		--service-account-signing-key-file "$p/sa.key" --kubelet-preferred-address-types InternalIP \
		--kubelet-client-certificate "$p/kubelet-client.crt" --kubelet-client-key "$p/kubelet-client.key" \
		--cert-dir "$STATE/apiserver-certs"
	waitfor 120 kube-apiserver kubectl get --raw /readyz
	start kube-controller-manager "$CLUSTER_BIN" kube-controller-manager --kubeconfig "$kc" \
		--authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
		--bind-address 127.0.0.1 --leader-elect=false --service-account-private-key-file "$p/sa.key" \
		--root-ca-file "$p/ca.crt" --cert-dir "$STATE/controller-manager-certs"
	start kube-scheduler "$CLUSTER_BIN" kube-scheduler --kubeconfig "$kc" \
		--authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
		--bind-address 127.0.0.1 --leader-elect=false
}

node() {
	local kc=$STATE/kubeconfig
	cat >"$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
address: $NODE_IP
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
failSwapOn: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $STATE/pki/ca.crt}
authorization: {mode: Webhook}
clusterDNS: [$NODE_IP]
clusterDomain: cluster.local
resolvConf: $STATE/resolv.conf
# Test disks fill up: no evictions or image GC on their account.
evictionHard: {memory.available: "100Mi", nodefs.available: "0%", imagefs.available: "0%", nodefs.inodesFree: "0%"}
imageGCHighThresholdPercent: 100
serializeImagePulls: false
EOF
	# Pods resolve cluster names only: nothing outside the machine.
	echo "options ndots:5" >"$STATE/resolv.conf"
	start kubelet "$CLUSTER_BIN" kubelet --kubeconfig "$kc" --config "$STATE/kubelet.yaml" \
		--root-dir "$STATE/kubelet" --hostname-override "$NODE" --node-ip "$NODE_IP"
	cat >"$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $kc}
hostnameOverride: $NODE
mode: iptables
clusterCIDR: 10.244.0.0/16
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
iptables: {localhostNodePorts: false}
# 0: leave the machine's conntrack settings alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
	start kube-proxy "$CLUSTER_BIN" kube-proxy --config "$STATE/kube-proxy.yaml"
	cat >"$STATE/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $kc e2e
        pods insecure
    }
    cache 30
}
EOF
	start coredns "$COREDNS_BIN" -conf "$STATE/Corefile"
	waitfor 120 "node $NODE Ready" kubectl wait --for=condition=Ready "node/$NODE" --timeout=5s
	waitfor 60 CoreDNS curl -sf http://127.0.0.1:18181/ready
	waitfor 60 "the default service account" kubectl get serviceaccount default
}

kubectl() { "$CLUSTER_BIN" kubectl --kubeconfig "$STATE/kubeconfig" "$@"; }

write_env() {
	cat >"$RUN/env" <<EOF
CLUSTER_BIN=$CLUSTER_BIN
KUBECONFIG=$STATE/kubeconfig
CONTAINERD_ADDRESS=$CONTAINERD_SOCK
CONTAINERD_NAMESPACE=k8s.io
LOGS=$LOGS
NODE=$NODE
EOF
	cat "$RUN/env"
}

up() {
	build
	# Leftovers of an earlier run (killed before its `down`) go first.
	if [ -d "$RUN" ] || [ -d "$STATE" ]; then (down); fi
	trap 'rc=$?; if ((rc != 0)); then log "up failed ($rc): tearing down"; down; fi' EXIT
	local start=$SECONDS
	mkdir -p "$STATE" "$RUN/pids" "$LOGS"
	pki
	network
	containerd_up
	images
	control_plane
	node
	trap - EXIT
	log "cluster up in $((SECONDS - start)) s"
	write_env
}

# iptables_cleanup: removes the KUBE-* chains and every rule jumping to
# them, in each table, for IPv4 and IPv6.
iptables_cleanup() {
	local ipt t rule chain
	for ipt in iptables ip6tables; do
		command -v "$ipt" >/dev/null || continue
		for t in filter nat mangle; do
			"$ipt-save" -t "$t" 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' | sed 's/^-A /-D /' |
				while read -r rule; do eval "$ipt -w -t $t $rule" || true; done
			for chain in $("$ipt-save" -t "$t" 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do
				"$ipt" -w -t "$t" -F "$chain" 2>/dev/null || true
			done
			for chain in $("$ipt-save" -t "$t" 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do
				"$ipt" -w -t "$t" -X "$chain" 2>/dev/null || true
			done
		done
	done
}

# rmcgroups DIR: kills what is left in DIR's cgroup tree, then removes it,
# deepest first.
rmcgroups() {
	[ -d "$1" ] || return 0
	local procs
	for procs in $(find "$1" -name cgroup.procs); do
		xargs -r kill -9 <"$procs" 2>/dev/null || true
	done
	for _ in $(seq 20); do
		find "$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
		[ -d "$1" ] || return 0
		sleep 0.5
	done
	log "could not remove cgroup $1"
}

down() {
	# Best effort from here on: every step runs whatever failed before it.
	set +e
	trap - EXIT
	log "tearing down"
	local name pid p m
	for name in kube-proxy kubelet coredns; do stop "$name"; done
	# The pods' processes: their cgroups (kubelet's kubepods) hold them.
	for p in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods.slice /sys/fs/cgroup/kubepods.slice; do
		rmcgroups "$p"
	done
	# containerd's shims for this containerd, found by its socket in their
	# command line.
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "-address $CONTAINERD_SOCK"; then
			kill -9 "${p#/proc/}" 2>/dev/null || true
		fi
	done
	for name in containerd kube-scheduler kube-controller-manager kube-apiserver etcd; do stop "$name"; done
	[ -x "$CLUSTER_BIN" ] && "$CLUSTER_BIN" kube-proxy --cleanup >/dev/null 2>&1 || true
	iptables_cleanup
	# Mounts under the state folders, deepest first; then the pods' network
	# namespaces that were not there at `up`.
	for m in $(awk '{print $5}' /proc/self/mountinfo | grep -E "^($STATE|$RUN)/" | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	if [ -d /var/run/netns ]; then
		for m in /var/run/netns/cni-*; do
			[ -e "$m" ] || continue
			grep -qxF "$(basename "$m")" "$RUN/netns-before/list" 2>/dev/null && continue
			umount -l "$m" 2>/dev/null || true
			rm -f "$m"
		done
	fi
	ip link del "$BRIDGE" 2>/dev/null || true
	if [ -f "$STATE/sysctl.saved" ]; then
		while IFS= read -r s; do sysctl -qw "$s" || true; done <"$STATE/sysctl.saved"
	fi
	rm -rf /var/log/pods/ferry-e2e-* /var/log/containers/*_ferry-e2e-*
	rm -rf "$STATE" "$RUN"
	log "torn down"
}

case "${1:-}" in
build) build ;;
up) up ;;
down) down ;;
*) die "usage: $0 build|up|down" ;;
esac
