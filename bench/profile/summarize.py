#!/usr/bin/env python3
"""Summarise a bench/profile/run.sh output folder: counters (mean over the run), the CPU samples of the busy threads
by layer (first matching frame from the leaf up), and the top exclusive and inclusive frames."""
import csv, collections, json, re, sys

out = sys.argv[1]
top_n = int(sys.argv[2]) if len(sys.argv) > 2 else 25

bench = json.load(open(f"{out}/bench.json"))
print(f"bench: mode={bench['mode']} per_second={bench['per_second']:,.0f} requests={bench['requests']} "
      f"failed={bench['failed']} violations={bench.get('violations')}")

# Counters: mean of every 1 s reading (csv columns: Timestamp, Provider, Counter Name, Counter Type, Mean/Increment).
vals = collections.defaultdict(list)
for row in csv.reader(open(f"{out}/counters.csv")):
    if len(row) < 5 or row[0] == "Timestamp": continue
    try: vals[row[2]].append(float(row[4]))
    except ValueError: pass
print("\ncounters (mean per 1 s reading over the trace):")
for name in sorted(vals):
    v = vals[name]
    if any(x != 0 for x in v): print(f"  {name:<75} {sum(v)/len(v):>16,.2f}")

# Layers: the first frame from the leaf up that matches decides. Order matters: Core before the actors that call it.
layers = [
    ("journal/SQLite", r"Sqlite|SQLitePCL|Akka\.Persistence\.Sql|linq2db|LinqToDB|Akka\.Streams|System\.Data\."),
    ("Core (NAT decision, allocator, conntrack)", r"^ActorNat\.Core\."),
    ("protobuf (de)serialization", r"Google\.Protobuf"),
    ("Ask / temp actors / futures", r"FutureActorRef|Akka\.Actor\.Futures|TemporaryContainer|PromiseActorRef|\.Ask"),
    ("Akka sharding", r"Akka\.Cluster\.Sharding"),
    ("Akka persistence (eventsourced)", r"Akka\.Persistence\."),
    ("Akka remoting/cluster", r"Akka\.Remote|Akka\.Cluster\.|DotNetty"),
    ("Akka actor creation", r"ActorCell\.(Create|NewActor|Init)|Props\.|ActorOf|ChildrenContainer|ActorPath"),
    ("Akka mailbox/dispatch", r"^Akka\."),
    ("ActorNat.Cluster (actors, conversion)", r"^ActorNat\.Cluster\."),
    ("gRPC / Kestrel / HTTP2", r"Grpc\.|Microsoft\.AspNetCore|System\.IO\.Pipelines|System\.Net\."),
    ("ActorNat.Node (ingress mapping, metrics)", r"^ActorNat\.Node\."),
    ("GC / allocation helpers", r"System\.GC\.|JIT_New|AllocateUninitialized|memset|memmove"),
    ("thread pool / tasks", r"System\.Threading|ThreadPool|WorkerThread|AsyncTaskMethodBuilder|TaskScheduler"),
    ("collections / BCL", r"^System\."),
]
layers = [(n, re.compile(p)) for n, p in layers]

sp = json.load(open(f"{out}/trace.speedscope.json"))
frames = [f["name"] for f in sp["shared"]["frames"]]
# dotnet-sampled-thread-time samples every thread ~100 times a second, running or not; the leaf is a pseudo-frame,
# CPU_TIME (in managed code) or UNMANAGED_CODE_TIME (in native code: a wait, or SQLite, or a socket call). A sample
# counts as work when its thread runs managed code that is not a wait, or native code called from a working frame.
waits = re.compile(r"Monitor\.Wait|WaitHandle\.Wait|WaitOneNoCheck|LowLevelLifoSemaphore|LowLevelSpinWaiter|Thread\.Sleep|"
                   r"Interop\+Sys\.Read\(|WaitForSocketEvents|PollGC|RunFinalizers|GetGCMemoryInfo|DynamicResolver\.Finalize|"
                   r"WorkerThreadStart\(\)$|TimerQueue\.TimerThread|CounterGroup\.PollForValues|AggregationManager\.CollectWorker|"
                   r"Heartbeat\.TimerLoop|SocketAsyncEngine\.EventLoop|^\?!\?$")
diag = re.compile(r"System\.Diagnostics\.Tracing\.|CounterGroup|EventPipe|DiagnosticServer")
native_work = re.compile(r"sqlite3_|Sqlite|SendMessage|ReceiveMessage|Interop\+Sys\.(Send|Recv|Write)")
excl = collections.Counter(); incl = collections.Counter(); by_layer = collections.Counter()
total = 0; waited = 0
for prof in sp["profiles"]:
    cur = []; last = None
    for e in prof["events"]:
        if last is not None and cur and e["at"] > last:
            names = [frames[i] for i in cur]; w = e["at"] - last
            leaf, body = names[-1], names[:-1]
            # the profiler's own threads (EventSource commands, counter timers) are not the node's work
            work = bool(body) and not any(diag.search(n) for n in body[-8:]) and not waits.search(body[-1]) and (leaf == "CPU_TIME" or native_work.search(body[-1]))
            if not work: waited += w
            else:
                total += w
                excl[body[-1]] += w
                for n in set(body): incl[n] += w
                # The leaf-most frame of a named component decides (a lock or a collection is charged to its caller);
                # only a stack of nothing but runtime frames is charged to the runtime's own layers.
                hit = next((ln for n in reversed(body) for ln, p in layers[:-3] if p.search(n)), None) \
                    or next((ln for n in reversed(body) for ln, p in layers[-3:] if p.search(n)), "other")
                by_layer[hit] += w
        last = e["at"]
        if e["type"] == "O": cur.append(e["frame"])
        elif cur: cur.pop()

def short(n): return (n[:150] + "…") if len(n) > 151 else n
print(f"\nthread samples: {total/1000:,.1f} s working, {waited/1000:,.1f} s waiting (all threads)")
print("\nworking samples by layer (leaf-most frame of a named component; runtime-only stacks last):")
for n, w in by_layer.most_common(): print(f"  {100*w/total:5.1f}%  {n}")
print(f"\ntop {top_n} exclusive:")
for n, w in excl.most_common(top_n): print(f"  {100*w/total:5.1f}%  {short(n)}")
print(f"\ntop {top_n} inclusive (ActorNat, Akka, gRPC, SQLite, protobuf frames):")
interesting = re.compile(r"ActorNat|Akka|Grpc|Sqlite|AspNetCore|Protobuf|linq2db")
for n, w in [x for x in incl.most_common(3000) if interesting.search(x[0])][:top_n]:
    print(f"  {100*w/total:5.1f}%  {short(n)}")
