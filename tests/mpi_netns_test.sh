#!/usr/bin/env bash
# Two ranks on two "hosts": network namespaces joined by a veth pair, so the
# all-reduce crosses a real TCP stack (Open MPI's tcp transport, no shared
# memory) instead of loopback. mpirun starts in the first namespace and reaches
# the second through an rsh agent that is `ip netns exec` instead of ssh.
#   mpi_netns_test.sh MPI_PARITY_BINARY DATA_DIR MPIRUN [MPIRUN_ARGS...]
# Exit 77 (ctest: skipped), with the reason, where namespaces cannot be made
# (not root, no iproute2, a sandbox that forbids it).
set -u
parity=$1 data=$(cd "$2" && pwd) mpirun=$3
shift 3
skip() { echo "skip mpi_netns: $*"; exit 77; }
command -v ip > /dev/null || skip "no 'ip' command (iproute2)"
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
tag=$(( $$ % 200 + 20 ))
a=gg_mpi_a_$$ b=gg_mpi_b_$$ net=10.213.$tag
ip_a=$net.1 ip_b=$net.2
tmp=$(mktemp -d)
cleanup() { ip netns del "$a" 2>/dev/null; ip netns del "$b" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ip netns add "$a" 2> "$tmp/err" || skip "'ip netns add' is not permitted here: $(cat "$tmp/err")"
ip netns add "$b" || skip "'ip netns add' failed for the second namespace"
set -e
ip link add "gga$tag" type veth peer name "ggb$tag"
ip link set "gga$tag" netns "$a"
ip link set "ggb$tag" netns "$b"
ip -n "$a" addr add "$ip_a/24" dev "gga$tag"
ip -n "$b" addr add "$ip_b/24" dev "ggb$tag"
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set "gga$tag" up
ip -n "$b" link set "ggb$tag" up
set +e

# The rsh agent: "HOST COMMAND..." runs COMMAND in HOST's namespace.
cat > "$tmp/netns_rsh" <<AGENT
#!/bin/sh
host=\$1; shift
case \$host in $ip_a) ns=$a ;; $ip_b) ns=$b ;; *) echo "netns_rsh: unknown host \$host" >&2; exit 1 ;; esac
exec ip netns exec \$ns sh -c "\$*"
AGENT
chmod +x "$tmp/netns_rsh"

bytes() { ip netns exec "$a" cat "/sys/class/net/gga$tag/statistics/tx_bytes"; }
before=$(bytes)
echo "hosts: $ip_a (namespace $a) and $ip_b (namespace $b), joined by veth gga$tag/ggb$tag"
ip netns exec "$a" timeout 300 "$mpirun" "$@" --mca plm_rsh_agent "$tmp/netns_rsh" --host "$ip_a:1,$ip_b:1" \
  --mca btl tcp,self --mca btl_tcp_if_include "$net.0/24" --mca oob_tcp_if_include "$net.0/24" \
  -np 2 "$parity" "$data" 20 64 2>&1 | tee "$tmp/out"
status=${PIPESTATUS[0]}
sent=$(( $(bytes) - before ))
echo "sent over the veth pair from $ip_a: $sent bytes"
grep -q "mpi_parity: PASS" "$tmp/out" || { echo "FAIL: the parity run across namespaces did not pass (exit $status)"; exit 1; }
# 20 all-reduces of 2.3 MiB: a ring sends about half of each from each side.
[ "$sent" -gt 20000000 ] || { echo "FAIL: only $sent bytes crossed the veth pair; the all-reduce did not go over TCP"; exit 1; }
echo "mpi_netns: PASS"
