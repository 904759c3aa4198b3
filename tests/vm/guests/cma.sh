# Runs inside the guest (tests/vm/boot.sh) on a kernel with CONFIG_CMA,
# booted with hugetlb_cma=1:1G hugetlb_cma_only=1 (tests/vm/run.sh): the
# CMA scenarios, each under its own recording, results in /out/SCENARIO/,
# and snapshot --cma on the area while pages inside it are held.
# A block device whose I/O stays in flight for 3 s (cma_odirect).
insmod /modules/configfs.ko 2>/dev/null
insmod /modules/null_blk.ko nr_devices=1 irqmode=2 completion_nsec=3000000000 gb=1 > /out/null_blk.log 2>&1
mount -t cgroup2 cgroup2 /sys/fs/cgroup

# The kernel's view of the area before anything ran.
mkdir -p /out/cma_area
for f in /sys/kernel/mm/cma/*/*; do echo "$f $(cat $f)"; done > /out/cma_area/sysfs.txt 2>&1
cat /proc/zoneinfo > /out/cma_area/zoneinfo.txt
cat /proc/cmdline > /out/cma_area/cmdline.txt

for s in $SCENARIOS; do
    d=/out/$s
    mkdir -p $d /sys/fs/cgroup/$s
    echo $$ > /sys/fs/cgroup/$s/cgroup.procs
    t0=$(date +%s)
    pintrace record -o $d/trace.pt -- scenario_$s > $d/truth.json 2> $d/record.err
    echo $? > $d/record.rc
    echo $(( $(date +%s) - t0 )) > $d/seconds
    pintrace report --format json $d/trace.pt > $d/report.json 2> $d/report.err
    echo $? > $d/report.rc
    pintrace report $d/trace.pt > $d/report.txt 2>&1
    pintrace report --format markdown $d/trace.pt > $d/report.md 2>&1
done
echo $$ > /sys/fs/cgroup/cgroup.procs

# snapshot --cma: the area's range and counters, and the pages a process
# holds inside it (scenario_cma_vmsplice, lingering after its failure).
d=/out/cma_snapshot
mkdir -p $d
SCENARIO_LINGER_MS=120000 scenario_cma_vmsplice > $d/truth.json 2> $d/scenario.err &
scenario_pid=$!
for i in $(seq 900); do grep -q '"cma"' $d/truth.json 2>/dev/null && break; sleep 0.2; done
pintrace snapshot --cma hugetlb1 --format json > $d/snapshot.json 2> $d/snapshot.err
echo $? > $d/snapshot.rc
# The BPF reader on its own, for its error if --cma could not use it.
pintrace snapshot --pfn 0x100000+16 --source bpf --no-owners --format json > $d/bpf.json 2> $d/bpf.err
pintrace snapshot --cma hugetlb1 > $d/snapshot.txt 2>&1
pintrace snapshot --cma nosucharea > $d/unknown.txt 2>&1
echo $? > $d/unknown.rc
kill $scenario_pid 2>/dev/null
wait $scenario_pid 2>/dev/null
dmesg > /out/dmesg.txt
