#!/bin/sh
# Two machines simulated on one: two network namespaces joined by a veth pair, one rank in
# each, meeting at node 0's veth address (the --nnodes 2 --node_rank path of torchtrain-launch).
# Made and removed here; exits 77 (CTest's SKIP_RETURN_CODE) where namespaces are not allowed.
#
#   two_machines.sh LAUNCHER WORKER FOLDER
set -u
launcher=$1 worker=$2 folder=$3
id=$$
node0=tt_node0_$id node1=tt_node1_$id
veth0=ttv0_$id veth1=ttv1_$id  # interface names have at most 15 characters
cleanup() {
  ip netns del "$node0" 2>/dev/null
  ip netns del "$node1" 2>/dev/null  # deleting a namespace deletes its end of the pair, and so the pair
}
trap cleanup EXIT INT TERM

if ! ip netns add "$node0" 2>"$folder.skip"; then
  echo "SKIP: this machine does not allow network namespaces here ($(cat "$folder.skip")); run as root" \
       "with CAP_SYS_ADMIN (e.g. a container started with --cap-add SYS_ADMIN) to run this test"
  exit 77
fi
set -e
ip netns add "$node1"
ip link add "$veth0" type veth peer name "$veth1"
ip link set "$veth0" netns "$node0"
ip link set "$veth1" netns "$node1"
ip -n "$node0" addr add 10.231.0.1/24 dev "$veth0"
ip -n "$node1" addr add 10.231.0.2/24 dev "$veth1"
for node in "$node0" "$node1"; do ip -n "$node" link set lo up; done
ip -n "$node0" link set "$veth0" up
ip -n "$node1" link set "$veth1" up
set +e

rm -rf "$folder" && mkdir -p "$folder"
# Node 1 cannot see node 0's loopback: the store and Gloo meet over the veth only
# (GLOO_SOCKET_IFNAME: the host name would resolve to an address outside the namespace).
start() {  # NODE_RANK NAMESPACE INTERFACE
  ip netns exec "$2" env GLOO_SOCKET_IFNAME="$3" "$launcher" --nnodes 2 --node_rank "$1" --nproc_per_node 1 \
    --master_addr 10.231.0.1 --master_port 29511 \
    "$worker" --trainer ddp --ddp_timeout 60 --out "$folder/out" --output_dir "$folder/output" \
    >"$folder/node$1.log" 2>&1
}
start 0 "$node0" "$veth0" &
pid0=$!
start 1 "$node1" "$veth1"
status1=$?
wait $pid0
status0=$?
cat "$folder/node0.log" "$folder/node1.log"
if [ $status0 -ne 0 ] || [ $status1 -ne 0 ]; then
  echo "FAIL: node 0 exited with $status0, node 1 with $status1"
  exit 1
fi
for rank in 0 1; do
  grep -q "rank $rank of 2: eval_loss" "$folder/node$rank.log" || { echo "FAIL: rank $rank did not finish as rank $rank of 2"; exit 1; }
done
# The replicas, trained on different machines, end equal.
sum0=$(sed -n 's/.*rank 0 of 2: .*weights_sum //p' "$folder/node0.log")
sum1=$(sed -n 's/.*rank 1 of 2: .*weights_sum //p' "$folder/node1.log")
if [ -z "$sum0" ] || [ "$sum0" != "$sum1" ]; then echo "FAIL: the ranks' weights differ ($sum0, $sum1)"; exit 1; fi
echo "two machines: both ranks trained over the veth pair and ended with equal weights"
