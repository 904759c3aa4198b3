# Runs inside the guest: the dio_reads workload alone, under pintrace record
# (pins paired in the kernel where it can), under record --all-events (every
# grab and release, as before pairing), and alone again (to see drift), on
# a null_blk device completing at once; then cost_ops' workloads under record.
insmod /modules/configfs.ko 2>/dev/null
insmod /modules/null_blk.ko nr_devices=1 irqmode=0 gb=1 > /out/null_blk.log 2>&1
echo 1 > /proc/sys/kernel/bpf_stats_enabled
dio_reads /dev/nullb0 $SECONDS_EACH > /out/base1.json
pintrace record -o /tmp/bench.trace -- dio_reads /dev/nullb0 $SECONDS_EACH > /out/traced.json 2> /out/record.err
pintrace record --all-events -o /tmp/all.trace -- dio_reads /dev/nullb0 $SECONDS_EACH > /out/traced_all.json 2> /out/record_all.err
dio_reads /dev/nullb0 $SECONDS_EACH > /out/base2.json
pintrace report --format json /tmp/bench.trace > /out/report.json 2>/dev/null
pintrace report --format json /tmp/all.trace > /out/report_all.json 2>/dev/null
ls -l /tmp/bench.trace > /out/trace_size.txt
ls -l /tmp/all.trace > /out/trace_size_all.txt
rm -f /tmp/all.trace
# The cost model's other workloads, each under record: events and program
# runs per operation (run.sh divides).
for op in uring_fixed vmsplice thp; do
	pintrace record -o /tmp/$op.trace -- cost_ops $op /dev/nullb0 $SECONDS_EACH > /out/$op.json 2> /out/$op.err
	pintrace report --format json /tmp/$op.trace > /out/$op.report.json 2>/dev/null
done
