#!/bin/sh
# inside the 6.1 guest: one pure post-copy migration on loopback, by hand
L=/work/lazy
cd /tmp && rm -rf src dst && mkdir -p src dst
unshare --pid --fork setsid $L/selftests/lib/victim --anon 4096 --nothp --procpid </dev/null >/tmp/v.log 2>&1 3>/tmp/v.out &
for i in $(seq 50); do grep -q ready /tmp/v.out 2>/dev/null && break; sleep 0.1; done
cat /tmp/v.out | tail -2
VP=$(head -1 /tmp/v.out | awk '{print $2}')
echo "victim (ns view) $VP; host pids: $(pgrep -f lib/victim | tr '\n' ' ')"
ROOT=$(pgrep -f "lib/victim" | sort -n | tail -1)
$L/user/memsplice checkpoint -t $ROOT -D /tmp/src --tracker soft-dirty --max-passes ${PASSES:-0} --lazy-pages --address 127.0.0.1 --port 27100 >/tmp/ms.out 2>&1 &
MS=$!
for i in $(seq 300); do grep -q "may start" /tmp/ms.out && break; grep -q "memsplice:" /tmp/ms.out && break; sleep 0.1; done
cat /tmp/ms.out
criu lazy-pages --page-server --address 127.0.0.1 --port 27100 -D /tmp/src/final -W /tmp/dst -o lazy.log -v4 &
LP=$!
sleep 1
criu restore --lazy-pages -D /tmp/src/final -W /tmp/dst -o restore.log -v4 -d
echo "restore: $?"
wait $MS; echo "memsplice: $?"; cat /tmp/ms.out
wait $LP; echo "lazy-pages: $?"
NEW=$(pgrep -f "lib/victim" | sort -n | tail -1)
echo "restored: $NEW"; grep State /proc/$NEW/status
kill -USR1 $NEW; sleep 1; tail -3 /tmp/v.out
tail -5 /tmp/dst/lazy.log; grep -i "error" /tmp/dst/restore.log | head -5; grep -i error /tmp/src/final/dump.log | head
