# Runs inside the guest (tests/vm/boot.sh): record the scenario, report it.
pintrace record -o /out/trace.pt -- scenario_iouring_pin > /out/scenario.json 2> /out/record.err
echo $? > /out/record.rc
pintrace report --format json /out/trace.pt > /out/report.json 2> /out/report.err
echo $? > /out/report.rc
pintrace report /out/trace.pt > /out/report.txt 2>&1
