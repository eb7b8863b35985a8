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
# Both nodes write under $folder, as machines that share a network file system.
start() {  # NODE_RANK NAMESPACE INTERFACE RUN [worker flags]
  node=$1 namespace=$2 interface=$3 run=$4
  shift 4
  ip netns exec "$namespace" env GLOO_SOCKET_IFNAME="$interface" "$launcher" --nnodes 2 --node_rank "$node" \
    --nproc_per_node 1 --master_addr 10.231.0.1 --master_port 29511 \
    "$worker" --ddp_timeout 60 --blocks 2 --out "$folder/$run/out" --output_dir "$folder/$run/output" "$@" \
    >"$folder/$run.node$node.log" 2>&1
}
run_on_both() {  # RUN [worker flags]
  start 0 "$node0" "$veth0" "$@" &
  pid0=$!
  start 1 "$node1" "$veth1" "$@"
  status1=$?
  wait $pid0
  status0=$?
  cat "$folder/$1.node0.log" "$folder/$1.node1.log"
  if [ $status0 -ne 0 ] || [ $status1 -ne 0 ]; then
    echo "FAIL ($1): node 0 exited with $status0, node 1 with $status1"
    exit 1
  fi
  for rank in 0 1; do
    grep -q "rank $rank of 2: eval_loss" "$folder/$1.node$rank.log" ||
      { echo "FAIL ($1): rank $rank did not finish as rank $rank of 2"; exit 1; }
  done
}

run_on_both ddp --trainer ddp
# The replicas, trained on different machines, end equal.
sum0=$(sed -n 's/.*rank 0 of 2: .*weights_sum //p' "$folder/ddp.node0.log")
sum1=$(sed -n 's/.*rank 1 of 2: .*weights_sum //p' "$folder/ddp.node1.log")
if [ -z "$sum0" ] || [ "$sum0" != "$sum1" ]; then echo "FAIL: the ranks' weights differ ($sum0, $sum1)"; exit 1; fi

# FSDP full_shard across the machines, saving checkpoints: each rank writes its optimizer
# shard itself; the weights end as DDP's.
run_on_both fsdp --trainer fsdp --fsdp full_shard --save_strategy steps --save_steps 4
checkpoint=$(ls -d "$folder"/fsdp/output/checkpoint-* | sort -t- -k2 -n | tail -1)
for file in optimizer_shard_0.pt optimizer_shard_1.pt model.safetensors; do
  grep -q "\"$file\"" "$checkpoint/checkpoint_manifest.json" ||
    { echo "FAIL: $checkpoint/checkpoint_manifest.json does not list $file"; exit 1; }
done
if ls -d "$folder"/fsdp/output/tmp-* >/dev/null 2>&1; then echo "FAIL: a temporary folder was left behind"; exit 1; fi
python3 - "$folder/ddp/out/final_model-rank0/model.safetensors" "$folder/fsdp/out/final_model-rank0/model.safetensors" <<'EOF' || exit 1
import sys
from safetensors.numpy import load_file
ddp, fsdp = load_file(sys.argv[1]), load_file(sys.argv[2])
assert ddp.keys() == fsdp.keys(), (sorted(ddp), sorted(fsdp))
worst = max(float(abs(ddp[name] - fsdp[name]).max() / max(abs(ddp[name]).max(), 1e-12)) for name in ddp)
print(f"FSDP's weights against DDP's, largest relative difference: {worst:.3g}")
if worst > 1e-6:
    sys.exit("FAIL: FSDP across two machines did not end with DDP's weights")
EOF
echo "two machines: DDP and FSDP ranks trained over the veth pair; DDP's replicas ended equal, FSDP's" \
     "checkpoints hold both ranks' optimizer shards and its weights are DDP's"
