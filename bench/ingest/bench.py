"""Side-by-side load benchmark (issue 7). For each size it writes a random
fvecs file, then for each loader creates a fresh lucene HNSW index
(replicas 0, 1 shard), runs the loader as a child process, reads its CPU
time and peak RSS from wait4(), refreshes and checks the count. Prints
docs/s, loader CPU seconds per 10k documents, peak RSS and the ratios.

Loaders, on equal terms: the same batch size (--batch documents per bulk
request, default 1000), the same number of concurrent requests (--senders,
default knnbridge's choice for the cluster), the same index settings (the
index is created with replicas 0 and the default refresh interval; for a
lucene field knnbridge's --tune auto changes nothing else). knnbridge load
runs as a user would run it (checks, checkpoints, settings saved and
restored, final refresh and count check); opensearch-py
helpers.parallel_bulk (thread_count = senders, chunk_size = batch); a
minimal opensearch-go loop (no retries or checks). Each run's wall time
ends after a refresh of its index, so every loader pays for making its
documents searchable, as knnbridge's own final refresh does.

Fairness on a shared machine: an untimed warm-up load first (JIT of the
node), then --repeat rounds with the loaders in rotating order; ratios are
computed per round (knnbridge against the peers that ran next to it) and
their median reported, plus best-of-N and all-round totals. The 1-minute
load average is printed with every run.

A second part loads 100k and 1M vectors into a stub bulk endpoint
(bench/ingest/stub) to compare knnbridge's peak RSS across input sizes
without waiting hours for the real cluster to index 1M vectors."""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request


def req(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=600) as resp:
        return json.loads(resp.read() or b"{}")


def fresh_index(url, name, dim):
    try:
        req(f"{url}/{name}", "DELETE")
    except Exception:
        pass
    req(f"{url}/{name}", "PUT", {
        "settings": {"index.knn": True, "number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {"properties": {"vector": {"type": "knn_vector", "dimension": dim,
                                               "method": {"name": "hnsw", "engine": "lucene", "space_type": "l2"}}}}})


def run(cmd, env=None):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = p.communicate()  # communicate() reaps via waitpid; use wait4 below instead
    wall = time.monotonic() - t0
    return p, out, err, wall


def run4(cmd, env=None):
    # A knnbridge checkpoint left by an earlier benchmark run would make it
    # resume-aware (base count, settings): every run starts clean.
    if "--checkpoint" in cmd:
        try:
            os.remove(cmd[cmd.index("--checkpoint") + 1])
        except FileNotFoundError:
            pass
    t0 = time.monotonic()
    with open(os.devnull, "wb") as dn:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=dn, env=env)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024, "rc": p.returncode, "out": out.decode()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200"))
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--dims", default="128,384")
    ap.add_argument("--senders", type=int, default=0, help="0: knnbridge's default for this cluster")
    ap.add_argument("--bin", required=True, help="dir with knnbridge, minimal, gen, stub binaries")
    ap.add_argument("--python", default=sys.executable, help="python with opensearch-py")
    ap.add_argument("--work", required=True)
    ap.add_argument("--rss-n", default="100000,1000000")
    ap.add_argument("--skip-cluster", action="store_true")
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--loaders", default="knnbridge,go-minimal,opensearch-py", help="cluster part: which loaders (knnbridge always)")
    ap.add_argument("--stub-peers", default="", help="also load this many vectors (e.g. 100000) with all three loaders "
                    "into the stub: loader-side docs/s and CPU with the cluster taken out")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds per size; medians are reported")
    ap.add_argument("--batch", type=int, default=1000, help="documents per bulk request, every loader")
    a = ap.parse_args()
    b = lambda x: os.path.join(a.bin, x)
    here = os.path.dirname(os.path.abspath(__file__))
    senders = a.senders
    if senders == 0:
        nodes = req(f"{a.url}/_cat/nodes?format=json&h=node.role")
        senders = min(max(2 * sum("d" in n["node.role"] for n in nodes), 2), 32)
    results = []
    loadavg = lambda: float(open("/proc/loadavg").read().split()[0])
    med = lambda xs: sorted(xs)[len(xs) // 2] if len(xs) % 2 else sum(sorted(xs)[len(xs) // 2 - 1:len(xs) // 2 + 1]) / 2
    if not a.skip_cluster:
        # Warm-up, untimed: the node's JIT and caches, so that round 0's
        # first loader is not the only one to pay for them.
        dim0 = int(a.dims.split(",")[0])
        f0 = os.path.join(a.work, f"v{a.n}x{dim0}.fvecs")
        if not os.path.exists(f0):
            subprocess.check_call([b("gen"), "-n", str(a.n), "-d", str(dim0), "-o", f0])
        fresh_index(a.url, "bench-ingest-warmup", dim0)
        subprocess.check_call([b("minimal"), "-url", a.url, "-index", "bench-ingest-warmup", "-file", f0,
                               "-senders", str(senders), "-batch", str(a.batch), "-limit", "20000"], stdout=subprocess.DEVNULL)
        req(f"{a.url}/bench-ingest-warmup", "DELETE")
        for dim in [int(x) for x in a.dims.split(",")]:
            f = os.path.join(a.work, f"v{a.n}x{dim}.fvecs")
            if not os.path.exists(f):
                subprocess.check_call([b("gen"), "-n", str(a.n), "-d", str(dim), "-o", f])
            loaders = {
                "knnbridge": lambda idx: [b("knnbridge"), "load", f, "--index", idx, "--opensearch-url", a.url,
                                          "--senders", str(senders), "--batch-docs", str(a.batch), "--progress", "off", "-o", "json",
                                          "--checkpoint", os.path.join(a.work, idx + ".ck")],
                "go-minimal": lambda idx: [b("minimal"), "-url", a.url, "-index", idx, "-file", f, "-senders", str(senders),
                                            "-batch", str(a.batch)],
                "opensearch-py": lambda idx: [a.python, os.path.join(here, "peer_py.py"), "--url", a.url, "--index", idx,
                                              "--file", f, "--senders", str(senders), "--chunk", str(a.batch)],
            }
            row = {"dim": dim, "n": a.n}
            names = [x for x in loaders if x == "knnbridge" or x in a.loaders.split(",")]
            runs = {name: [] for name in names}
            # Interleave the loaders (rotating the order each round) so that
            # load from other processes on a shared machine hits all of them
            # alike; report the median round.
            for rnd in range(a.repeat):
                order = names[rnd % len(names):] + names[:rnd % len(names)]
                for name in order:
                    idx = f"bench-ingest-{name}-{dim}"
                    fresh_index(a.url, idx, dim)
                    la = loadavg()
                    t0 = time.monotonic()
                    r = run4(loaders[name](idx))
                    req(f"{a.url}/{idx}/_refresh", "POST")
                    r["wall"] = time.monotonic() - t0  # includes the refresh, for every loader
                    r["load1"] = la
                    count = req(f"{a.url}/{idx}/_count")["count"]
                    r["count"] = count
                    r["docs_per_s"] = a.n / r["wall"]
                    r["cpu_per_10k"] = r["cpu"] / a.n * 10000
                    del r["out"]
                    runs[name].append(r)
                    print(f"dim {dim} round {rnd} {name:14s} wall {r['wall']:7.1f}s  {r['docs_per_s']:7.0f} docs/s  "
                          f"cpu {r['cpu']:6.2f}s ({r['cpu_per_10k']:.3f} s/10k docs)  rss {r['rss_mb']:6.1f} MB  "
                          f"count {count} rc {r['rc']}  load {la:.2f}", flush=True)
                    if count != a.n:
                        print(f"  WARNING: {name} left {count} documents of {a.n}", flush=True)
                    try:
                        req(f"{a.url}/{idx}", "DELETE")
                    except Exception:
                        pass
            for name in names:
                row[name] = {"runs": runs[name], "docs_per_s": med([r["docs_per_s"] for r in runs[name]]),
                             "cpu_per_10k": med([r["cpu_per_10k"] for r in runs[name]]),
                             "rss_mb": med([r["rss_mb"] for r in runs[name]])}
            for name in names:
                # Throughput over all rounds (total docs / total wall time):
                # with the order rotated, each loader ran once in each slot,
                # which evens out a noisy, shared machine better than a median.
                row[name]["docs_per_s_total"] = a.n * a.repeat / sum(r["wall"] for r in runs[name])
            kt = row["knnbridge"]["docs_per_s_total"]
            for peer in names[1:]:
                print(f"dim {dim} all rounds: knnbridge/{peer} {kt / row[peer]['docs_per_s_total']:.2f}x", flush=True)
            # Per-round ratios: knnbridge against the peers it ran next to,
            # under the same background load.
            for peer in names[1:]:
                rs = [runs[peer][i]["wall"] / runs["knnbridge"][i]["wall"] for i in range(a.repeat)]
                row[f"ratio_vs_{peer}"] = {"per_round": rs, "median": med(rs)}
                print(f"dim {dim} knnbridge/{peer} per round: " + " ".join(f"{x:.2f}x" for x in rs) +
                      f"; median {med(rs):.2f}x; best-of-{a.repeat} "
                      f"{min(r['wall'] for r in runs[peer]) / min(r['wall'] for r in runs['knnbridge']):.2f}x", flush=True)
            lo = [r["load1"] for n in names for r in runs[n]]
            print(f"dim {dim} load average (1 min) at run starts: min {min(lo):.2f} median {med(lo):.2f} max {max(lo):.2f}", flush=True)
            if len(names) < 3:
                results.append(row)
                continue
            print(f"dim {dim} all rounds: docs/s knnbridge {kt:.0f}, go-minimal {row['go-minimal']['docs_per_s_total']:.0f}, "
                  f"opensearch-py {row['opensearch-py']['docs_per_s_total']:.0f}; ratios knnbridge/opensearch-py "
                  f"{kt / row['opensearch-py']['docs_per_s_total']:.2f}x, knnbridge/go-minimal "
                  f"{kt / row['go-minimal']['docs_per_s_total']:.2f}x", flush=True)
            k = row["knnbridge"]["docs_per_s"]
            print(f"dim {dim} medians of {a.repeat}: docs/s knnbridge {k:.0f}, go-minimal {row['go-minimal']['docs_per_s']:.0f}, "
                  f"opensearch-py {row['opensearch-py']['docs_per_s']:.0f}; ratios knnbridge/opensearch-py "
                  f"{k / row['opensearch-py']['docs_per_s']:.2f}x, knnbridge/go-minimal {k / row['go-minimal']['docs_per_s']:.2f}x; "
                  f"loader CPU s per 10k docs: knnbridge {row['knnbridge']['cpu_per_10k']:.3f}, go-minimal "
                  f"{row['go-minimal']['cpu_per_10k']:.3f}, opensearch-py {row['opensearch-py']['cpu_per_10k']:.3f}", flush=True)
            results.append(row)
    # Peak RSS vs input size, against the stub endpoint.
    stub = subprocess.Popen([b("stub"), "-addr", "127.0.0.1:9299", "-dim", "128"])
    time.sleep(0.5)
    rss = {}
    peers = {}
    try:
        if a.stub_peers:
            # The loaders alone: the stub acknowledges every item at once, so
            # docs/s here is what each loader can push, not what a cluster
            # can index; same batch size and senders as above.
            n = int(a.stub_peers)
            f = os.path.join(a.work, f"v{n}x128.fvecs")
            if not os.path.exists(f):
                subprocess.check_call([b("gen"), "-n", str(n), "-d", "128", "-o", f])
            su = "http://127.0.0.1:9299"
            loaders = {
                "knnbridge": lambda r: [b("knnbridge"), "load", f, "--index", "idx", "--opensearch-url", su, "--senders", str(senders),
                                        "--batch-docs", str(a.batch), "--progress", "off", "--tune", "off", "-o", "json",
                                        "--checkpoint", os.path.join(a.work, f"stubpeer-{r}.ck")],
                "go-minimal": lambda r: [b("minimal"), "-url", su, "-index", "idx", "-file", f, "-senders", str(senders), "-batch", str(a.batch)],
                "opensearch-py": lambda r: [a.python, os.path.join(here, "peer_py.py"), "--url", su, "--index", "idx", "--file", f,
                                            "--senders", str(senders), "--chunk", str(a.batch)],
            }
            names = list(loaders)
            runs = {x: [] for x in names}
            for rnd in range(a.repeat):
                for name in names[rnd % 3:] + names[:rnd % 3]:
                    la = loadavg()
                    r = run4(loaders[name](rnd))
                    r["load1"] = la
                    del r["out"]
                    runs[name].append(r)
                    print(f"stub peers round {rnd} {name:14s} wall {r['wall']:6.2f}s {n / r['wall']:8.0f} docs/s  cpu {r['cpu']:6.2f}s "
                          f"({r['cpu'] / n * 10000:.3f} s/10k docs)  rss {r['rss_mb']:6.1f} MB  rc {r['rc']}  load {la:.2f}", flush=True)
            for peer in ("go-minimal", "opensearch-py"):
                rs = [runs[peer][i]["wall"] / runs["knnbridge"][i]["wall"] for i in range(a.repeat)]
                cs = [runs[peer][i]["cpu"] / runs["knnbridge"][i]["cpu"] for i in range(a.repeat)]
                print(f"stub peers: knnbridge/{peer} docs/s per round " + " ".join(f"{x:.2f}x" for x in rs) +
                      f", median {med(rs):.2f}x; {peer} uses {med(cs):.2f}x knnbridge's CPU (median)", flush=True)
            peers = runs
        if a.skip_rss:
            ns = []
        else:
            ns = [int(x) for x in a.rss_n.split(",")]
        for n in ns:
            f = os.path.join(a.work, f"v{n}x128.fvecs")
            if not os.path.exists(f):
                subprocess.check_call([b("gen"), "-n", str(n), "-d", "128", "-o", f])
        runs = {n: [] for n in ns}
        for rnd in range(a.repeat):  # interleaved, medians reported
            for n in ns:
                f = os.path.join(a.work, f"v{n}x128.fvecs")
                la = loadavg()
                r = run4([b("knnbridge"), "load", f, "--index", "idx", "--opensearch-url", "http://127.0.0.1:9299",
                          "--senders", "2", "--progress", "off", "--tune", "off", "-o", "json",
                          "--checkpoint", os.path.join(a.work, f"stub{n}-{rnd}.ck")])
                runs[n].append(r)
                print(f"stub round {rnd} n={n:8d}: rss {r['rss_mb']:.1f} MB, cpu {r['cpu']:.2f}s "
                      f"({r['cpu'] / n * 10000:.3f} s/10k docs), {n / r['wall']:.0f} docs/s, rc {r['rc']}, load {la:.2f}", flush=True)
        for n in ns:
            rss[n] = {"rss_mb": med([r["rss_mb"] for r in runs[n]]), "runs": runs[n]}
        if ns:
            print(f"peak RSS (median of {a.repeat}) n={ns[-1]}: {rss[ns[-1]]['rss_mb']:.1f} MB, n={ns[0]}: "
                  f"{rss[ns[0]]['rss_mb']:.1f} MB, ratio {rss[ns[-1]]['rss_mb'] / rss[ns[0]]['rss_mb']:.3f}x", flush=True)
    finally:
        stub.kill()
    with open(os.path.join(a.work, "results.json"), "w") as fh:
        json.dump({"cluster": results, "rss": {str(k): v for k, v in rss.items()}, "stub_peers": peers}, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
