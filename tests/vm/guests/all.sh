# Runs inside the guest (tests/vm/boot.sh): every scenario under its own
# recording, results in /out/SCENARIO/.
# A block device whose I/O stays in flight for 2 s (odirect_inflight).
insmod /modules/configfs.ko 2>/dev/null
insmod /modules/null_blk.ko nr_devices=1 irqmode=2 completion_nsec=2000000000 gb=1 > /out/null_blk.log 2>&1

# cgroup v2 as systemd hosts mount it (without it /proc/PID/cgroup has no
# "0::" line), each scenario in a group of its own: its processes' cgroup
# path in the trace is then /SCENARIO.
mount -t cgroup2 cgroup2 /sys/fs/cgroup

mkdir -p /out/doctor
pintrace doctor --format json > /out/doctor/doctor.json 2> /out/doctor/doctor.err
echo $? > /out/doctor/doctor.rc
for s in $SCENARIOS; do
    d=/out/$s
    mkdir -p $d /sys/fs/cgroup/$s
    echo $$ > /sys/fs/cgroup/$s/cgroup.procs
    pintrace record -o $d/trace.pt -- scenario_$s > $d/truth.json 2> $d/record.err
    echo $? > $d/record.rc
    pintrace report --format json $d/trace.pt > $d/report.json 2> $d/report.err
    echo $? > $d/report.rc
    pintrace report $d/trace.pt > $d/report.txt 2>&1
done

# free_stress: short-lived processes take FOLL_GET references and exit.
# Which pages the kernel freed is recorded apart from pintrace: every
# kmem:mm_page_free, in an ftrace instance of its own on pintrace's clock
# (mono), reduced to "SECONDS PFN ORDER" lines for check_frees.py. Its
# O_DIRECT reads need a null_blk device completing at once (configfs).
d=/out/free_stress
mkdir -p $d /sys/fs/cgroup/free_stress
echo $$ > /sys/fs/cgroup/free_stress/cgroup.procs
mount -t configfs configfs /sys/kernel/config 2>/dev/null
t=/sys/kernel/tracing/instances/pt_frees
mkdir $t
echo mono > $t/trace_clock
echo 32768 > $t/buffer_size_kb
echo 1 > $t/events/kmem/mm_page_free/enable
pintrace record -o $d/trace.pt -- scenario_free_stress > $d/truth.json 2> $d/record.err
echo $? > $d/record.rc
echo 0 > $t/events/kmem/mm_page_free/enable
cat $t/per_cpu/cpu*/stats > $d/ftrace_stats.txt
sed -n 's/^.* \([0-9][0-9]*\.[0-9]*\): mm_page_free: .*pfn=\([0-9a-fx]*\) order=\([0-9]*\).*/\1 \2 \3/p' $t/trace > $d/kernel_frees.txt
rmdir $t
pintrace report $d/trace.pt > $d/report.txt 2>&1

# One capture program refused by the kernel (made to refuse it: no room for
# its verifier log): the rest must load and explain the failure as before.
d=/out/refused_program
mkdir -p $d /sys/fs/cgroup/iouring_pin
echo $$ > /sys/fs/cgroup/iouring_pin/cgroup.procs
PINTRACE_TEST_REFUSE_PROGRAM=tp_mm_page_free pintrace record -o $d/trace.pt -- scenario_iouring_pin \
    > $d/truth.json 2> $d/record.err
echo $? > $d/record.rc
pintrace report --format json $d/trace.pt > $d/report.json 2> $d/report.err
echo $? > $d/report.rc

# A recording killed (SIGKILL) while processes grab and release pages: its
# file must still give every whole record it holds (check_killed.py).
d=/out/killed_recording
mkdir -p $d /sys/fs/cgroup/free_stress
echo $$ > /sys/fs/cgroup/free_stress/cgroup.procs
pintrace record -o $d/trace.pt 2> $d/record.err &
rec=$!
# Loading is slow under emulation: capture is on once the header is written.
for i in $(seq 600); do [ -s $d/trace.pt ] || ! kill -0 $rec 2>/dev/null && break; sleep 0.1; done
# Rounds of free_stress until the kill, so it lands while pages are being
# grabbed and released (and records written).
stop=$d/stop
(while [ ! -e $stop ]; do scenario_free_stress > $d/truth.json 2> $d/scenario.err; done) &
load=$!
# The kill comes once a block of records is on disk and a second more has
# passed: the recorder's own start (kernel symbols) takes seconds here.
header=$(wc -c < $d/trace.pt)
for i in $(seq 600); do [ "$(wc -c < $d/trace.pt)" -gt "$header" ] && break; sleep 0.1; done
sleep 1
kill -9 $rec
wait $rec
echo $? > $d/record.rc
touch $stop
wait $load
pintrace report --allow-incomplete --format json $d/trace.pt > $d/report.json 2> $d/report.err
echo $? > $d/report.rc
pintrace report $d/trace.pt > $d/strict.txt 2>&1
echo $? > $d/strict.rc

# The facts the attach plan read of this kernel (tests/unit/kernels/).
pintrace doctor --kernel-facts > /out/doctor/kernel.facts 2> /out/doctor/kernel.facts.err

# pintrace top, live and in batch mode, watching an io_uring process that
# keeps its long-term pins for 4 s.
d=/out/top_live
mkdir -p $d
pintrace top --batch --format json --interval 0.5 --iterations 24 > $d/top.jsonl 2> $d/top.err &
top_pid=$!
# Its first line says it is attached (loading BPF is slow under emulation).
for i in $(seq 300); do [ -s $d/top.jsonl ] || ! kill -0 $top_pid 2>/dev/null && break; sleep 0.2; done
SCENARIO_LINGER_MS=4000 scenario_iouring_pin > $d/truth.json 2> $d/scenario.err
wait $top_pid
echo $? > $d/top.rc

# record --snapshot: an io_uring process pinned its pages and waits; only
# then does the recording start, and its command makes the process try to
# move them. The failure must go to that process, inferred from the
# snapshot, since no trace saw the pin.
d=/out/snapshot_record
mkdir -p $d
SCENARIO_MOVE_ON_SIGNAL=1 scenario_iouring_pin > $d/truth.json 2> $d/scenario.err &
scenario_pid=$!
for i in $(seq 600); do grep -q waiting $d/scenario.err 2>/dev/null && break; sleep 0.2; done
pintrace record --snapshot -o $d/trace.pt -- sh -c \
    "kill -USR1 $scenario_pid; for i in \$(seq 300); do grep -q pfns_after $d/truth.json && break; sleep 0.2; done" \
    2> $d/record.err
echo $? > $d/record.rc
pintrace report --format json $d/trace.pt > $d/report.json 2> $d/report.err
echo $? > $d/report.rc
pintrace report $d/trace.pt > $d/report.txt 2>&1
wait $scenario_pid

# pintrace snapshot and explain --pfn, started only after an io_uring
# process pinned its pages and went to sleep (pins older than any trace).
# SCENARIO_THP: it also pins a whole 2 MiB transparent huge page (a large
# folio's pin count, not the 1024 bias).
d=/out/snapshot_live
mkdir -p $d
SCENARIO_THP=1 SCENARIO_LINGER_MS=120000 scenario_iouring_pin > $d/truth.json 2> $d/scenario.err &
scenario_pid=$!
for i in $(seq 600); do grep -q pfns_after $d/truth.json 2>/dev/null && break; sleep 0.2; done
pfns=$(sed -n 's/.*"expect": \[\(.*\)\], "not_blamed".*/\1/p' $d/truth.json | grep -o '"pfn": [0-9]*' | sed 's/"pfn": //' | tr '\n' ',' | sed 's/,$//')
first=${pfns%%,*}
pintrace snapshot --pfn "$first" --format json > $d/snapshot.json 2> $d/snapshot.err
echo $? > $d/snapshot.rc
pintrace snapshot --pfn "$first" --no-owners --source bpf --format json > $d/bias.json 2> $d/bias.err
echo $? > $d/bias.rc
pintrace explain --pfn "$pfns" > $d/explain.txt 2> $d/explain.err
echo $? > $d/explain.rc
# Owner discovery from the pages (the BPF reverse map) for every pinned
# page at once: the range from the lowest to the highest of them.
lo=$(echo "$pfns" | tr ',' '\n' | sort -n | head -n 1)
hi=$(echo "$pfns" | tr ',' '\n' | sort -n | tail -n 1)
pintrace snapshot --pfn "$lo-$hi" --format json > $d/rmap.json 2> $d/rmap.err
echo $? > $d/rmap.rc
thp=$(sed -n 's/.*"thp_head": \([0-9]*\).*/\1/p' $d/truth.json)
if [ -n "$thp" ]; then
    pintrace snapshot --pfn "$thp+512" --no-owners --source bpf --format json > $d/thp.json 2> $d/thp.err
    echo $? > $d/thp.rc
    # From inside the folio: the run starts on tail pages whose head it must find.
    pintrace snapshot --pfn "$((thp + 100))+16" --no-owners --source bpf --format json > $d/thp_tail.json 2> $d/thp_tail.err
    echo $? > $d/thp_tail.rc
fi
# 256 MiB of node 0, for the pageblock migratetypes.
pintrace snapshot --pfn 0x10000+0x10000 --no-owners --source bpf --format json > $d/region.json 2> $d/region.err
echo $? > $d/region.rc
kill $scenario_pid 2>/dev/null
wait $scenario_pid 2>/dev/null
